// Unpacks a verified update (.gz, .tar.gz, .zip) into a fresh folder, streaming, refusing
// absolute paths, `..`, links that lead out, device files and decompression bombs.
// A refused or broken archive leaves no folder behind.
import { closeSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readSync, realpathSync, rmSync, symlinkSync, writeSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { ArchiveUnsafe } from "../base/errors.ts";
import { TarReader, type TarEntry } from "./tar.ts";

export interface UnpackLimits { maxSize: number; maxRatio: number }

/** Input is fed to the inflater this much at a time, so one push yields at most ~16 MiB. */
const PUSH = 16 * 1024;

/**
 * Unpack `file` into `destDir` (removed first if it exists: pass a folder of its own) and
 * return destDir. A .gz holds one file, named after `file` without ".gz" ("payload" if it
 * has no such suffix). Zip entries are written as regular files and folders only: zip
 * symlinks are not created (their target text becomes a file's content).
 */
export async function unpack(file: string, kind: "gz" | "tar.gz" | "zip", destDir: string, limits: UnpackLimits): Promise<string> {
  const dest = resolve(destDir);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  const out = new Writer(realpathSync(dest), file, limits);
  try {
    if (kind === "zip") await unzip(file, out);
    else if (kind === "tar.gz") await gunzip(file, out.tar());
    else await gunzip(file, out.single(basename(file).endsWith(".gz") ? basename(file).slice(0, -3) || "payload" : "payload"));
    out.checkLinks();
  } catch (err) {
    out.closeAll();
    rmSync(dest, { recursive: true, force: true });
    throw err;
  }
  return destDir;
}

type Fflate = typeof import("fflate");

async function fflate(): Promise<Fflate> {
  return import("fflate");
}

// Read `file` in small pieces and hand each to `push`; the last call has final = true.
async function readPieces(file: string, push: (chunk: Uint8Array, final: boolean) => void): Promise<void> {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(PUSH);
    let pos = 0;
    if (size === 0) push(new Uint8Array(0), true);
    while (pos < size) {
      const n = readSync(fd, buf, 0, PUSH, pos);
      if (n === 0) throw new ArchiveUnsafe(`${file} shrank while unpacking`);
      pos += n;
      push(buf.subarray(0, n), pos >= size);
      if (pos % (64 * PUSH) === 0) await new Promise((r) => setImmediate(r));
    }
  } finally {
    closeSync(fd);
  }
}

interface Stream {
  data(chunk: Uint8Array): void;
  end(): void;
}

async function gunzip(file: string, into: Stream): Promise<void> {
  const { Gunzip } = await fflate();
  let ended = false;
  const g = new Gunzip((chunk, final) => {
    into.data(chunk);
    if (final) ended = true;
  });
  try {
    await readPieces(file, (chunk, final) => g.push(chunk, final));
  } catch (err) {
    if (err instanceof ArchiveUnsafe) throw err;
    throw new ArchiveUnsafe(`${basename(file)}: not a valid gzip file (${(err as Error).message})`, { cause: err });
  }
  if (!ended) throw new ArchiveUnsafe(`${basename(file)}: gzip stream is truncated`);
  into.end();
}

async function unzip(file: string, out: Writer): Promise<void> {
  const { Unzip, UnzipInflate } = await fflate();
  const pending: Error[] = [];
  const u = new Unzip((entry) => {
    try {
      if (entry.name.endsWith("/")) return out.dir(entry.name);
      const sink = out.file(entry.name, 0o644);
      entry.ondata = (err, chunk, final) => {
        if (err) return void pending.push(err);
        try {
          sink.data(chunk);
          if (final) sink.end();
        } catch (e) {
          pending.push(e as Error);
        }
      };
      entry.start();
    } catch (e) {
      pending.push(e as Error);
    }
  });
  u.register(UnzipInflate);
  await readPieces(file, (chunk, final) => {
    u.push(chunk, final);
    if (pending.length) throw pending[0];
  });
  if (pending.length) throw pending[0];
}

/** Everything written under one destination, with the checks that keep it there. */
class Writer {
  private total = 0;
  private readonly packed: number;
  private readonly links: string[] = [];
  private readonly open = new Set<number>();

  constructor(private readonly dest: string, archive: string, private readonly limits: UnpackLimits) {
    const fd = openSync(archive, "r");
    this.packed = Math.max(1, fstatSync(fd).size);
    closeSync(fd);
  }

