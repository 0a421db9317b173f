// Gathers what the pure policy needs from disk and the device (board, approvals, history)
// and asks it: one call for the agent's check and for `otter plan`. Reads only.
import { isLocalFault } from "../base/errors.ts";
import type { Config } from "../config/config.ts";
import type { Offer } from "../sources/source.ts";
import { readApprovals } from "../policy/approvalfile.ts";
import { resolveBoard, type Board } from "../policy/board.ts";
import { decide, type Decision, type RunningImage } from "../policy/policy.ts";
import { readHistory } from "./history.ts";
import type { HistoryEntry } from "./journal.ts";

/**
 * Offers history says not to take again: one that failed or was rejected here, and a
 * forced one that already succeeded (force skips the "newer" rule, so it would reinstall
 * at every check) unless the running image's workload died or its ready check failed.
 * A failure of the device or the moment (a local fault: a cancel, an interrupted install,
 * an internal error) says nothing about the update, so it blocks nothing.
 */
export function blockedByHistory(history: HistoryEntry[], offers: Offer[], running: RunningImage): Record<string, string> {
  const blocked: Record<string, string> = {};
  const reflash = running.workloadDied || running.readyFailed;
  for (const o of offers) {
    const h = [...history].reverse().find((e) => e.id === o.id);
    if (!h || isLocalFault(h.code)) continue;
    if (h.status !== "SUCCEEDED" || (o.force && !reflash)) blocked[o.id] = `${h.status} (${h.state}) on ${h.endedAt}`;
  }
  return blocked;
}

/** The policy's decision on `offers` now, with the board it was made for. */
export async function decideNow(config: Config, running: RunningImage, offers: Offer[], now: number): Promise<{ decision: Decision; board: Board }> {
  const dir = config.service.state_dir;
  const board = await resolveBoard(config.policy);
  const failed = blockedByHistory(readHistory(dir), offers, running);
  const decision = decide({ running, offers, now, policy: config.policy, board: board.board, approvals: readApprovals(dir), failed });
  return { decision, board };
}
