// The lock files: otter.lock (one otter per state_dir, held for its life) and approvals.lock
// (one short read-modify-write of approvals.json). A lock is a file created exclusively that
// holds its holder's pid, process start time and boot id, so a reused pid is not taken for a
// live holder, and a lock whose holder died is taken over.
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { LockHeld, storageError } from "./errors.ts";
import { log } from "./log.ts";
import { identify, startTicks, stillRunning, type ProcessId } from "./proc.ts";

/** A lock's holder: the process, within its boot (a lock written by an older otter has no bootId). */
export type Holder = ProcessId;

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

// The lock files this process holds, by path: one naming our pid that is not among them is
// a dead process's.
const held = new Set<string>();

// Whether the holder named in the lock file at `path` holds it still. A pid and start time
// name one process within one boot only: after a power cut, a device whose boot is the same
// each time gives its first otter the pid and start time of the holder that died (seen under
// qemu, pid 112 both times). So a lock from another boot is stale, and so is one naming our
// own pid that this process did not take. An older otter's lock, without a boot id, is
// judged by pid and start time.
function holds(path: string, h: Holder): boolean {
  if (h.pid === process.pid) return held.has(path);
  return h.bootId === undefined ? startTicks(h.pid) === h.startTicks : stillRunning(h);
}

/** The live holder of the lock file at `path`, as seen; "unwritten" while it is being created; undefined when its holder is dead. */
function holderIn<T extends Holder>(path: string, seen: Seen): T | "unwritten" | undefined {
  try {
    const holder = JSON.parse(seen.text) as T;
    return holds(path, holder) ? holder : undefined;
  } catch {
    return Date.now() - seen.mtimeMs > UNWRITTEN_STALE_MS ? undefined : "unwritten";
  }
}

function holderOf<T extends Holder>(path: string): T | "unwritten" | undefined {
  const seen = look(path);
  return seen && holderIn<T>(path, seen);
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
      held.add(path);
      return {
        release: () => {
          const holder = holderOf<T>(path);
          held.delete(path);
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
    const holder = seen && holderIn<T>(path, seen);
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
  if (moved?.text === judged.text && holderIn(path, moved) === undefined) {
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
  const me: LockOwner = { ...identify(process.pid), since: new Date().toISOString(), command };
  const got = takeLock(path, me);
  if ("release" in got) return got.release;
  const { holder } = got;
  if (holder === "unwritten") throw new LockHeld(`${path}: another otter is starting; try again in a moment`);
  throw new LockHeld(`${path} is held by otter pid ${holder.pid} (${holder.command}, since ${holder.since}); stop it first`);
}
