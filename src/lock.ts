// One otter per state_dir: a lock file created exclusively, holding the owner's pid and
// its process start time (so a reused pid is not mistaken for a live owner).
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, fsyncSync } from "node:fs";
import { join } from "node:path";
import { LockHeld } from "./errors.ts";
import { startTicks } from "./proc.ts";
import { log } from "./log.ts";

export interface LockOwner {
  pid: number;
  /** the process start time from /proc, in clock ticks since boot */
  startTicks: string;
  since: string;
  command: string;
}

/** Who holds the lock in `dir`, if a live process does. */
export function lockOwner(dir: string): LockOwner | undefined {
  let owner: LockOwner;
  try {
    owner = JSON.parse(readFileSync(join(dir, "otter.lock"), "utf8"));
  } catch {
    return undefined;
  }
  return startTicks(owner.pid) === owner.startTicks ? owner : undefined;
}

/** Take the lock or throw LockHeld naming the holder. Returns the release function. */
export function acquireLock(dir: string, command: string): () => void {
  const path = join(dir, "otter.lock");
  const me: LockOwner = { pid: process.pid, startTicks: startTicks(process.pid) ?? "", since: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, JSON.stringify(me));
      fsyncSync(fd);
      closeSync(fd);
      return () => {
        if (lockOwner(dir)?.pid === process.pid) unlinkSync(path);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = lockOwner(dir);
    if (owner) throw new LockHeld(`${path} is held by otter pid ${owner.pid} (${owner.command}, since ${owner.since}); stop it first`);
    // The holder is dead: move its lock aside atomically so two newcomers cannot both take over.
    const stale = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, stale);
      unlinkSync(stale);
      log.warn("removed a stale lock left by a dead otter", { path });
    } catch {
      // another newcomer moved it first; try again
    }
  }
  throw new LockHeld(`${path}: could not take the lock; another otter is starting`);
}
