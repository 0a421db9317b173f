// The zip central-directory reader on bytes: what fflate and Info-ZIP write, and the
// structures a hostile zip uses (a lying end record, overlapping entries, a local header
// that names another file, input that is no zip at all).
import { describe, expect, test } from "bun:test";
import { zipSync } from "fflate";
import { centralDirectory, dataStarts } from "../../../src/transfer/zip.ts";

const reader = (b: Uint8Array) => (pos: number, len: number) => b.subarray(pos, pos + len);
const read = (b: Uint8Array, max = 1000) => centralDirectory(reader(b), b.length, max);
const u32at = (b: Uint8Array, sig: number) => {
  for (let i = b.length - 4; i >= 0; i--) if (new DataView(b.buffer, b.byteOffset).getUint32(i, true) === sig) return i;
  throw new Error("signature not found");
};
const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;

describe("centralDirectory", () => {
  test("lists names, types and sizes before any data is read", () => {
    const zip = zipSync({ "dir/": new Uint8Array(0), "dir/a.txt": new TextEncoder().encode("hello"), "b.bin": new Uint8Array(1000) });
    const { entries, end } = read(zip);
    expect(entries.map((e) => [e.name, e.type, e.usize])).toEqual([["dir/", "dir", 0], ["dir/a.txt", "file", 5], ["b.bin", "file", 1000]]);
    const starts = dataStarts(reader(zip), entries, end);
    expect(starts).toHaveLength(3);
    expect(starts.every((s, i) => s > entries[i]!.offset && s + entries[i]!.csize <= end)).toBe(true);
  });

  test("random bytes and a gzip are not a zip", () => {
    expect(() => read(new Uint8Array(64).fill(7))).toThrow("not a valid zip archive (no end-of-central-directory record)");
    expect(() => read(Bun.gzipSync(new TextEncoder().encode("hello")))).toThrow("no end-of-central-directory record");
    expect(() => read(new Uint8Array(0))).toThrow("no end-of-central-directory record");
  });

  test("more entries than the cap are refused from the end record alone", () => {
    const zip = zipSync({ a: new Uint8Array(0), b: new Uint8Array(0), c: new Uint8Array(0) });
    expect(() => read(zip, 2)).toThrow("zip lists 3 entries, more than max_entries 2");
  });

  test("an end record that counts fewer entries than the directory holds is refused", () => {
    const zip = zipSync({ a: new Uint8Array(0), b: new Uint8Array(0) });
    const at = u32at(zip, EOCD);
    const view = new DataView(zip.buffer, zip.byteOffset);
    view.setUint16(at + 8, 1, true);
    view.setUint16(at + 10, 1, true);
    expect(() => read(zip)).toThrow("holds more than the 1 entries its end record counts");
  });

  test("two directory entries over the same bytes are refused as a bomb", () => {
    const zip = zipSync({ a: new Uint8Array(100) });
    const cd = u32at(zip, CENTRAL);
    const eocd = u32at(zip, EOCD);
    const entry = zip.subarray(cd, eocd);
    const twice = new Uint8Array(zip.length + entry.length);
    twice.set(zip.subarray(0, eocd));
    twice.set(entry, eocd);
    twice.set(zip.subarray(eocd), eocd + entry.length);
    const view = new DataView(twice.buffer);
    const at = eocd + entry.length;
    view.setUint16(at + 8, 2, true);
    view.setUint16(at + 10, 2, true);
    view.setUint32(at + 12, 2 * entry.length, true);
    const { entries, end } = read(twice);
    expect(() => dataStarts(reader(twice), entries, end)).toThrow('entries "a" and "a" overlap; refused as a bomb');
  });

  test("a local header that names another file is refused", () => {
    const zip = zipSync({ good: new Uint8Array(10) });
    const { entries, end } = read(zip);
    zip[30] = "e".charCodeAt(0); // the local header's name: "eood"
    expect(() => dataStarts(reader(zip), entries, end)).toThrow('"good": local header names another file');
  });
});
