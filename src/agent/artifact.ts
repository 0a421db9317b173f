// What reaches the install hook: the downloaded file, verified by this process whatever is
// on disk from before, and an archive unpacked from it afresh. No name is trusted for
// existing: a file at the final name is hashed and checked like the part file, and a file
// that is gone or changed (a tmpfs emptied by a reboot) is downloaded again.
//
// Unpacked folders are re-derived, not made durable: a process that did not unpack them
// itself (otter restarted in install) verifies the archive again and unpacks it into a new
// folder, so after a power cut the hook never gets the empty files a lost page cache
// leaves, and no fsync per unpacked file is paid on the way (scripts/bench-unpack).
import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, lstatSync, readSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { renameAtomic } from "../base/atomic.ts";
import { ArtifactLost, OtterError, UnsafePath, describe } from "../base/errors.ts";
import { log } from "../base/log.ts";
import { openOwn } from "../base/ownfiles.ts";
import type { Config } from "../config/config.ts";
import type { DownloadResult } from "../transfer/request.ts";
import { verifyFile } from "../transfer/verify.ts";
import type { JobRecord } from "./journal.ts";
import type { Event } from "./pipeline.ts";

/** Downloads of one job lost or changed on disk before the job fails as a local fault. */
export const MAX_REFETCHES = 3;

// What this process knows of a file it hashed (as it wrote it, or read back), by inode, and
// whether it verified and unpacked it for an offer. A new process knows nothing: it reads
// the bytes again. A changed size or mtime (or a reused inode number) starts afresh.
interface Seen { size: number; mtimeMs: number; sha256: string; verifiedFor?: string; unpacked?: boolean }
const seen = new Map<string, Seen>();
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100);
}

/**
 * Where a job's download lands: the .part file, the verified final name, and the folder an
 * archive unpacks to. A part path from the journal is used only if it is a part file
 * directly inside download_location.
 */
export function artifactPaths(config: Config, job: JobRecord): { part: string; final: string; dir: string } {
  const where = resolve(config.service.download_location);
  const journaled = job.download?.partPath;
  let part: string;
  if (journaled && dirname(resolve(journaled)) === where && /^[^.].*\.part$/.test(basename(journaled))) part = resolve(journaled);
  else {
    const ext = /\.(tar\.gz|tgz|gz|zip|[A-Za-z0-9]{1,8})$/.exec(new URL(job.offer.url, "file:///").pathname)?.[0] ?? ".bin";
    part = join(where, `${safeName(job.offer.id)}${ext}.part`);
  }
  const final = part.slice(0, -".part".length);
  return { part, final, dir: `${final}.d` };
}

const key = (st: { dev: number; ino: number }) => `${st.dev}:${st.ino}`;

/** Record the digest the download computed of the bytes it wrote to `path`. */
export function downloaded(result: DownloadResult): void {
  const fd = openOwn(result.path, constants.O_RDONLY);
  if (fd === undefined) return;
  const st = fstatSync(fd);
  closeSync(fd);
  seen.set(key(st), { size: st.size, sha256: result.sha256, mtimeMs: st.mtimeMs });
}

