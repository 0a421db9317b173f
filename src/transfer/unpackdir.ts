// The folder an archive unpacks into, written like openat(2) would: every file, folder and
// link is created new (O_EXCL, O_NOFOLLOW, mkdir without -p) inside a fresh 0700 folder, by
// relative paths whose every component this writer made itself as a folder, so nothing is
// written through a link or into something already there. Bounds: bytes (data, headers and
// names), the packed/unpacked ratio, and inodes (entries, and folders a path implies).
import { closeSync, linkSync, mkdirSync, realpathSync, symlinkSync, writeSync } from "node:fs";
import { join, posix, relative } from "node:path";
import { ArchiveUnsafe, DownloadNoSpace, OtterError } from "../base/errors.ts";
import { shown } from "../base/printable.ts";
import { createExclusive } from "../base/ownfiles.ts";

export interface UnpackLimits {
  /** bytes of data, headers and names */
  maxSize: number;
  /** unpacked bytes per packed byte */
  maxRatio: number;
  /** files, folders and links created */
  maxEntries: number;
}

export interface Stream {
  data(chunk: Uint8Array): void;
  end(): void;
}

/** Longest name of one path component on Linux file systems, and of a whole relative path. */
const NAME_MAX = 255;
const PATH_MAX = 4000;
/** Longest symlink target kept. */
const LINK_MAX = 4095;

export class UnpackDir {
  private bytes = 0;
  private inodes = 0;
  /** files and links made: an archive with none unpacks to nothing */
  private nodes = 0;
  /** relative paths of the folders made ("" is the root) and of everything else made */
  private readonly dirs = new Set<string>([""]);
  private readonly others = new Map<string, "file" | "link">();
  private readonly links: string[] = [];
  private readonly open = new Set<number>();

  /** `dest` is a fresh, empty folder of otter's; `packed` the archive's size in bytes. */
  constructor(private readonly dest: string, private readonly packed: number, readonly limits: UnpackLimits) {}

