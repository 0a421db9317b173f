// The lock files: otter.lock (one otter per state_dir, held for its life) and approvals.lock
// (one short read-modify-write of approvals.json). A lock is a file created exclusively that
// holds its holder's pid and process start time, so a reused pid is not taken for a live
// holder, and a lock whose holder died is taken over.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { LockHeld } from "./errors.ts";
import { log } from "./log.ts";
import { startTicks } from "./proc.ts";

export interface Holder {
  pid: number;
  /** the process start time from /proc, in clock ticks since boot */
  startTicks: string;
}

export interface LockOwner extends Holder {
  since: string;
  command: string;
}

// A lock file whose creator died before writing its holder is stale after this long.
const UNWRITTEN_STALE_MS = 5_000;
// Takeovers of dead holders' files before giving up (each one is another newcomer's race).
const MAX_TAKEOVERS = 10;

/** The live holder in a lock file; "unwritten" while it is being created; undefined when free or its holder is dead. */
function holderOf<T extends Holder>(path: string): T | "unwritten" | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, "utf8")) as T;
    return startTicks(holder.pid) === holder.startTicks ? holder : undefined;
  } catch {
    try {
      return Date.now() - statSync(path).mtimeMs > UNWRITTEN_STALE_MS ? undefined : "unwritten";
    } catch {
      return undefined; // no lock file
    }
  }
}

/**
 * Take the lock file at `path` for `me`, taking over one whose holder is dead. Returns the
 * release function, or who holds it ("unwritten": another process is creating it now).
 */
export function takeLock<T extends Holder>(path: string, me: T): { release: () => void } | { holder: T | "unwritten" } {
  for (let takeovers = 0; takeovers < MAX_TAKEOVERS; takeovers++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, JSON.stringify(me));
      fsyncSync(fd);
      closeSync(fd);
      return {
        release: () => {
          const holder = holderOf<T>(path);
          if (typeof holder === "object" && holder.pid === me.pid) unlinkSync(path);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = holderOf<T>(path);
    if (holder !== undefined) return { holder };
    // The holder is dead: move its file aside atomically so two newcomers cannot both remove it.
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
      unlinkSync(aside);
      log.warn("removed a stale lock left by a dead process", { path });
    } catch {
      // another newcomer moved it first; try again
    }
  }
  return { holder: "unwritten" };
}

/** Who holds otter.lock in `dir`, if a live process does. */
export function lockOwner(dir: string): LockOwner | undefined {
  const holder = holderOf<LockOwner>(join(dir, "otter.lock"));
  return typeof holder === "object" ? holder : undefined;
}

/** Take otter.lock or throw LockHeld naming the holder. Returns the release function. */
export function acquireLock(dir: string, command: string): () => void {
  const path = join(dir, "otter.lock");
  const me: LockOwner = { pid: process.pid, startTicks: startTicks(process.pid) ?? "", since: new Date().toISOString(), command };
  const got = takeLock(path, me);
  if ("release" in got) return got.release;
  const { holder } = got;
  if (holder === "unwritten") throw new LockHeld(`${path}: another otter is starting; try again in a moment`);
  throw new LockHeld(`${path} is held by otter pid ${holder.pid} (${holder.command}, since ${holder.since}); stop it first`);
}
