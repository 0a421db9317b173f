// Unpacking: good archives from real tools and fflate, and hostile ones built by hand.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { zipSync } from "fflate";
import { OtterError } from "../../../src/base/errors.ts";
import { unpack } from "../../../src/transfer/archive.ts";
import { tempDir } from "../../helpers/pki.ts";
import { paxRecord, tarball, type RawEntry } from "../../helpers/tarball.ts";

const LIMITS = { maxSize: 64 * 2 ** 20, maxRatio: 200, maxEntries: 1000 };

function archive(name: string, bytes: Uint8Array): { dir: string; file: string } {
  const dir = tempDir();
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return { dir, file };
}

async function refused(file: string, kind: "gz" | "tar.gz" | "zip", dest: string, limits = LIMITS): Promise<string> {
  let caught: unknown;
  try {
    await unpack(file, kind, dest, limits);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(OtterError);
  expect((caught as OtterError).code).toBe("ARCHIVE_UNSAFE");
  expect(existsSync(dest)).toBe(false);
  return (caught as Error).message;
}

function tgz(entries: RawEntry[]): Uint8Array {
  return gzipSync(tarball(entries));
}

describe("unpack: good archives", () => {
  test(".tar.gz from the system tar: files, folders, modes, an inside symlink, a long name", async () => {
    const src = tempDir();
    const long = "d".repeat(60) + "/" + "e".repeat(60) + "/" + "f".repeat(80) + ".txt";
    mkdirSync(join(src, "tree", "bin"), { recursive: true });
    mkdirSync(join(src, "tree", "d".repeat(60), "e".repeat(60)), { recursive: true });
    writeFileSync(join(src, "tree", "bin", "run"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
    const big = randomBytes(3 * 2 ** 20);
    writeFileSync(join(src, "tree", "big.bin"), big);
    writeFileSync(join(src, "tree", long), "long name");
    symlinkSync("bin/run", join(src, "tree", "run-link"));
    const { dir, file } = archive("update.tar.gz", Buffer.alloc(0));
    execFileSync("tar", ["-czf", file, "-C", join(src, "tree"), "."]);
    const dest = join(dir, "out");
    expect(await unpack(file, "tar.gz", dest, LIMITS)).toBe(dest);
    expect(readFileSync(join(dest, "bin", "run"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(statSync(join(dest, "bin", "run")).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(dest, "big.bin")).equals(big)).toBe(true);
    expect(readFileSync(join(dest, long), "utf8")).toBe("long name");
    expect(readlinkSync(join(dest, "run-link"))).toBe("bin/run");
  });

  test(".tar.gz with a pax path and a hard link to an earlier file", async () => {
    const name = "p/" + "q".repeat(150);
    const { dir, file } = archive("u.tar.gz", tgz([
      { name: "PaxHeader", type: "x", body: paxRecord("path", name) },
      { name: "ignored", body: "pax named" },
      { name: "a.txt", body: "A" },
      { name: "b.txt", type: "1", link: "a.txt" },
    ]));
    const dest = join(dir, "out");
    await unpack(file, "tar.gz", dest, LIMITS);
    expect(readFileSync(join(dest, name), "utf8")).toBe("pax named");
    expect(readFileSync(join(dest, "b.txt"), "utf8")).toBe("A");
    expect(existsSync(join(dest, "ignored"))).toBe(false);
  });

  test(".zip (fflate) with folders and a stored and a deflated file", async () => {
    const b = randomBytes(100_000);
    const zip = zipSync({ "dir/": new Uint8Array(0), "dir/a.txt": [Buffer.from("hello"), { level: 0 }], "b.bin": b });
    const { dir, file } = archive("u.zip", zip);
    const dest = join(dir, "out");
    await unpack(file, "zip", dest, LIMITS);
    expect(readFileSync(join(dest, "dir", "a.txt"), "utf8")).toBe("hello");
    expect(readFileSync(join(dest, "b.bin")).equals(b)).toBe(true);
  });

  test(".zip from Info-ZIP: symlinks stay symlinks (as in tar) and modes are kept", async () => {
    const src = tempDir();
    writeFileSync(join(src, "run"), "#!/bin/sh\n");
    chmodSync(join(src, "run"), 0o755);
    symlinkSync("run", join(src, "link"));
    const { dir, file } = archive("u.zip", Buffer.alloc(0));
    rmSync(file);
    execFileSync("zip", ["-q", "-y", file, "run", "link"], { cwd: src });
    const dest = join(dir, "out");
    await unpack(file, "zip", dest, LIMITS);
    expect(readlinkSync(join(dest, "link"))).toBe("run");
    expect(statSync(join(dest, "run")).mode & 0o777).toBe(0o755);
  });

  test(".gz: one file named after the archive", async () => {
    const img = randomBytes(500_000);
    const { dir, file } = archive("rootfs.img.gz", gzipSync(img));
    const dest = join(dir, "out");
    await unpack(file, "gz", dest, LIMITS);
    expect(readFileSync(join(dest, "rootfs.img")).equals(img)).toBe(true);
  });

  test("an existing destination folder is replaced, not merged", async () => {
    const { dir, file } = archive("x.gz", gzipSync("new"));
    const dest = join(dir, "out");
    mkdirSync(dest);
    writeFileSync(join(dest, "stale"), "old");
    await unpack(file, "gz", dest, LIMITS);
    expect(existsSync(join(dest, "stale"))).toBe(false);
    expect(readFileSync(join(dest, "x"), "utf8")).toBe("new");
  });
});

describe("unpack: hostile archives", () => {
  test("zip-slip (../) in a zip writes nothing outside", async () => {
    const { dir, file } = archive("evil.zip", zipSync({ "ok.txt": Buffer.from("ok"), "../evil.txt": Buffer.from("pwned") }));
    const msg = await refused(file, "zip", join(dir, "out"));
    expect(msg).toContain("..");
    expect(existsSync(join(dir, "evil.txt"))).toBe(false);
  });

  test("zip-slip (../) in a tar", async () => {
    const { dir, file } = archive("evil.tar.gz", tgz([{ name: "a/../../evil.txt", body: "x" }]));
    await refused(file, "tar.gz", join(dir, "out"));
    expect(existsSync(join(dir, "evil.txt"))).toBe(false);
  });

  test("absolute paths in tar and zip", async () => {
    const t = archive("abs.tar.gz", tgz([{ name: "/tmp/otter-evil", body: "x" }]));
    expect(await refused(t.file, "tar.gz", join(t.dir, "out"))).toContain("absolute");
    const z = archive("abs.zip", zipSync({ "/otter-evil": Buffer.from("x") }));
    await refused(z.file, "zip", join(z.dir, "out"));
  });

  test("a symlink pointing out of the folder (relative or absolute)", async () => {
    const rel = archive("s.tar.gz", tgz([{ name: "link", type: "2", link: "../../etc" }]));
    expect(await refused(rel.file, "tar.gz", join(rel.dir, "out"))).toContain("leads out");
    const abs = archive("s2.tar.gz", tgz([{ name: "link", type: "2", link: "/etc" }]));
    await refused(abs.file, "tar.gz", join(abs.dir, "out"));
  });

  test("a file written through an earlier symlink is refused", async () => {
    const { dir, file } = archive("s3.tar.gz", tgz([
      { name: "inner/", type: "5" },
      { name: "link", type: "2", link: "inner" },
      { name: "link/x", body: "through" },
    ]));
    expect(await refused(file, "tar.gz", join(dir, "out"))).toContain("symlink");
  });

  test("links that each look inside but resolve outside together are refused", async () => {
    // sub/up → ".." is the folder itself; "sub/up/../u.tar.gz" reads as sub/u.tar.gz but is the archive beside the folder.
    const { dir, file } = archive("u.tar.gz", tgz([
      { name: "sub/", type: "5" },
      { name: "sub/up", type: "2", link: ".." },
      { name: "out", type: "2", link: "sub/up/../u.tar.gz" },
      { name: "a.txt", body: "A" },
    ]));
    expect(await refused(file, "tar.gz", join(dir, "out"))).toContain("resolves outside the folder");
  });

  test("a hard link to a symlink, or to a folder, is refused", async () => {
    const { dir, file } = archive("h.tar.gz", tgz([{ name: "a", body: "A" }, { name: "l", type: "2", link: "a" }, { name: "h", type: "1", link: "l" }]));
    expect(await refused(file, "tar.gz", join(dir, "out"))).toContain("not an earlier regular file");
    const d = archive("h.tar.gz", tgz([{ name: "d/", type: "5" }, { name: "h", type: "1", link: "d" }]));
    await refused(d.file, "tar.gz", join(d.dir, "out"));
  });

  test("a file-system error names the entry and its cause, never the gzip layer", async () => {
    const dup = archive("d.tar.gz", tgz([{ name: "a/b", body: "1" }, { name: "a/b", body: "2" }]));
    expect(await refused(dup.file, "tar.gz", join(dup.dir, "out"))).toBe('"a/b" appears twice or collides with another entry; refused');
    const under = archive("f.tar.gz", tgz([{ name: "a", body: "1" }, { name: "a/b", body: "2" }]));
    expect(await refused(under.file, "tar.gz", join(under.dir, "out"))).toBe('"a/b" passes through the file "a"; refused');
    const long = archive("l.tar.gz", tgz([{ name: "x", type: "x", body: paxRecord("path", "n".repeat(300)) }, { name: "f", body: "F" }]));
    const message = await refused(long.file, "tar.gz", join(long.dir, "out"));
    expect(message).toMatch(/^"n{79}…: a name in it is longer than 255 bytes; refused$/);
  });

  test("a hard link to a file outside", async () => {
    const { dir, file } = archive("h.tar.gz", tgz([{ name: "h", type: "1", link: "../../etc/passwd" }]));
    await refused(file, "tar.gz", join(dir, "out"));
    expect(lstatSync(dir).isDirectory()).toBe(true);
  });

  test("device files and fifos", async () => {
    const { dir, file } = archive("dev.tar.gz", tgz([{ name: "null", type: "3" }]));
    expect(await refused(file, "tar.gz", join(dir, "out"))).toContain("device");
  });

  test("a gzip bomb is refused by ratio and by total size", async () => {
    const bomb = archive("bomb.img.gz", gzipSync(Buffer.alloc(100 * 2 ** 20), { level: 9 }));
    expect(await refused(bomb.file, "gz", join(bomb.dir, "out"))).toContain("bomb");
    const big = archive("big.gz", gzipSync(Buffer.alloc(2 * 2 ** 20, 1)));
    expect(await refused(big.file, "gz", join(big.dir, "out"), { maxSize: 2 ** 20, maxRatio: 1e6, maxEntries: 1000 })).toContain("max_unpacked_size");
  });

  test("tar.gz and zip bombs", async () => {
    const t = archive("bomb.tar.gz", tgz([{ name: "zeros", body: Buffer.alloc(50 * 2 ** 20) }]));
    await refused(t.file, "tar.gz", join(t.dir, "out"));
    const z = archive("bomb.zip", zipSync({ zeros: [Buffer.alloc(50 * 2 ** 20), { level: 9 }] }));
    await refused(z.file, "zip", join(z.dir, "out"));
  });

  test("truncated and non-gzip input", async () => {
    const whole = tgz([{ name: "a", body: Buffer.alloc(100_000, 5) }]);
    const cut = archive("cut.tar.gz", whole.subarray(0, whole.length - 200));
    await refused(cut.file, "tar.gz", join(cut.dir, "out"));
    const junk = archive("junk.gz", Buffer.from("this is not gzip at all"));
    await refused(junk.file, "gz", join(junk.dir, "out"));
  });
});