  // An entry's path relative to the folder ("" for the folder itself, if `root`), refusing
  // names that could land outside or that no file system takes.
  private rel(name: string, root = false): string {
    if (name.includes("\0")) throw new ArchiveUnsafe(`entry name with a NUL byte refused`);
    if (name.startsWith("/") || /^[A-Za-z]:/.test(name) || name.startsWith("\\")) throw new ArchiveUnsafe(`absolute path ${shown(name)} refused`);
    const parts = name.split(/[/\\]+/).filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) throw new ArchiveUnsafe(`path with ".." (${shown(name)}) refused`);
    if (parts.length === 0 && !root) throw new ArchiveUnsafe(`empty entry name refused`);
    if (parts.some((p) => Buffer.byteLength(p) > NAME_MAX)) throw new ArchiveUnsafe(`${shown(name)}: a name in it is longer than ${NAME_MAX} bytes; refused`);
    const rel = parts.join("/");
    if (Buffer.byteLength(rel) > PATH_MAX) throw new ArchiveUnsafe(`${shown(name)}: path longer than ${PATH_MAX} bytes; refused`);
    return rel;
  }

  /** Count unpacked bytes (data or metadata) against max_unpacked_size and max_ratio. */
  count(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxSize) throw new ArchiveUnsafe(`unpacks to more than max_unpacked_size ${this.limits.maxSize} bytes; refused`);
    if (this.bytes > this.limits.maxRatio * this.packed) {
      throw new ArchiveUnsafe(`unpacks to more than ${this.limits.maxRatio}× its ${this.packed} packed bytes (max_ratio); refused as a bomb`);
    }
  }

  private inode(): void {
    if (++this.inodes > this.limits.maxEntries) throw new ArchiveUnsafe(`holds more than max_entries ${this.limits.maxEntries} files, folders and links; refused`);
  }

  // Run a file-system call for entry `name`; its failure becomes one line naming the entry.
  private fs<T>(name: string, what: string, call: () => T): T {
    try {
      return call();
    } catch (err) {
      if (err instanceof OtterError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      if (code === "ENOSPC" || code === "EDQUOT") {
        throw new DownloadNoSpace(`no space left on device to ${what} ${shown(name)} in ${this.dest}; free space in download_location`, { cause: err });
      }
      if (code === "EEXIST") throw new ArchiveUnsafe(`${shown(name)} appears twice or collides with another entry; refused`, { cause: err });
      throw new ArchiveUnsafe(`cannot ${what} ${shown(name)}: ${code}`, { cause: err });
    }
  }

  // Make the folders above `rel` (each one new, or one this writer made), never passing
  // through a file or link.
  private parents(name: string, rel: string): void {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const sub = parts.slice(0, i).join("/");
      if (this.dirs.has(sub)) continue;
      if (this.others.get(sub) === "link") throw new ArchiveUnsafe(`${shown(name)} passes through a symlink; refused`);
      if (this.others.has(sub)) throw new ArchiveUnsafe(`${shown(name)} passes through the file ${shown(sub)}; refused`);
      this.inode();
      this.fs(name, "create the folder for", () => mkdirSync(join(this.dest, sub), { mode: 0o755 }));
      this.dirs.add(sub);
    }
  }

  // A new name for a file or link: not taken, its folders made.
  private claim(name: string, kind: "file" | "link"): string {
    const rel = this.rel(name);
    if (this.dirs.has(rel) || this.others.has(rel)) throw new ArchiveUnsafe(`${shown(name)} appears twice or collides with another entry; refused`);
    this.parents(name, rel);
    this.inode();
    this.others.set(rel, kind);
    this.nodes++;
    return rel;
  }

  dir(name: string): void {
    const rel = this.rel(name, true);
    if (this.dirs.has(rel)) return; // listed again, or after a file inside it
    if (this.others.has(rel)) throw new ArchiveUnsafe(`${shown(name)} appears twice or collides with another entry; refused`);
    this.parents(name, rel);
    this.inode();
    this.fs(name, "create the folder", () => mkdirSync(join(this.dest, rel), { mode: 0o755 }));
    this.dirs.add(rel);
  }

  file(name: string, mode: number): Stream {
    const rel = this.claim(name, "file");
    const fd = this.fs(name, "create", () => createExclusive(join(this.dest, rel), (mode & 0o755) | 0o600));
    this.open.add(fd);
    return {
      data: (chunk) => {
        this.count(chunk.length);
        this.fs(name, "write", () => {
          for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
        });
      },
      end: () => {
        this.open.delete(fd);
        closeSync(fd);
      },
    };
  }

  symlink(name: string, to: string): void {
    if (to.startsWith("/")) throw new ArchiveUnsafe(`symlink ${shown(name)} → ${shown(to)} (absolute) refused`);
    if (to === "" || to.includes("\0") || Buffer.byteLength(to) > LINK_MAX) throw new ArchiveUnsafe(`symlink ${shown(name)}: empty, NUL or over-long target refused`);
    const rel = this.rel(name);
    const resolved = posix.normalize(posix.join(posix.dirname(rel), to));
    if (resolved === ".." || resolved.startsWith("../")) throw new ArchiveUnsafe(`symlink ${shown(name)} → ${shown(to)} leads out of the folder; refused`);
    this.claim(name, "link");
    this.fs(name, "create the symlink", () => symlinkSync(to, join(this.dest, rel)));
    this.links.push(rel);
  }

  /** A symlink whose target arrives as data (zip keeps it as the entry's content). */
  symlinkFromData(name: string): Stream {
    const parts: Buffer[] = [];
    let size = 0;
    return {
      data: (chunk) => {
        size += chunk.length;
        if (size > LINK_MAX) throw new ArchiveUnsafe(`symlink ${shown(name)}: target longer than ${LINK_MAX} bytes refused`);
        this.count(chunk.length);
        parts.push(Buffer.from(chunk));
      },
      end: () => this.symlink(name, Buffer.concat(parts).toString("utf8")),
    };
  }

  hardlink(name: string, to: string): void {
    const source = this.rel(to);
    if (this.others.get(source) !== "file") throw new ArchiveUnsafe(`hard link ${shown(name)} → ${shown(to)}: not an earlier regular file; refused`);
    const rel = this.claim(name, "file");
    this.fs(name, "create the hard link", () => linkSync(join(this.dest, source), join(this.dest, rel)));
  }

  /** Close files left open by a failure. */
  closeAll(): void {
    for (const fd of this.open) closeSync(fd);
    this.open.clear();
  }

  /** After the last entry: something was unpacked, and every symlink that resolves stays inside. */
  finish(): void {
    if (this.nodes === 0) throw new ArchiveUnsafe("unpacks to nothing (no file in it); refused");
    for (const link of this.links) {
      let real: string;
      try {
        real = realpathSync(join(this.dest, link));
      } catch {
        continue; // dangling, and its text was checked to stay inside
      }
      if (relative(this.dest, real).startsWith("..")) throw new ArchiveUnsafe(`symlink ${shown(link)} resolves outside the folder; refused`);
    }
  }
}
