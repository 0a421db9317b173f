// Approvals live in their own small file, state_dir/approvals.json, not in the journal: the
// daemon holds otter.lock for its lifetime, yet `otter approve/deny` must change them while
// it runs. Every change is a read-modify-write under a short-lived lock (approvals.lock,
// created with O_EXCL, holding the writer's pid), so an approve from the CLI and the
// daemon noting a pending id never lose each other's write. Reads take no lock: the file
// is replaced atomically, a reader sees the old or the new content.
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { EMPTY_APPROVALS } from "./approvals.ts";
import { writeFileAtomic } from "./atomic.ts";
import type { ApprovalState } from "./policy.ts";
import { startTicks } from "./proc.ts";
import { sleep } from "./sleep.ts";

export const APPROVALS_FILE = "approvals.json";
const LOCK_FILE = "approvals.lock";
// Waits for the lock this long before giving up: a write under it takes milliseconds.
const LOCK_WAIT_MS = 10_000;
// A lock file that never got its owner written (the writer died in between) is stale after this.
const UNWRITTEN_STALE_MS = 5_000;

/** The approval state as last written; empty when there is no (readable) file. */
export function readApprovals(dir: string): ApprovalState {
  try {
    const s = JSON.parse(readFileSync(join(dir, APPROVALS_FILE), "utf8"));
    return { approved: s.approved ?? [], denied: s.denied ?? [], pendingSince: s.pendingSince ?? {} };
  } catch {
    return EMPTY_APPROVALS;
  }
}

// Whether the lock at `path` was left by a process that is gone.
function stale(path: string): boolean {
  try {
    const owner = JSON.parse(readFileSync(path, "utf8"));
    return startTicks(owner.pid) !== owner.startTicks;
  } catch {
    try {
      return Date.now() - statSync(path).mtimeMs > UNWRITTEN_STALE_MS;
    } catch {
      return false; // released meanwhile
    }
  }
}

// Take the lock (O_EXCL), waiting for a live holder; returns the release function.
async function lock(dir: string): Promise<() => void> {
  const path = join(dir, LOCK_FILE);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, startTicks: startTicks(process.pid) ?? "" }));
      closeSync(fd);
      return () => unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (stale(path)) {
      // Moved aside atomically, so two waiters cannot both remove a fresh lock.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
        unlinkSync(aside);
      } catch {
        // another waiter took it first
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${path}: held for more than ${LOCK_WAIT_MS / 1000} s by another otter`);
    await sleep(2 + Math.random() * 8);
  }
}

/** Apply `change` to the approval state under the lock and write it back; returns the new state. */
export async function updateApprovals(dir: string, change: (s: ApprovalState) => ApprovalState): Promise<ApprovalState> {
  const release = await lock(dir);
  try {
    const before = readApprovals(dir);
    const after = change(before);
    if (after !== before) writeFileAtomic(join(dir, APPROVALS_FILE), JSON.stringify(after, null, 1));
    return after;
  } finally {
    release();
  }
}
