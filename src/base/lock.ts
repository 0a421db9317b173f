// The lock files: otter.lock (one otter per state_dir, held for its life) and approvals.lock
// (one short read-modify-write of approvals.json). A lock is a file created exclusively that
// holds its holder's pid and process start time, so a reused pid is not taken for a live
// holder, and a lock whose holder died is taken over.
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { LockHeld, storageError } from "./errors.ts";
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

/** A lock file as read at one moment. */
export interface Seen {
  text: string;
  mtimeMs: number;
}

function look(path: string): Seen | undefined {
  try {
    return { mtimeMs: statSync(path).mtimeMs, text: readFileSync(path, "utf8") };
  } catch {
    return undefined; // no lock file
  }
}

/** The live holder of a lock file seen; "unwritten" while it is being created; undefined when its holder is dead. */
function holderIn<T extends Holder>(seen: Seen): T | "unwritten" | undefined {
  try {
    const holder = JSON.parse(seen.text) as T;
    return startTicks(holder.pid) === holder.startTicks ? holder : undefined;
  } catch {
    return Date.now() - seen.mtimeMs > UNWRITTEN_STALE_MS ? undefined : "unwritten";
  }
}

function holderOf<T extends Holder>(path: string): T | "unwritten" | undefined {
  const seen = look(path);
  return seen && holderIn<T>(seen);
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
          try {
            if (typeof holder === "object" && holder.pid === me.pid) unlinkSync(path);
          } catch {
            // moved aside for a moment by retire(); put back, it is a dead holder's file once we exit
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw storageError(err, path) ?? err;
    }
    const seen = look(path);
    const holder = seen && holderIn<T>(seen);
    if (holder !== undefined) return { holder };
    if (seen) retire(path, seen);
  }
  return { holder: "unwritten" };
}

/**
 * Remove the lock file a dead holder left, as `judged` saw it. The file is first moved aside
 * atomically, so two newcomers cannot both remove it; then what was moved is checked. The
 * judged holder may have released its lock and exited between the read and the rename, and
 * another process taken the lock anew: that live file is put back, not removed.
 * @internal exported for the lock tests
 */
export function retire(path: string, judged: Seen): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    // a read-only or full state_dir: say so, not "another otter is starting"
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw storageError(err, path) ?? err;
    return; // gone already: released, or another newcomer moved it first
  }
  const moved = look(aside);
  if (moved?.text === judged.text && holderIn(moved) === undefined) {
    unlinkSync(aside);
    log.warn("removed a stale lock left by a dead process", { path });
    return;
  }
  try {
    linkSync(aside, path); // never over a lock taken meanwhile
  } catch {
    // The path was free for the microseconds since the rename and another process took it:
    // the one race left, far narrower than judging and removing in two unchecked steps.
  }
  unlinkSync(aside);
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