  // The absolute path for an entry name, refusing anything that could land outside.
  private target(name: string, root = false): string {
    if (name.includes("\0")) throw new ArchiveUnsafe(`entry name with a NUL byte refused`);
    if (isAbsolute(name) || /^[A-Za-z]:/.test(name) || name.startsWith("\\")) throw new ArchiveUnsafe(`absolute path "${name}" refused`);
    const parts = name.split(/[/\\]+/).filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) throw new ArchiveUnsafe(`path with ".." ("${name}") refused`);
    if (parts.length === 0 && !root) throw new ArchiveUnsafe(`empty entry name refused`);
    const path = join(this.dest, ...parts);
    // No existing component may be a symlink: a link must never be written through.
    for (let p = dirname(path); p.length > this.dest.length; p = dirname(p)) {
      try {
        if (lstatSync(p).isSymbolicLink()) throw new ArchiveUnsafe(`"${name}" passes through a symlink; refused`);
      } catch (err) {
        if (err instanceof ArchiveUnsafe) throw err;
      }
    }
    return path;
  }

  private count(n: number): void {
    this.total += n;
    if (this.total > this.limits.maxSize) throw new ArchiveUnsafe(`unpacks to more than max_unpacked_size ${this.limits.maxSize} bytes; refused`);
    if (this.total > this.limits.maxRatio * this.packed) {
      throw new ArchiveUnsafe(`unpacks to more than ${this.limits.maxRatio}× its ${this.packed} packed bytes (max_ratio); refused as a bomb`);
    }
  }

  dir(name: string): void {
    mkdirSync(this.target(name, true), { recursive: true, mode: 0o755 });
  }

  file(name: string, mode: number): Stream {
    const path = this.target(name);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    let fd: number;
    try {
      fd = openSync(path, "wx", (mode & 0o755) | 0o600);
    } catch (err) {
      throw new ArchiveUnsafe(`"${name}" appears twice or collides with another entry; refused`, { cause: err });
    }
    this.open.add(fd);
    return {
      data: (chunk) => {
        this.count(chunk.length);
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      },
      end: () => {
        this.open.delete(fd);
        closeSync(fd);
      },
    };
  }

  /** Close files left open by a failure. */
  closeAll(): void {
    for (const fd of this.open) closeSync(fd);
    this.open.clear();
  }

  symlink(name: string, to: string): void {
    const path = this.target(name);
    if (isAbsolute(to)) throw new ArchiveUnsafe(`symlink "${name}" → "${to}" (absolute) refused`);
    const resolved = resolve(dirname(path), to);
    if (resolved !== this.dest && !resolved.startsWith(this.dest + sep)) throw new ArchiveUnsafe(`symlink "${name}" → "${to}" leads out of the folder; refused`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    symlinkSync(to, path);
    this.links.push(path);
  }

  hardlink(name: string, to: string): void {
    const source = this.target(to);
    const st = lstatSync(source, { throwIfNoEntry: false });
    if (!st || !st.isFile()) throw new ArchiveUnsafe(`hard link "${name}" → "${to}": not an earlier regular file; refused`);
    const path = this.target(name);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    linkSync(source, path);
  }

  /** After the last entry: every symlink that resolves must resolve inside. */
  checkLinks(): void {
    for (const link of this.links) {
      let real: string;
      try {
        real = realpathSync(link);
      } catch {
        continue; // dangling, and its text was checked to stay inside
      }
      if (relative(this.dest, real).startsWith("..")) throw new ArchiveUnsafe(`symlink ${relative(this.dest, link)} resolves outside the folder; refused`);
    }
  }

  /** A stream that writes one file (the content of a .gz). */
  single(name: string): Stream {
    return this.file(name, 0o644);
  }

  /** A stream that reads a tar and writes its entries. */
  tar(): Stream {
    let current: Stream | undefined;
    const reader = new TarReader({
      entry: (e: TarEntry) => {
        current = undefined;
        if (e.type === "file") current = this.file(e.path, e.mode);
        else if (e.type === "dir") this.dir(e.path);
        else if (e.type === "symlink") this.symlink(e.path, e.linkpath);
        else if (e.type === "hardlink") this.hardlink(e.path, e.linkpath);
        else throw new ArchiveUnsafe(`"${e.path}": device, fifo or unknown entry type "${e.flag}" refused`);
      },
      data: (chunk) => current!.data(chunk),
      end: () => current?.end(),
    });
    return { data: (chunk) => reader.push(chunk), end: () => reader.finish() };
  }
}