// What is known of the file at `path`, its bytes hashed now unless this process already
// did; read through a descriptor that cannot follow a link. Undefined when nothing (or
// nothing of ours: it is removed) is there.
async function look(path: string): Promise<Seen | undefined> {
  let fd: number | undefined;
  try {
    fd = openOwn(path, constants.O_RDONLY);
  } catch (err) {
    if (!(err instanceof UnsafePath)) throw err;
    log.warn(`${describe(err)}; removed`);
    rmSync(path, { force: true });
  }
  if (fd === undefined) return undefined;
  try {
    const st = fstatSync(fd);
    const known = seen.get(key(st));
    if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known;
    const hash = createHash("sha256");
    const buf = Buffer.allocUnsafe(2 ** 20);
    for (let pos = 0, n; (n = readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) {
      hash.update(buf.subarray(0, n));
      if (pos % (64 * 2 ** 20) === 0) await new Promise((r) => setImmediate(r));
    }
    const fresh: Seen = { size: st.size, mtimeMs: st.mtimeMs, sha256: hash.digest("hex") };
    seen.set(key(st), fresh);
    return fresh;
  } finally {
    closeSync(fd);
  }
}

// The file is gone or changed: forget the download and fetch it again (bounded per job).
function lost(config: Config, job: JobRecord, why: string): Event {
  const { part, final, dir } = artifactPaths(config, job);
  job.refetches = (job.refetches ?? 0) + 1;
  if (job.refetches > MAX_REFETCHES) {
    throw new ArtifactLost(`${why}, ${job.refetches} times for this job: check the storage of [service] download_location ${config.service.download_location}`);
  }
  log.warn(`${why}; downloading it again`, { job: job.offer.id });
  for (const p of [part, final, dir]) rmSync(p, { recursive: true, force: true });
  job.download = undefined;
  job.artifact = undefined;
  return "lost";
}

// Check the bytes at `path` against what the download recorded and what the offer demands
// (sha256, size, signature). Returns what is wrong when they are not those bytes; throws a
// verification error when they are, but the offer refuses them.
async function check(config: Config, job: JobRecord, path: string): Promise<Seen | string> {
  const result = job.download?.result;
  if (!result) return "no finished download is recorded";
  const got = await look(path);
  if (!got) return `the downloaded file ${path} is gone`;
  if (got.sha256 !== result.sha256 || got.size !== result.size) return `${path} changed on disk since it was downloaded`;
  const { id, sha256, signature, size } = job.offer;
  const offer = JSON.stringify([id, sha256, signature]);
  if (got.verifiedFor !== offer) {
    await verifyFile({ path, size: got.size, sha256: got.sha256, fetched: result.fetched }, { sha256, signature, size }, config.verify);
    got.verifiedFor = offer;
    got.unpacked = false;
  }
  return got;
}

// Unpack the verified archive into a new folder of otter's.
async function unpackFresh(config: Config, job: JobRecord, final: string, dir: string, got: Seen): Promise<string> {
  const { unpack } = await import("../transfer/archive.ts");
  const v = config.verify;
  await unpack(final, job.offer.archive!, dir, { maxSize: v.max_unpacked_size, maxRatio: v.max_ratio, maxEntries: v.max_entries });
  got.unpacked = true;
  return dir;
}

/** The verify state: check the finished download (part file, or final name after a kill), give it its final name, unpack an archive. */
export async function verifyDownload(config: Config, job: JobRecord): Promise<Event> {
  const { part, final, dir } = artifactPaths(config, job);
  // Killed between the rename and the journal's "install": the final name holds it.
  const path = lstatSync(part, { throwIfNoEntry: false }) ? part : final;
  const got = await check(config, job, path);
  if (typeof got === "string") return lost(config, job, got);
  rmSync(dir, { recursive: true, force: true });
  if (path === part) renameAtomic(part, final);
  job.artifact = job.offer.archive ? await unpackFresh(config, job, final, dir, got) : final;
  return "ok";
}

/**
 * What the install hook gets: the final file (or its unpacked folder) as this process
 * verified it; a new process verifies and unpacks again. "lost" when the file is gone,
 * changed, or no longer passes: it is downloaded (and verified) again.
 */
export async function installable(config: Config, job: JobRecord): Promise<string | "lost"> {
  const { final, dir } = artifactPaths(config, job);
  let got: Seen | string;
  try {
    got = await check(config, job, final);
  } catch (err) {
    if (!(err instanceof OtterError)) throw err;
    got = `${final} no longer passes verification (${describe(err)})`;
  }
  if (typeof got === "string") return lost(config, job, got);
  if (!job.offer.archive) return final;
  return got.unpacked ? dir : unpackFresh(config, job, final, dir, got);
}
