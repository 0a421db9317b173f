// Gathers what the pure policy needs from disk and the device (board, running version,
// approvals, history) and asks it: one call for the agent's check and for `otter plan`.
// Writes nothing: the agent journals the running image it returns.
import { HookPostponed, MAX_LOCAL_FAULTS, countsAsLocalFault, describe, isLocalFault } from "../base/errors.ts";
import type { Config } from "../config/config.ts";
import type { Offer } from "../sources/source.ts";
import { readApprovals } from "../policy/approvalfile.ts";
import { resolveBoard, type Board } from "../policy/board.ts";
import { decide, meet, sighted, type Decision, type RunningImage } from "../policy/policy.ts";
import { faultsOf, readHistory } from "./history.ts";
import { runHook, type HookResult } from "./hooks.ts";
import type { HistoryEntry } from "./journal.ts";

/**
 * Offers history says not to take again: one that failed or was rejected here, and a
 * forced one that already succeeded (force skips the "newer" rule, so it would reinstall
 * at every check) unless the running image's workload died or its ready check failed.
 * A failure of the device or the moment (a local fault: a cancel, an interrupted install,
 * an internal error) says nothing about the update, so it blocks nothing, until
 * MAX_LOCAL_FAULTS jobs of the offer ended in such a fault (a cancel or a better offer
 * not counted): a bug that always throws would otherwise fetch it at every check.
 */
export function blockedByHistory(history: HistoryEntry[], offers: Offer[], running: RunningImage): Record<string, string> {
  const blocked: Record<string, string> = {};
  const reflash = running.workloadDied || running.readyFailed;
  for (const o of offers) {
    const h = [...history].reverse().find((e) => e.id === o.id);
    if (!h) continue;
    const faults = faultsOf(h);
    if (countsAsLocalFault(h.code) && faults >= MAX_LOCAL_FAULTS) {
      blocked[o.id] = `${faults} jobs of it ended here in a fault of the device or the moment, the last ${h.status} (${h.state}, ${h.code}) on ${h.endedAt}; after ${MAX_LOCAL_FAULTS} such an update counts as tried`;
      continue;
    }
    if (isLocalFault(h.code)) continue;
    if (h.status !== "SUCCEEDED" || (o.force && !reflash)) blocked[o.id] = `${h.status} (${h.state}) on ${h.endedAt}`;
  }
  return blocked;
}

/**
 * The running version, when the journal does not know it (the first run on a device, a
 * journal moved aside) and offers of a channel or an unforced AWS job need it: the version hook asked once, with
 * Upparat's argv and no job (0 0 ""). A hook that does not answer throws a retry-later
 * error: the policy decides nothing until it knows what runs. An empty answer means nothing
 * is installed yet.
 */
async function sight(config: Config, running: RunningImage, offers: Offer[]): Promise<RunningImage> {
  const path = config.hooks.version;
  // Channel offers need it for every rule; an unforced AWS job for anti-rollback.
  if (running.version !== undefined || !path || !offers.some((o) => o.channel !== undefined || (o.source === "aws" && !o.force))) return running;
  const h = config.hooks;
  const undecided = "the policy decides nothing until it knows the running version";
  let res: HookResult;
  try {
    res = await runHook({ name: "version", path, args: ["0", "0", ""], timeoutMs: h.version_timeout * 1000, killGraceMs: h.kill_grace * 1000 });
  } catch (err) {
    throw new HookPostponed(`${describe(err)}; ${undecided}`);
  }
  if (res.exitCode !== 0) {
    const why = res.timedOut ? `ran past its ${h.version_timeout} s timeout` : res.exitCode === null ? `was killed by ${res.signal ?? "?"}` : `exited ${res.exitCode}`;
    const tail = res.lastLines.length ? `: ${res.lastLines.slice(-3).join(" | ")}` : "";
    throw new HookPostponed(`version hook ${why}${tail}; ${undecided}`);
  }
  return sighted(running, res.result);
}

/** The policy's decision on `offers` now, the board it was made for and the running image as the policy counted it (to journal). */
export async function decideNow(config: Config, running: RunningImage, offers: Offer[], now: number): Promise<{ decision: Decision; board: Board; running: RunningImage }> {
  const dir = config.service.state_dir;
  const board = await resolveBoard(config.policy);
  const seen = meet(await sight(config, running, offers), offers, now, config.policy);
  const failed = blockedByHistory(readHistory(dir), offers, seen);
  const decision = decide({ running: seen, offers, now, policy: config.policy, board: board.board, approvals: readApprovals(dir), failed });
  return { decision, board, running: seen };
}
