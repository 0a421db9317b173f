// Builds tar archives entry by entry, including the malicious ones no tool would write.

export interface RawEntry {
  name: string;
  /** typeflag: "0" file, "5" dir, "2" symlink, "1" hard link, "3" char device, "x" pax */
  type?: string;
  body?: Uint8Array | string;
  link?: string;
  mode?: number;
}

function field(h: Buffer, off: number, len: number, value: string): void {
  h.write(value.slice(0, len), off, "utf8");
}

function octal(h: Buffer, off: number, len: number, n: number): void {
  field(h, off, len, n.toString(8).padStart(len - 1, "0") + "\0");
}

function header(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  field(h, 0, 100, e.name);
  octal(h, 100, 8, e.mode ?? 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0);
  h.write(e.type ?? "0", 156, "latin1");
  field(h, 157, 100, e.link ?? "");
  h.write("ustar\u000000", 257, "latin1");
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** A tar archive (uncompressed) of the given entries, ending with two zero blocks. */
export function tarball(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    parts.push(header(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A pax record "LEN key=value\n". */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len++;
  return `${len}${rest}`;
}
