// The one way otter writes a file that must survive a crash: write a temp file beside it,
// fsync it, rename it over the target, fsync the directory. A reader sees the old or the
// new content, never a torn mix, whatever instant the power is cut.
import { closeSync, fsyncSync, linkSync, openSync, readdirSync, renameSync, writeSync, unlinkSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { createExclusive } from "./ownfiles.ts";
import { storageError } from "./errors.ts";
import { startTicks } from "./proc.ts";

const TEMP = /^\..+\.(\d+)\.tmp$/;

/** fsync a directory so a rename or create inside it is durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replace `path` with `data` atomically and durably; a full or read-only disk is a StorageUnavailable naming `path`. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  try {
    writeTemp(path, data, mode);
  } catch (err) {
    throw storageError(err, path) ?? err;
  }
}

function writeTemp(path: string, data: string | Uint8Array, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = createTemp(tmp, mode);
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameAtomic(tmp, path);
}

// The temp file, created new: never through a link planted at its name, never someone
// else's file. One left at that name (a dead writer with our pid, or planted) is removed.
function createTemp(tmp: string, mode: number): number {
  try {
    return createExclusive(tmp, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    unlinkSync(tmp);
    return createExclusive(tmp, mode);
  }
}

/** Create `path` with `data` atomically and durably, unless it exists (then false): a link, not a rename, never replaces a file. */
export function createFileAtomic(path: string, data: string, mode = 0o600): boolean {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileAtomic(tmp, data, mode);
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  fsyncDir(dirname(path));
  return true;
}

/** Rename `from` to `to` (same filesystem) and make the rename durable. */
export function renameAtomic(from: string, to: string): void {
  renameSync(from, to);
  fsyncDir(dirname(to));
}

/** Remove temp files that writers killed mid-write left in `dir` (only those of dead processes). */
export function removeStaleTemps(dir: string): number {
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const pid = TEMP.exec(name)?.[1];
    if (pid === undefined || startTicks(Number(pid)) !== undefined) continue;
    unlinkSync(join(dir, name));
    removed++;
  }
  return removed;
}
