// A small streaming tar reader (ustar, GNU long names, pax path/linkpath/size): feed it
// bytes in any chunking, it calls back with each entry's header and body pieces. It knows
// nothing of the filesystem; src/transfer/archive.ts decides what is safe to write.
import { ArchiveUnsafe } from "../base/errors.ts";

export type EntryType = "file" | "dir" | "symlink" | "hardlink" | "other";

export interface TarEntry {
  path: string;
  type: EntryType;
  /** the raw typeflag, for messages */
  flag: string;
  size: number;
  mode: number;
  linkpath: string;
}

export interface TarSink {
  entry(e: TarEntry): void;
  data(chunk: Uint8Array): void;
  end(): void;
  /** bytes of headers and metadata records (pax, long names), which cost as much as data to read */
  meta(bytes: number): void;
}

const BLOCK = 512;
/** Largest pax / GNU long-name record kept in memory. */
const MAX_META = 1 << 20;

function text(b: Uint8Array, off: number, len: number): string {
  const s = Buffer.from(b.buffer, b.byteOffset + off, len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString("utf8");
}

// Octal, or GNU base-256 when the high bit of the first byte is set.
function number(b: Uint8Array, off: number, len: number): number {
  if (b[off]! & 0x80) {
    let v = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  const s = text(b, off, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new ArchiveUnsafe(`tar: bad number field "${s}"`);
  return parseInt(s, 8);
}

function checksumOk(h: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === number(h, 148, 8);
}

/** Parse "LEN key=value\n" pax records. */
export function parsePax(b: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const s = Buffer.from(b).toString("utf8");
  for (let pos = 0; pos < s.length; ) {
    const sp = s.indexOf(" ", pos);
    const len = Number(s.slice(pos, sp));
    if (sp < 0 || !Number.isInteger(len) || len <= 0) break;
    const rec = s.slice(sp + 1, pos + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

const TYPES: Record<string, EntryType> = { "0": "file", "\0": "file", "7": "file", "5": "dir", "2": "symlink", "1": "hardlink" };

export class TarReader {
  private head = new Uint8Array(BLOCK);
  private fill = 0;
  private remaining = 0;
  private padding = 0;
  private meta?: { flag: string; parts: Uint8Array[]; size: number };
  private pending: { path?: string; linkpath?: string; size?: number } = {};
  private done = false;

  constructor(private sink: TarSink) {}

  push(data: Uint8Array): void {
    let pos = 0;
    while (pos < data.length && !this.done) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, data.length - pos);
        this.body(data.subarray(pos, pos + n));
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.finishBody();
      } else if (this.padding > 0) {
        const n = Math.min(this.padding, data.length - pos);
        pos += n;
        this.padding -= n;
      } else {
        const n = Math.min(BLOCK - this.fill, data.length - pos);
        this.head.set(data.subarray(pos, pos + n), this.fill);
        this.fill += n;
        pos += n;
        if (this.fill === BLOCK) {
          this.fill = 0;
          this.header();
        }
      }
    }
  }

  /** The input ended: it must have ended on an entry boundary. */
  finish(): void {
    if (!this.done && (this.remaining > 0 || this.fill > 0 || this.meta)) throw new ArchiveUnsafe("tar: archive is truncated");
  }

  private header(): void {
    const h = this.head;
    if (h.every((b) => b === 0)) {
      this.done = true;
      return;
    }
    if (!checksumOk(h)) throw new ArchiveUnsafe("tar: header checksum mismatch (not a tar archive, or corrupt)");
    this.sink.meta(BLOCK);
    const flag = String.fromCharCode(h[156]!);
    let size = number(h, 124, 12);
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      if (size > MAX_META) throw new ArchiveUnsafe(`tar: ${size}-byte metadata record`);
      this.meta = { flag, parts: [], size };
      this.start(size);
      return;
    }
    const ustar = text(h, 257, 5) === "ustar";
    const prefix = ustar ? text(h, 345, 155) : "";
    const name = text(h, 0, 100);
    const p = this.pending;
    this.pending = {};
    if (p.size !== undefined) size = p.size;
    const entry: TarEntry = {
      path: p.path ?? (prefix ? `${prefix}/${name}` : name),
      type: TYPES[flag] ?? "other",
      flag,
      size: TYPES[flag] === "file" ? size : 0,
      mode: number(h, 100, 8),
      linkpath: p.linkpath ?? text(h, 157, 100),
    };
    this.sink.entry(entry);
    // Only regular files have bodies we pass on; others' bytes (if any) are skipped.
    this.meta = entry.type === "file" ? undefined : { flag: "skip", parts: [], size };
    this.start(size);
  }

  private start(size: number): void {
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (this.meta) this.sink.meta(size + this.padding);
    if (size === 0) this.finishBody();
  }

  private body(chunk: Uint8Array): void {
    if (!this.meta) return this.sink.data(chunk);
    if (this.meta.flag !== "skip") this.meta.parts.push(chunk.slice());
  }

  private finishBody(): void {
    const m = this.meta;
    this.meta = undefined;
    if (!m) return this.sink.end();
    if (m.flag === "skip" || m.flag === "g") return;
    const bytes = Buffer.concat(m.parts);
    if (m.flag === "L") this.pending.path = text(bytes, 0, bytes.length);
    else if (m.flag === "K") this.pending.linkpath = text(bytes, 0, bytes.length);
    else {
      const pax = parsePax(bytes);
      if (pax.path !== undefined) this.pending.path = pax.path;
      if (pax.linkpath !== undefined) this.pending.linkpath = pax.linkpath;
      if (pax.size !== undefined) this.pending.size = Number(pax.size);
    }
  }
}
