// Approvals live in their own small file, state_dir/approvals.json, not in the journal: the
// daemon holds otter.lock for its lifetime, yet `otter approve/deny` must change them while
// it runs. Every change is a read-modify-write under a short-lived lock (approvals.lock,
// taken with src/base/lock.ts's takeLock), so an approve from the CLI and the daemon noting a
// pending id never lose each other's write. Reads take no lock: the file
// is replaced atomically, a reader sees the old or the new content.
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import { monotonicMs } from "../base/clock.ts";
import { takeLock } from "../base/lock.ts";
import { identify } from "../base/proc.ts";
import { array, object, record, shortText, time, type Check } from "../base/shape.ts";
import { loadOwned, loadShared } from "../base/statefile.ts";
import { sleep } from "../base/sleep.ts";
import { EMPTY_APPROVALS } from "./approvals.ts";
import type { ApprovalState } from "./policy.ts";

export const APPROVALS_FILE = "approvals.json";
const LOCK_FILE = "approvals.lock";
// Waits for the lock this long before giving up: a write under it takes milliseconds.
const LOCK_WAIT_MS = 10_000;

const approvals: Check<ApprovalState> = object({
  approved: array(shortText), denied: array(shortText), pendingSince: record(time),
});

/** The approval state as last written; empty when there is no file, or one not JSON or of the
 *  wrong shape (with a warning; the next change, under the lock, moves it aside). */
export function readApprovals(dir: string): ApprovalState {
  return loadShared("approvals", join(dir, APPROVALS_FILE), approvals, EMPTY_APPROVALS);
}

// Take approvals.lock, waiting while a live process holds it; returns the release function.
async function lock(dir: string): Promise<() => void> {
  const path = join(dir, LOCK_FILE);
  const me = identify(process.pid);
  const deadline = monotonicMs() + LOCK_WAIT_MS;
  for (;;) {
    const got = takeLock(path, me);
    if ("release" in got) return got.release;
    if (monotonicMs() > deadline) throw new Error(`${path}: held for more than ${LOCK_WAIT_MS / 1000} s by another otter`);
    await sleep(2 + Math.random() * 8);
  }
}

/** Apply `change` to the approval state under the lock and write it back; returns the new state. */
export async function updateApprovals(dir: string, change: (s: ApprovalState) => ApprovalState): Promise<ApprovalState> {
  const release = await lock(dir);
  try {
    const before = loadOwned("approvals", join(dir, APPROVALS_FILE), approvals, EMPTY_APPROVALS);
    const after = change(before);
    if (after !== before) writeFileAtomic(join(dir, APPROVALS_FILE), JSON.stringify(after, null, 1));
    return after;
  } finally {
    release();
  }
}
