// What reaches the install hook, run as a local attacker and a hostile archive would, against
// the built binary: files planted at otter's names, links where otter writes, folders of
// another user, journals naming other paths, archives that are not what they claim or that
// never end, and a download folder emptied between a SIGKILL and the next start.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync, chownSync, existsSync, linkSync, lchownSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync,
  symlinkSync, truncateSync, writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { zipSync } from "fflate";
import { tempDir } from "../../helpers/pki.ts";
import { killMidDownload, perTest, type Ini, type Rig } from "../../helpers/rig.ts";
import { paxRecord, tarball, type RawEntry } from "../../helpers/tarball.ts";

const fx = perTest();
const OTHER_UID = 1000;

// The install hook records what it was given: a file's text, or each entry of a folder
// ("name: text", "name -> link"), and the path.
function rig(set: Ini = {}): Rig {
  const r = fx.rig({ hooks: ["install"], set });
  r.writeHook("install", `echo "$4" > "$T/given-path"
if [ -d "$4" ]; then (cd "$4" && find . ! -type d | sort | while read -r f; do if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f: $(cat "$f")"; fi; done) > "$T/given"; else cat "$4" > "$T/given"; fi`);
  return r;
}

const given = (r: Rig) => (existsSync(join(r.dir, "given")) ? readFileSync(join(r.dir, "given"), "utf8") : undefined);
const finals = () => fx.server.finals().map((x) => `${x.status}:${x.state}`);
const fileGets = () => fx.server.requests.filter((q) => q.method === "GET" && !q.path.endsWith(".json")).length;
const dl = (r: Rig) => join(r.dir, "dl");

/** Publish version 1.0.0 (an archive when `archive` is given); returns the final file's path for rig `r`. */
function publish(r: Rig, body: string | Uint8Array, archive?: string): string {
  const m = fx.server.publish("release", "1.0.0", body as string | Uint8Array<ArrayBuffer>, archive ? { archive } : {});
  return join(dl(r), `release_1.0.0_${m.sha256.slice(0, 12)}.img`);
}

/** A folder otter would have made: created 0700 by root before the attacker's move. */
function ownedDl(r: Rig): string {
  mkdirSync(dl(r), { mode: 0o700 });
  return dl(r);
}

function victim(r: Rig): string {
  const path = join(r.dir, "victim");
  writeFileSync(path, "precious");
  return path;
}

const tgz = (entries: RawEntry[]) => new Uint8Array(gzipSync(tarball(entries)));

