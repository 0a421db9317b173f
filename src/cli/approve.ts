// `otter approve ID` / `otter deny ID`: change the approvals file under its lock, so it
// works while the daemon runs (it holds otter.lock, not this one) and loses no write.
import { UsageError } from "../base/errors.ts";
import type { Config } from "../config/config.ts";
import { updateApprovals } from "../policy/approvalfile.ts";
import { approve, deny, pendingIds } from "../policy/approvals.ts";
import type { ApprovalState } from "../policy/policy.ts";

const known = (s: ApprovalState, id: string) => id in s.pendingSince || s.approved.includes(id) || s.denied.includes(id);

/** Approve or deny a known id; throws UsageError (exit 2) naming the pending ids for an unknown one. */
export async function decideApproval(config: Config, command: "approve" | "deny", id: string): Promise<string> {
  let unknown: ApprovalState | undefined;
  await updateApprovals(config.service.state_dir, (s) => {
    if (!known(s, id)) {
      unknown = s;
      return s;
    }
    return command === "approve" ? approve(s, id) : deny(s, id);
  });
  if (unknown) {
    const pending = pendingIds(unknown);
    throw new UsageError(`no update waits for approval ${id}; pending: ${pending.length ? pending.join(", ") : "none"}`);
  }
  return command === "approve" ? `approved ${id}; the daemon installs it at its next decision` : `denied ${id}; it is never installed unless approved`;
}
