// Reads a zip's central directory, the archive's own list of entries at its end (zip64
// too), so the unpacker knows every entry's name, type, mode and sizes before it writes
// anything, and input that is not a zip (random bytes, a tar.gz) is refused as such. The
// local header before each entry's data must agree with the directory. Bytes in, entries
// out: src/transfer/archive.ts decides what is safe to write.
import { ArchiveUnsafe } from "../base/errors.ts";
import { shown } from "../base/printable.ts";

export interface ZipEntry {
  name: string;
  type: "file" | "dir" | "symlink" | "other";
  /** permission bits from a Unix-made zip; 0 when the zip does not say */
  mode: number;
  /** 0 stored, 8 deflate */
  method: number;
  encrypted: boolean;
  crc: number;
  csize: number;
  usize: number;
  /** where the entry's local header starts */
  offset: number;
  /** its bytes in the central directory (header, name, extra, comment), counted as unpacked metadata */
  meta: number;
}

/** Read `len` bytes at `pos` of the archive (the caller keeps both in bounds). */
export type Read = (pos: number, len: number) => Uint8Array;

const SIG = { eocd: 0x06054b50, eocd64: 0x06064b50, locator64: 0x07064b50, central: 0x02014b50, local: 0x04034b50 };
const u16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number) => (u16(b, at) | (u16(b, at + 2) << 16)) >>> 0;
function u64(b: Uint8Array, at: number): number {
  const high = u32(b, at + 4);
  if (high >= 2 ** 21) throw new ArchiveUnsafe("zip: a 64-bit size or offset past 2^53; refused");
  return high * 2 ** 32 + u32(b, at);
}
const corrupt = (what: string) => new ArchiveUnsafe(`not a valid zip archive (${what})`);

/**
 * Every entry the central directory lists (refusing more than maxEntries before reading
 * them), and where the directory starts: all entry data lies before it.
 */
export function centralDirectory(read: Read, size: number, maxEntries: number): { entries: ZipEntry[]; end: number } {
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = read(size - tailLen, tailLen);
  let at = -1;
  for (let i = tailLen - 22; i >= 0 && at < 0; i--) if (u32(tail, i) === SIG.eocd && i + 22 + u16(tail, i + 20) === tailLen) at = i;
  if (at < 0) throw corrupt("no end-of-central-directory record");
  let count = u16(tail, at + 10);
  let cdSize = u32(tail, at + 12);
  let cdOffset = u32(tail, at + 16);
  if (u16(tail, at + 4) !== 0 || u16(tail, at + 6) !== 0 || u16(tail, at + 8) !== count) throw new ArchiveUnsafe("zip: multi-part archives are not supported");
  let end = size - tailLen + at;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    if (end < 20 + 56) throw corrupt("zip64 record missing");
    const locator = read(end - 20, 20);
    if (u32(locator, 0) !== SIG.locator64) throw corrupt("zip64 locator missing");
    const pos = u64(locator, 8);
    if (pos + 56 > end - 20) throw corrupt("zip64 record out of bounds");
    const rec = read(pos, 56);
    if (u32(rec, 0) !== SIG.eocd64) throw corrupt("zip64 record missing");
    [count, cdSize, cdOffset, end] = [u64(rec, 32), u64(rec, 40), u64(rec, 48), pos];
  }
  if (count > maxEntries) throw new ArchiveUnsafe(`zip lists ${count} entries, more than max_entries ${maxEntries}; refused`);
  if (cdOffset + cdSize > end || cdSize < 46 * count) throw corrupt("central directory out of bounds");
  const cd = read(cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || u32(cd, p) !== SIG.central) throw corrupt("central directory entry expected");
    const [n, x, c] = [u16(cd, p + 28), u16(cd, p + 30), u16(cd, p + 32)];
    if (p + 46 + n + x + c > cd.length) throw corrupt("central directory entry out of bounds");
    const name = Buffer.from(cd.buffer, cd.byteOffset + p + 46, n).toString("utf8");
    const sizes = zip64Sizes(cd.subarray(p + 46 + n, p + 46 + n + x), u32(cd, p + 24), u32(cd, p + 20), u32(cd, p + 42));
    const external = u32(cd, p + 38);
    const host = cd[p + 5]!;
    // A Unix-made zip (host 3, or 19 for macOS) keeps st_mode in the high half.
    const st = host === 3 || host === 19 ? external >>> 16 : 0;
    const format = st & 0o170000;
    const type = format === 0o120000 ? "symlink" : format === 0o040000 || name.endsWith("/") || (external & 0x10) ? "dir" : format === 0 || format === 0o100000 ? "file" : "other";
    entries.push({ name, type, mode: st & 0o7777, method: u16(cd, p + 10), encrypted: (u16(cd, p + 8) & 1) === 1, crc: u32(cd, p + 16), ...sizes, meta: 46 + n + x + c });
    p += 46 + n + x + c;
  }
  if (p !== cd.length) throw corrupt(`the central directory holds more than the ${count} entries its end record counts`);
  return { entries, end: cdOffset };
}

// The sizes and offset that do not fit 32 bits come from the zip64 extra field (id 1), in this order.
function zip64Sizes(extra: Uint8Array, usize: number, csize: number, offset: number): { usize: number; csize: number; offset: number } {
  const out = { usize, csize, offset };
  for (let p = 0; p + 4 <= extra.length; p += 4 + u16(extra, p + 2)) {
    if (u16(extra, p) !== 1) continue;
    let q = p + 4;
    const end = q + u16(extra, p + 2);
    for (const k of ["usize", "csize", "offset"] as const) {
      if (out[k] !== 0xffffffff) continue;
      if (q + 8 > end) throw corrupt("zip64 extra field too short");
      out[k] = u64(extra, q);
      q += 8;
    }
  }
  return out;
}

/**
 * Where each entry's data starts: after its local header, which must carry the same name.
 * Entries' bytes lie before the directory (`end`) and never overlap: overlapping entries
 * are how the densest zip bombs reuse one compressed stream many times.
 */
export function dataStarts(read: Read, entries: ZipEntry[], end: number): number[] {
  const starts = entries.map((e) => {
    if (e.offset + 30 > end) throw corrupt(`${shown(e.name)}: local header out of bounds`);
    const h = read(e.offset, 30);
    if (u32(h, 0) !== SIG.local) throw corrupt(`${shown(e.name)}: no local header where the central directory says`);
    const [n, x] = [u16(h, 26), u16(h, 28)];
    const start = e.offset + 30 + n + x;
    if (start + e.csize > end) throw corrupt(`${shown(e.name)}: data out of bounds`);
    if (Buffer.from(read(e.offset + 30, n)).toString("utf8") !== e.name) throw corrupt(`${shown(e.name)}: local header names another file`);
    return start;
  });
  const order = entries.map((_, i) => i).sort((a, b) => entries[a]!.offset - entries[b]!.offset);
  for (let k = 1; k < order.length; k++) {
    const [prev, cur] = [order[k - 1]!, order[k]!];
    if (starts[prev]! + entries[prev]!.csize > entries[cur]!.offset) throw new ArchiveUnsafe(`zip: entries ${shown(entries[prev]!.name)} and ${shown(entries[cur]!.name)} overlap; refused as a bomb`);
  }
  return starts;
}