describe("class 1: every install is preceded by verification of the bytes the hook gets", () => {
  test("a file planted at the final name is never handed over: the download is verified and replaces it", async () => {
    const r = rig();
    const final = publish(r, "good image");
    ownedDl(r);
    writeFileSync(final, "evil image");
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(given(r)).toBe("good image");
    expect(finals()).toEqual(["SUCCEEDED:complete_no_version_check"]);
  });

  test("killed in install, then the file swapped on disk: the next start verifies again and downloads afresh", async () => {
    const r = rig();
    const final = publish(r, "good image");
    await r.powerCutAt("install");
    writeFileSync(final, "evil image"); // same length: only the digest can tell
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(res.stderr).toContain("changed on disk since it was downloaded; downloading it again");
    expect(given(r)).toBe("good image");
    expect(fileGets()).toBe(2);
    expect(finals()).toEqual(["SUCCEEDED:complete_no_version_check"]);
  });

  test("killed in verify with a file planted at the final name and the part file gone: the planted file is refused", async () => {
    const r = rig();
    const final = publish(r, "good image");
    await r.powerCutAt("install");
    r.editJournal(({ job }) => Object.assign(job, { state: "verify", starts: {}, hooks: {} }));
    writeFileSync(final, "evil image");
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(given(r)).toBe("good image");
    expect(fileGets()).toBe(2);
  });

  test("a download_location owned by another user is refused in one line naming it and the fix", async () => {
    const r = rig();
    publish(r, "good image");
    chownSync(ownedDl(r), OTHER_UID, OTHER_UID);
    const res = await r.run();
    expect(res.code).toBe(2);
    const lines = res.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`[service] download_location ${dl(r)}: ${dl(r)} is owned by uid ${OTHER_UID}`);
    expect(lines[0]).toContain("chown 0");
    expect(fileGets()).toBe(0);
    expect(r.log()).toEqual([]);
  });

  test("a download_location writable by others, or below a folder writable by others, is refused", async () => {
    const r = rig();
    publish(r, "good image");
    chmodSync(ownedDl(r), 0o777);
    let res = await r.run();
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${dl(r)} is writable by others (mode 777)`);
    const open = join(r.dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777); // not sticky: anyone may rename otter's folder away and put theirs
    r.configure({ service: { download_location: join(open, "dl") } });
    res = await r.run();
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${open} is writable by others (mode 777)`);
    expect(fileGets()).toBe(0);
  });

  test("a state_dir of another user is refused too", async () => {
    const r = rig();
    publish(r, "good image");
    mkdirSync(r.state, { mode: 0o700 });
    chownSync(r.state, OTHER_UID, OTHER_UID);
    const res = await r.run();
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`[service] state_dir ${r.state}: ${r.state} is owned by uid ${OTHER_UID}`);
  });

  test("a symlink another user planted as download_location in a sticky folder is refused", async () => {
    const r = rig();
    publish(r, "good image");
    const sticky = join(r.dir, "sticky");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const real = ownedDl(r); // root's, 0700: only the link is the attacker's, and they can repoint it
    symlinkSync(real, join(sticky, "dl"));
    lchownSync(join(sticky, "dl"), OTHER_UID, OTHER_UID);
    r.configure({ service: { download_location: join(sticky, "dl") } });
    const res = await r.run();
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${join(sticky, "dl")} is owned by uid ${OTHER_UID}`);
  });

  test("download_location defaults to STATE_DIR/downloads, created 0700", async () => {
    const r = rig({ service: { download_location: "" } });
    publish(r, "good image");
    expect((await r.run()).code).toBe(0);
    expect(readFileSync(join(r.dir, "given-path"), "utf8")).toStartWith(join(r.state, "downloads") + "/");
    expect(statSync(join(r.state, "downloads")).mode & 0o777).toBe(0o700);
  });
});

describe("class 2: otter never follows a link or reuses a file it did not create", () => {
  test("a symlink planted at the part file's name: the file it points to is untouched", async () => {
    const r = rig();
    const final = publish(r, "good image");
    const precious = victim(r);
    ownedDl(r);
    symlinkSync(precious, `${final}.part`);
    expect((await r.run()).code).toBe(0);
    expect(readFileSync(precious, "utf8")).toBe("precious");
    expect(given(r)).toBe("good image");
  });

  // Killed with 1 MiB written, then the part file swapped for a link or a second name of
  // another file: resuming must neither truncate nor write it.
  const big = "1.0.0".padEnd(2 * 2 ** 20, "\n");
  for (const [kind, plant] of [
    ["a symlink", (target: string, at: string) => symlinkSync(target, at)],
    ["a hard link", (target: string, at: string) => linkSync(target, at)],
  ] as const) {
    test(`killed mid-download, the part file replaced by ${kind}: the resume never writes through it`, async () => {
      const r = rig();
      const final = publish(r, big);
      await killMidDownload(r, fx.server, "/release-1.0.0.img", 2 ** 20);
      const precious = victim(r);
      rmSync(`${final}.part`);
      plant(precious, `${final}.part`);
      const res = await r.run();
      expect(res.code).toBe(0);
      expect(res.stderr).toContain("not otter's file; refused; starting again in a new file");
      expect(readFileSync(precious, "utf8")).toBe("precious");
      expect(given(r)).toBe(big);
    });
  }

  test("a symlink planted at the unpack folder's name: the folder it points to is untouched", async () => {
    const r = rig();
    const final = publish(r, tgz([{ name: "a.txt", body: "A" }]), "tar.gz");
    const elsewhere = join(r.dir, "elsewhere");
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "keep"), "keep");
    ownedDl(r);
    symlinkSync(elsewhere, `${final}.d`);
    expect((await r.run()).code).toBe(0);
    expect(given(r)).toBe("./a.txt: A\n");
    expect(readdirSync(elsewhere)).toEqual(["keep"]);
  });
});

describe("class 6: paths in the journal are trusted only inside download_location", () => {
  for (const where of ["any file", "a part file in another folder"]) {
    test(`a journal whose part file is ${where} cannot make otter write there`, async () => {
      const r = rig();
      publish(r, "1.0.0".padEnd(2 * 2 ** 20, "\n"));
      await killMidDownload(r, fx.server, "/release-1.0.0.img", 2 ** 20);
      const precious = where === "any file" ? victim(r) : join(r.dir, "precious.img.part");
      writeFileSync(precious, "precious");
      r.editJournal(({ job }) => void (job.download.partPath = precious));
      const res = await r.run();
      expect(res.code).toBe(0);
      expect(res.stderr).toContain("not a part file in download_location; downloading afresh");
      expect(readFileSync(precious, "utf8")).toBe("precious");
      expect(finals()).toEqual(["SUCCEEDED:complete_no_version_check"]);
    });
  }
});

/** Run a rig on an archive; returns the final report's message after checking it was refused. */
async function rejected(body: Uint8Array, archive: string, set: Ini = {}): Promise<string> {
  const r = rig(set);
  publish(r, body, archive);
  const res = await r.run();
  expect(res.code).toBe(1);
  expect(given(r)).toBeUndefined();
  const final = fx.server.finals().at(-1)!;
  expect(`${final.status}:${final.state}`).toBe("FAILED:archive_rejected");
  expect(readdirSync(dl(r))).toEqual([]);
  const message = final.message as string;
  expect(message.length).toBeLessThan(300);
  return message;
}

describe("class 7: archives are bounded in entries and inodes, metadata included", () => {
  test("more entries than max_entries are refused, empty files included", async () => {
    const entries = Array.from({ length: 1500 }, (_, i) => ({ name: `e${i}` }));
    expect(await rejected(tgz(entries), "tar.gz", { verify: { max_entries: "1000" } })).toContain("more than max_entries 1000");
  });

  test("folders a path implies count as entries", async () => {
    const deep = Array.from({ length: 150 }, (_, i) => `d${i}`).join("/");
    const body = tgz([{ name: "x", type: "x", body: paxRecord("path", `${deep}/f`) }, { name: "ignored", body: "F" }]);
    expect(await rejected(body, "tar.gz", { verify: { max_entries: "100" } })).toContain("more than max_entries 100");
  });

  test("headers and names count as unpacked bytes: 2,000 empty files with long names exceed 1 MiB", async () => {
    const entries = Array.from({ length: 2000 }, (_, i) => [
      { name: "x", type: "x", body: paxRecord("path", `${"n".repeat(200)}${i}`) },
      { name: "ignored" },
    ]).flat();
    expect(await rejected(tgz(entries), "tar.gz", { verify: { max_unpacked_size: "1M" } })).toContain("max_unpacked_size");
  });

  test("a zip listing 100,001 entries (zip64) is refused with the defaults before anything is written", async () => {
    const dir = tempDir();
    execFileSync("python3", ["-c", "import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n  for i in range(100001): z.writestr(f'e{i}', b'')", join(dir, "z.zip")]);
    expect(await rejected(new Uint8Array(readFileSync(join(dir, "z.zip"))), "zip")).toContain("100001 entries, more than max_entries 100000");
  });
});

describe("class 12 and honest outcomes: an archive that is not what it claims, or that holds nothing, is archive_rejected", () => {
  test("a duplicate entry names the entry, not the gzip layer", async () => {
    const message = await rejected(tgz([{ name: "a.txt", body: "1" }, { name: "a.txt", body: "2" }]), "tar.gz");
    expect(message).toContain('"a.txt" appears twice');
    expect(message).not.toContain("gzip");
  });

  test("a name the file system cannot take says so, in a short line", async () => {
    const long = "n".repeat(5000);
    const message = await rejected(tgz([{ name: "x", type: "x", body: paxRecord("path", long) }, { name: "ignored", body: "F" }]), "tar.gz");
    expect(message).toContain("longer than 255 bytes");
    expect(message).not.toContain("appears twice");
  });

  test("random bytes, or a tar.gz, declared zip", async () => {
    const random = new Uint8Array(createHash("sha512").update("seed").digest());
    expect(await rejected(random, "zip")).toContain("not a valid zip archive");
    expect(await rejected(tgz([{ name: "a.txt", body: "A" }]), "zip")).toContain("not a valid zip archive");
    expect(await rejected(random, "tar.gz")).toContain("not a valid gzip file");
  });

  test("archives that unpack to nothing: a zip of one folder, a tar.gz without entries, an empty .gz", async () => {
    expect(await rejected(zipSync({ "dir/": new Uint8Array(0) }), "zip")).toContain("unpacks to nothing");
    expect(await rejected(new Uint8Array(gzipSync(Buffer.alloc(1024))), "tar.gz")).toContain("unpacks to nothing");
    expect(await rejected(new Uint8Array(gzipSync(Buffer.alloc(0))), "gz")).toContain("unpacks to nothing");
  });

  // Made by Info-ZIP's `zip -y`, which stores a link as its target text with S_IFLNK in the mode.
  function zipWithLink(target: string): Uint8Array {
    const dir = tempDir();
    writeFileSync(join(dir, "real.txt"), "R");
    symlinkSync(target, join(dir, "link"));
    execFileSync("zip", ["-q", "-y", "out.zip", "real.txt", "link"], { cwd: dir });
    return new Uint8Array(readFileSync(join(dir, "out.zip")));
  }

  test("zip symlinks are kept like tar's when they stay inside, refused when they lead out", async () => {
    const r = rig();
    publish(r, zipWithLink("real.txt"), "zip");
    expect((await r.run()).code).toBe(0);
    expect(given(r)).toBe("./link -> real.txt\n./real.txt: R\n");
    expect(await rejected(zipWithLink("../../../etc/passwd"), "zip")).toContain("leads out of the folder");
  });
});

describe("after a power cut: the hook never gets what a lost page cache leaves", () => {
  test("killed in install, the unpacked files emptied: the next start unpacks again from the re-verified archive", async () => {
    const r = rig();
    const final = publish(r, tgz([{ name: "boot/", type: "5" }, { name: "boot/kernel", body: "K" }, { name: "rootfs", body: "R" }]), "tar.gz");
    await r.powerCutAt("install");
    for (const f of ["boot/kernel", "rootfs"]) truncateSync(join(`${final}.d`, f), 0);
    expect((await r.run()).code).toBe(0);
    expect(given(r)).toBe("./boot/kernel: K\n./rootfs: R\n");
    expect(fileGets()).toBe(1);
  });
});

describe("a download folder emptied between a SIGKILL and the next start means download again", () => {
  test("killed in install, the folder deleted", async () => {
    const r = rig();
    publish(r, "good image");
    await r.powerCutAt("install");
    rmSync(dl(r), { recursive: true });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(given(r)).toBe("good image");
    expect(fileGets()).toBe(2);
    expect(finals()).toEqual(["SUCCEEDED:complete_no_version_check"]);
  });

  const canMount = (() => {
    const probe = tempDir();
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" });
      execFileSync("umount", [probe]);
      return true;
    } catch {
      console.log("skipped: the tmpfs tests need mount(8) permission (root in a mount namespace)");
      return false;
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  })();

  const mountTmpfs = (dir: string) => execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", dir]);

  for (const killedIn of ["verify", "install"] as const) {
    test.skipIf(!canMount)(`killed in ${killedIn}, the tmpfs download folder empty after the "reboot" (archive)`, async () => {
      const r = rig();
      const final = publish(r, tgz([{ name: "a.txt", body: "A" }]), "tar.gz");
      mountTmpfs(ownedDl(r));
      try {
        await r.powerCutAt("install");
        if (killedIn === "verify") {
          // verify has no hook to pause in: the instant before the verified rename
          renameSync(final, `${final}.part`);
          r.editJournal(({ job }) => Object.assign(job, { state: "verify", starts: {}, hooks: {} }));
        }
        execFileSync("umount", [dl(r)]);
        mountTmpfs(dl(r));
        const res = await r.run();
        expect(res.code).toBe(0);
        expect(res.stderr).toContain("is gone; downloading it again");
        expect(given(r)).toBe("./a.txt: A\n");
        expect(fileGets()).toBe(2);
        expect(finals()).toEqual(["SUCCEEDED:complete_no_version_check"]);
      } finally {
        execFileSync("umount", [dl(r)]);
      }
    });
  }
});
