// Local storage faults mid-download (issue 12 case 4), against the built binary on real
// tmpfs mounts: a full download_location or a read-only state_dir is a pause naming the
// path, never a network failure; no download attempt is spent, and a daemon waits it out.
import { afterEach, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, type Running } from "../../helpers/flakyserver.ts";
import { perTest, waitFor } from "../../helpers/rig.ts";

const MiB = 2 ** 20;
const mounts: string[] = [];
const servers: Running[] = [];
// registered before perTest's: the mounts go before the rigs' folders are removed
afterEach(async () => {
  while (mounts.length) execFileSync("umount", ["-l", mounts.pop()!]);
  while (servers.length) await servers.pop()!.close();
});
const fx = perTest();

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// Mount a tmpfs of `size` at dir; false (with the reason printed) where mounting is not permitted.
function tmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    console.log(`skipped: cannot mount a tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`);
    return false;
  }
  mounts.push(dir);
  return true;
}

const remount = (dir: string, opts: string) => execFileSync("mount", ["-o", `remount,${opts}`, dir]);

// Make dir read-only for every new open, as a remount would (which the files otter holds
// open would refuse): a read-only bind mount over it. Returns the way back.
function readOnly(dir: string): () => void {
  execFileSync("mount", ["--bind", dir, dir]);
  mounts.push(dir);
  execFileSync("mount", ["-o", "remount,bind,ro", dir]);
  return () => {
    execFileSync("umount", [dir]);
    mounts.splice(mounts.lastIndexOf(dir), 1);
  };
}

describe("local storage errors are a pause, not a network failure", () => {
  test("download_location fills up mid-download: --once pauses naming the part file (exit 3), spends no attempt, and resumes once there is room", async () => {
    const file = randomBytes(3 * MiB);
    // no size in the manifest and no Content-Length: only the write can find the disk full
    const s = await startServer((_, r) => r.serve(file, { etag: '"s"', noLength: true }));
    servers.push(s);
    fx.server.files.set("/release.json", new TextEncoder().encode(JSON.stringify({ version: "2.0.0", url: `${s.url}/img`, sha256: sha(file) })));
    const r = fx.rig({ hooks: ["install"], set: { download: { max_attempts: "1" } } });
    if (!tmpfs(join(r.dir, "dl"), "1m")) return;
    const first = await r.run();
    expect(first.code).toBe(3);
    expect(first.stdout).toMatch(new RegExp(`paused in download: cannot write ${r.dir}/dl/[^ ]+\\.part: no space left \\(ENOSPC\\)`));
    expect(first.stdout).not.toContain("attempts");
    expect(r.journal().job.state).toBe("download");
    remount(join(r.dir, "dl"), "size=8m");
    const second = await r.run();
    expect(second.code).toBe(0);
    expect(sha(readFileSync(join(r.dir, "staged")))).toBe(sha(file));
  }, 60_000);

  test("state_dir turns read-only mid-download: the daemon waits (never exits), then finishes the job once it is writable", async () => {
    const file = randomBytes(4 * MiB);
    fx.server.publish("release", "2.0.0", file);
    const r = fx.rig({ hooks: ["install"], set: { download: { max_attempts: "1" } } });
    if (!tmpfs(r.state, "4m")) return;
    const hold = fx.server.holdAt("/release-2.0.0.img", MiB);
    const daemon = r.start(["run"]);
    let stderr = "";
    void new Response(daemon.stderr).text().then((t) => (stderr = t));
    await hold.reached;
    const writable = readOnly(r.state);
    hold.release();
    // the journal cannot take the next checkpoint: the job pauses, and keeps retrying
    await Bun.sleep(3000);
    expect(daemon.exitCode).toBeNull();
    writable();
    await waitFor(() => fx.server.finals().length > 0, 30_000, "the final report");
    daemon.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(fx.server.finals().map((x) => `${x.status}:${x.state}`)).toEqual(["SUCCEEDED:complete_no_version_check"]);
    expect(sha(readFileSync(join(r.dir, "staged")))).toBe(sha(file));
    expect(stderr).toContain(`paused in download: cannot write ${r.state}/journal.json: read-only file system (EROFS)`);
    expect(stderr).not.toContain("download: retrying");
  }, 60_000);

  test("a stale lock in a read-only state_dir: the real cause, not \"another otter is starting\"", async () => {
    const r = fx.rig({ hooks: ["install"] });
    if (!tmpfs(r.state, "1m")) return;
    // a dead holder's lock: otter would take it over, if it could write there
    writeFileSync(join(r.state, "otter.lock"), JSON.stringify({ pid: 2 ** 22 + 1, startTicks: "1", since: "2026-01-01T00:00:00Z", command: "otter run" }));
    readOnly(r.state);
    const res = await r.run();
    expect(res.code).toBe(3);
    expect(res.stderr).toContain(`cannot write ${r.state}/otter.lock: read-only file system (EROFS)`);
    expect(res.stderr).not.toContain("another otter is starting");
  });
});
