// Pure changes to the approval state, for `otter approve/deny` and the agent. The caller
// applies one of these through updateApprovals (src/policy/approvalfile.ts), a read-modify-write
// under a short lock, so an approve from the CLI and the daemon never lose each other's write.
import type { ApprovalState, Decision } from "./policy.ts";

/** Approved and denied ids kept, newest last, so the journal stays small. */
export const MAX_IDS = 200;

const keep = (ids: string[], id: string) => [...ids.filter((x) => x !== id), id].slice(-MAX_IDS);

export const EMPTY_APPROVALS: ApprovalState = { approved: [], denied: [], pendingSince: {} };

/** An approval id as `otter approve` takes it: 8 lowercase hex. */
export function isApprovalId(text: string): boolean {
  return /^[0-9a-f]{8}$/.test(text);
}

/** Approve an id: it installs when the policy next allows it. A later deny wins again. */
export function approve(state: ApprovalState, id: string): ApprovalState {
  return { ...state, approved: keep(state.approved, id), denied: state.denied.filter((d) => d !== id) };
}

/** Deny an id: never installed, never auto-approved, until approved by hand. */
export function deny(state: ApprovalState, id: string): ApprovalState {
  return { ...state, denied: keep(state.denied, id), approved: state.approved.filter((a) => a !== id) };
}

/**
 * After a decision: a newly pending id starts its auto-approval clock at `now` (the newest
 * MAX_IDS are kept); one pending since a time in the future (the wall clock stepped back)
 * restarts it now, so a step back delays auto-approval by at most auto_approve_after.
 */
export function notePending(state: ApprovalState, decision: Decision, now: number): ApprovalState {
  if (decision.kind !== "approval") return state;
  const since = state.pendingSince[decision.approvalId];
  if (since !== undefined && since > now) return { ...state, pendingSince: { ...state.pendingSince, [decision.approvalId]: now } };
  if (since !== undefined) return state;
  const kept = Object.entries(state.pendingSince).sort((a, b) => a[1] - b[1]).slice(-(MAX_IDS - 1));
  return { ...state, pendingSince: { ...Object.fromEntries(kept), [decision.approvalId]: now } };
}

/** The ids still pending: noted, and neither approved nor denied (for `otter status`). */
export function pendingIds(state: ApprovalState): string[] {
  return Object.keys(state.pendingSince).filter((id) => !state.approved.includes(id) && !state.denied.includes(id));
}
