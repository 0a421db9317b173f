// The part file a download writes: opened fresh or from a checkpoint (prefix re-hashed
// once), restarted from zero when the server's answer says so, and checkpointed —
// fdatasync beside the stream, then onCheckpoint. What a resume trusts depends on what happened:
// - same boot (otter killed or crashed): every byte written is in the page cache, synced or
//   not, so the whole file is kept and a SIGKILL costs no re-fetch;
// - another boot (power cut, reboot): only the fsynced prefix the checkpoint names.
import { createHash, type Hash } from "node:crypto";
import { constants, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, readSync, rmSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { monotonicMs } from "../base/clock.ts";
import { DownloadNoSpace, UnsafePath, describe } from "../base/errors.ts";
import { log } from "../base/log.ts";
import { createExclusive, openOwn } from "../base/ownfiles.ts";
import { bootId } from "../base/proc.ts";
import type { DownloadRequest, ResumePoint } from "./request.ts";

/** fsync + onCheckpoint cadence: every [download] sync_interval bytes or CHECKPOINT_MS. The
 * fsync runs beside the stream (libuv thread) so the disk flushes while the network keeps
 * coming; the stream waits only when the bytes not yet fsynced pass 1.5 x sync_interval,
 * which bounds what a power cut or SIGKILL makes us re-fetch. */
export const CHECKPOINT_MS = 2000;

/** The state of one job's download, mirrored into ResumePoint at each checkpoint. */
export interface Part {
  fd: number;
  offset: number;
  hash: Hash;
  etag?: string;
  lastModified?: string;
  /** the total size the server announced for this validator (206 Content-Range) */
  total?: number;
  /** a 200's Content-Length: a hint for the space check and budget only, never trusted */
  hint?: number;
  /** the server answered a Range request with the whole file (200) */
  ignoresRange?: boolean;
  fetched: number;
  attempts: number;
  checkpointed: number;
  checkpointAt: number;
  /** the fsync + onCheckpoint in flight, if any */
  syncing?: Promise<void>;
  /** what a background checkpoint threw; rethrown by the stream */
  syncError?: unknown;
  /** bumped when the file restarts from zero, so a late checkpoint is dropped */
  generation: number;
  refreshed: boolean;
  progressAt: number;
  progressBytes: number;
}

// The part file to resume: ours only (no link, no other owner, no second name); anything
// else at that name is removed, never written through.
function reopen(path: string): number | undefined {
  try {
    return openOwn(path, constants.O_RDWR);
  } catch (err) {
    if (!(err instanceof UnsafePath)) throw err;
    log.warn(`download: ${describe(err)}; starting again in a new file`);
    return undefined;
  }
}

// A new, empty part file: whatever was at the name is removed and the file created exclusively.
function create(path: string): number {
  rmSync(path, { force: true });
  return createExclusive(path, 0o600, constants.O_RDWR);
}

// Open the part file: fresh = empty; resume = keep what the checkpoint vouches for (see
// above) and re-hash it once.
export async function openPart(req: DownloadRequest): Promise<Part> {
  const r = req.resume;
  const fd = (r && reopen(req.partPath)) ?? create(req.partPath);
  const size = fstatSync(fd).size;
  const boot = bootId();
  let keep = r && size >= r.bytes ? (boot && r.boot === boot ? size : r.bytes) : 0;
  if (req.expectedSize !== undefined && keep > req.expectedSize) keep = 0;
  if (r && r.bytes > 0 && keep === 0) log.warn("download: part file shorter than its checkpoint; starting again", { path: req.partPath });
  if (keep > (r?.bytes ?? 0)) fdatasyncSync(fd); // what is kept counts as checkpointed: make it so
  ftruncateSync(fd, keep);
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(2 ** 20);
  for (let pos = 0; pos < keep; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, keep - pos), pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
    if (pos % (64 * 2 ** 20) === 0) await new Promise((res) => setImmediate(res));
  }
  const now = monotonicMs();
  return {
    fd, offset: keep, hash, etag: keep ? r?.etag : undefined, lastModified: keep ? r?.lastModified : undefined,
    fetched: r?.fetched ?? 0, attempts: r?.attempts ?? 0, checkpointed: keep, checkpointAt: now,
    refreshed: false, progressAt: now, progressBytes: keep, generation: 0,
  };
}

export function resumePoint(p: Part): ResumePoint {
  return { bytes: p.checkpointed, etag: p.etag, lastModified: p.lastModified, fetched: p.fetched, attempts: p.attempts, boot: bootId() };
}

// Forget what is on disk: truncate to zero and hash afresh.
export function restart(p: Part, why: string): void {
  if (p.offset > 0) log.warn(`download: ${why}; starting again from zero`, { had: p.offset });
  ftruncateSync(p.fd, 0);
  p.generation++;
  p.offset = 0;
  p.checkpointed = 0;
  p.hash = createHash("sha256");
  p.etag = p.lastModified = p.total = undefined;
}

/** Throw DownloadNoSpace when the rest of the file would not fit. */
export function checkSpace(req: DownloadRequest, p: Part): void {
  const total = req.expectedSize ?? p.total ?? p.hint;
  if (total === undefined) return;
  const s = statfsSync(dirname(req.partPath));
  const free = Number(s.bavail) * Number(s.bsize);
  if (free < total - p.offset) {
    throw new DownloadNoSpace(`${total - p.offset} more bytes needed in ${dirname(req.partPath)}, ${free} free`);
  }
}

// Start an fsync up to the current offset; when it lands, tell the caller (onCheckpoint).
export function checkpoint(req: DownloadRequest, p: Part): void {
  const target = p.offset;
  const generation = p.generation;
  p.checkpointAt = monotonicMs();
  p.syncing = new Promise<void>((res, rej) => fdatasync(p.fd, (err) => (err ? rej(err) : res())))
    .then(async () => {
      if (generation !== p.generation) return;
      p.checkpointed = target;
      checkSpace(req, p);
      await req.onCheckpoint?.(resumePoint(p));
    })
    .catch((err) => void (p.syncError ??= err))
    .finally(() => void (p.syncing = undefined));
}

// Wait for the checkpoint in flight and surface its failure.
export async function settled(p: Part): Promise<void> {
  await p.syncing;
  if (p.syncError) throw p.syncError;
}
