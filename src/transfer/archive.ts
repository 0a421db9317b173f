// Unpacks a verified update (.gz, .tar.gz, .zip) into a fresh folder, streaming, refusing
// absolute paths, `..`, links that lead out, device files, decompression bombs, input that
// is not the kind it claims and archives that hold nothing. Symlinks are kept in tar and
// zip alike (inside the folder only). A refused or broken archive leaves no folder behind.
import { closeSync, constants, fstatSync, openSync, readSync, rmSync } from "node:fs";
import { basename, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { ArchiveUnsafe, OtterError } from "../base/errors.ts";
import { shown } from "../base/printable.ts";
import { freshDir } from "../base/ownfiles.ts";
import { TarReader, type TarEntry } from "./tar.ts";
import { UnpackDir, type Stream, type UnpackLimits } from "./unpackdir.ts";
import { centralDirectory, dataStarts, type ZipEntry } from "./zip.ts";

export type { UnpackLimits } from "./unpackdir.ts";

/** Input is fed to the inflater this much at a time, so one push yields at most ~16 MiB. */
const PUSH = 16 * 1024;

/**
 * Unpack `file` into `destDir` (removed first if it exists: pass a folder of its own) and
 * return destDir. A .gz holds one file, named after `file` without ".gz" ("payload" if it
 * has no such suffix).
 */
export async function unpack(file: string, kind: "gz" | "tar.gz" | "zip", destDir: string, limits: UnpackLimits): Promise<string> {
  const dest = resolve(destDir);
  rmSync(dest, { recursive: true, force: true });
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  let out: UnpackDir | undefined;
  try {
    const size = fstatSync(fd).size;
    freshDir(dest);
    out = new UnpackDir(dest, Math.max(1, size), limits);
    if (kind === "zip") await unzip(fd, size, out);
    else if (kind === "tar.gz") await gunzip(fd, size, tar(out));
    else await gunzip(fd, size, single(out, basename(file).endsWith(".gz") ? basename(file).slice(0, -3) || "payload" : "payload"));
    out.finish();
  } catch (err) {
    out?.closeAll();
    rmSync(dest, { recursive: true, force: true });
    throw err;
  } finally {
    closeSync(fd);
  }
  return destDir;
}

type Fflate = typeof import("fflate");

async function fflate(): Promise<Fflate> {
  return import("fflate");
}

// Read bytes [start, start + len) of `fd` in small pieces and hand each to `push`; the last
// call has final = true (an empty range gives one empty final piece).
async function readPieces(fd: number, start: number, len: number, push: (chunk: Uint8Array, final: boolean) => void): Promise<void> {
  const buf = Buffer.allocUnsafe(PUSH);
  if (len === 0) push(new Uint8Array(0), true);
  for (let done = 0, pushes = 0; done < len; pushes++) {
    const n = readSync(fd, buf, 0, Math.min(PUSH, len - done), start + done);
    if (n === 0) throw new ArchiveUnsafe(`archive shrank while unpacking`);
    done += n;
    push(buf.subarray(0, n), done >= len);
    if (pushes % 64 === 63) await new Promise((r) => setImmediate(r));
  }
}

// Run a decoder over a byte range; the writer's own errors pass through as they are, the
// decoder's become "not valid <format>" (so a disk error never reads as a corrupt archive).
async function decode(fd: number, start: number, len: number, format: string, push: (chunk: Uint8Array, final: boolean) => void): Promise<void> {
  try {
    await readPieces(fd, start, len, push);
  } catch (err) {
    if (err instanceof OtterError) throw err;
    throw new ArchiveUnsafe(`not a valid ${format} (${(err as Error).message})`, { cause: err });
  }
}

async function gunzip(fd: number, size: number, into: Stream): Promise<void> {
  const { Gunzip } = await fflate();
  let ended = false;
  const g = new Gunzip((chunk, final) => {
    into.data(chunk);
    if (final) ended = true;
  });
  await decode(fd, 0, size, "gzip file", (chunk, final) => g.push(chunk, final));
  if (!ended) throw new ArchiveUnsafe(`gzip stream is truncated`);
  into.end();
}

// Zip from its central directory: every entry known (and counted) before one is written.
async function unzip(fd: number, size: number, out: UnpackDir): Promise<void> {
  const read = (pos: number, len: number) => {
    const b = Buffer.allocUnsafe(len);
    if (readSync(fd, b, 0, len, pos) !== len) throw new ArchiveUnsafe("archive shrank while unpacking");
    return b;
  };
  const { entries, end } = centralDirectory(read, size, out.limits.maxEntries);
  const starts = dataStarts(read, entries, end);
  for (const [i, e] of entries.entries()) {
    out.count(2 * e.meta); // the central directory entry and the local header
    if (e.encrypted) throw new ArchiveUnsafe(`zip entry ${shown(e.name)} is encrypted; refused`);
    if (e.type === "dir") {
      out.dir(e.name);
      continue;
    }
    if (e.type === "other") throw new ArchiveUnsafe(`${shown(e.name)}: device, fifo or socket entry refused`);
    const sink = e.type === "symlink" ? out.symlinkFromData(e.name) : out.file(e.name, e.mode || 0o644);
    await entryData(fd, starts[i]!, e, sink);
  }
}

// One entry's bytes, inflated, checked against the sizes and CRC the directory gives.
async function entryData(fd: number, start: number, e: ZipEntry, sink: Stream): Promise<void> {
  let n = 0;
  let crc = 0;
  let ended = e.method === 0;
  const take = (chunk: Uint8Array) => {
    n += chunk.length;
    if (n > e.usize) throw new ArchiveUnsafe(`zip entry ${shown(e.name)} unpacks to more than the ${e.usize} bytes it declares; refused`);
    crc = crc32(chunk, crc);
    sink.data(chunk);
  };
  let push: (chunk: Uint8Array, final: boolean) => void;
  if (e.method === 0) push = (chunk) => take(chunk);
  else if (e.method === 8) {
    const { Inflate } = await fflate();
    const inflate = new Inflate((chunk, final) => {
      take(chunk);
      if (final) ended = true;
    });
    push = (chunk, final) => inflate.push(chunk, final);
  } else throw new ArchiveUnsafe(`zip entry ${shown(e.name)}: compression method ${e.method} not supported (stored or deflate only)`);
  await decode(fd, start, e.csize, `zip entry ${shown(e.name)}`, push);
  if (!ended || n !== e.usize || crc !== e.crc) throw new ArchiveUnsafe(`zip entry ${shown(e.name)} is corrupt (size or CRC does not match the directory)`);
  sink.end();
}

/** A stream that writes one file (the content of a .gz), refusing an empty one. */
function single(out: UnpackDir, name: string): Stream {
  const file = out.file(name, 0o644);
  let size = 0;
  return {
    data: (chunk) => {
      size += chunk.length;
      file.data(chunk);
    },
    end: () => {
      file.end();
      if (size === 0) throw new ArchiveUnsafe("unpacks to nothing (an empty file); refused");
    },
  };
}

/** A stream that reads a tar and writes its entries. */
function tar(out: UnpackDir): Stream {
  let current: Stream | undefined;
  const reader = new TarReader({
    entry: (e: TarEntry) => {
      current = undefined;
      if (e.type === "file") current = out.file(e.path, e.mode);
      else if (e.type === "dir") out.dir(e.path);
      else if (e.type === "symlink") out.symlink(e.path, e.linkpath);
      else if (e.type === "hardlink") out.hardlink(e.path, e.linkpath);
      else throw new ArchiveUnsafe(`${shown(e.path)}: device, fifo or unknown entry type "${e.flag}" refused`);
    },
    data: (chunk) => current!.data(chunk),
    end: () => current?.end(),
    meta: (bytes) => out.count(bytes),
  });
  return { data: (chunk) => reader.push(chunk), end: () => reader.finish() };
}
