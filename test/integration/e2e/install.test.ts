// `otter install` as an operator uses it, against the built binary: a local file with the
// default config, usage errors that report nothing, a job already under way, signatures under
// require_signature, and a file handed to the otter that holds the lock (the queue).
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, sign } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issue, makeCA, makeKey, tempDir } from "../../helpers/pki.ts";
import { killGroup, killMidDownload, perTest, waitFor, type Ini, type Rig } from "../../helpers/rig.ts";

const fx = perTest();
const daemons: ReturnType<Rig["start"]>[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) {
    d.kill("SIGTERM");
    await d.exited;
  }
});

// The shipped [download] default (allow_http = false); the channel is https, so nothing is refused.
function rig(set: Ini = {}): Rig {
  return fx.rig({ set: { ...set, download: { allow_http: "false", ...set.download }, channels: { release: "https://127.0.0.1:9/release.json" } } });
}

/** An update file `version` in the rig's folder; returns its path and sha256. */
function image(r: Rig, version: string): { path: string; sha256: string } {
  const path = join(r.dir, `image-${version}.img`);
  writeFileSync(path, `${version}\n`);
  return { path, sha256: createHash("sha256").update(`${version}\n`).digest("hex") };
}

const history = (r: Rig) => (existsSync(join(r.state, "history.json")) ? JSON.parse(readFileSync(join(r.state, "history.json"), "utf8")) : []);

describe("otter install for an operator", () => {
  test("a local path installs with the default config (no allow_http)", async () => {
    const r = rig();
    const { path, sha256 } = image(r, "2.0.0");
    const res = await r.run(["install", path, "--version", "2.0.0", "--sha256", sha256]);
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED complete_ready")]);
    expect(r.version()).toBe("2.0.0");
  });

  test.each([
    ["a missing file", (r: Rig) => join(r.dir, "absent.img"), "absent.img: no such file; give the path of the update file (or its URL)"],
    ["a folder", (r: Rig) => r.dir, "not a regular file"],
  ])("%s is a usage error (exit 2): one line, no report, no job, no history", async (_what, where, line) => {
    const r = rig({ service: { report_url: `${fx.server.url}/report` } });
    const res = await r.run(["install", where(r), "--version", "2.0.0"]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split("\n").filter((l) => l.includes(line))).toHaveLength(1);
    expect(fx.server.reports).toEqual([]);
    expect(r.journal()?.job).toBeUndefined();
    expect(history(r)).toEqual([]);
  });

  test("a job already under way: one line naming it, exit 2, the job left as it was (never resumed in the file's place)", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0".padEnd(256 * 1024, "\n"));
    const r = fx.rig();
    await killMidDownload(r, fx.server, "/release-1.0.0.img", 64 * 1024);
    const before = readFileSync(join(r.state, "journal.json"), "utf8");
    const { path } = image(r, "2.0.0");
    const res = await r.run(["install", path, "--version", "2.0.0"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/a job is under way: release:1\.0\.0:\w+ \(version 1\.0\.0\) in download; finish it \(otter --once, or start the daemon\), then run otter install again/);
    expect(readFileSync(join(r.state, "journal.json"), "utf8")).toBe(before);
    expect(fx.server.requests.filter((q) => q.path === "/release-1.0.0.img")).toHaveLength(1);
    expect(r.log().some((l) => l.startsWith("install start"))).toBe(false);
  });

  test("under require_signature: refused up front without --signature; --signature FILE (raw or base64) and BASE64 install; a wrong one fails verification", async () => {
    const key = makeKey(tempDir(), "signer", "ec256");
    const pub = join(tempDir(), "signer.pub.pem");
    execFileSync("openssl", ["pkey", "-in", key, "-pubout", "-out", pub]);
    const r = rig({ verify: { public_key: pub, require_signature: "true" } });
    const { path } = image(r, "2.0.0");
    const unsigned = await r.run(["install", path, "--version", "2.0.0"]);
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toContain("otter install: signatures required: require_signature = true; pass --signature FILE|BASE64");
    for (const [i, form] of ["a file of raw bytes", "a file of base64", "base64 text"].entries()) {
      const version = `2.0.${i}`;
      const { path: file } = image(r, version);
      const s = sign("sha256", readFileSync(file), readFileSync(key, "utf8")); // openssl dgst -sha256 -sign
      const arg = i === 2 ? s.toString("base64") : join(r.dir, `image-${version}.sig`);
      if (i < 2) writeFileSync(arg, i === 0 ? s : s.toString("base64") + "\n");
      const res = await r.run(["install", file, "--version", version, "--signature", arg]);
      expect([form, res.code, res.stdout]).toEqual([form, 0, expect.stringContaining("SUCCEEDED")]);
      expect(r.version()).toBe(version);
    }
    const wrong = await r.run(["install", path, "--version", "2.0.0", "--signature", Buffer.alloc(64, 7).toString("base64")]);
    expect([wrong.code, wrong.stdout]).toEqual([1, expect.stringContaining("verification_failed")]);
  });

  test("--certificate carries the signer certificate that must chain to [verify] ca", async () => {
    const dir = tempDir();
    const ca = makeCA(dir, "code-ca");
    const signer = issue(dir, ca, "signer");
    const r = rig({ verify: { ca: ca.certFile } });
    const { path } = image(r, "2.0.0");
    const s = sign("sha256", readFileSync(path), signer.key).toString("base64");
    const res = await r.run(["install", path, "--version", "2.0.0", "--signature", s, "--certificate", signer.certFile]);
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED")]);
    const alone = await r.run(["install", path, "--version", "2.0.0", "--certificate", signer.certFile]);
    expect([alone.code, alone.stderr]).toEqual([2, expect.stringContaining("--certificate goes with --signature")]);
  });
});

describe("otter install while another otter holds the lock", () => {
  test("the daemon takes the queued file as its next job at once (no check_interval wait) and reports it to report_url", async () => {
    const r = rig({ service: { check_interval: "3600", report_url: `${fx.server.url}/report` } });
    const daemon = r.start(["run"]);
    daemons.push(daemon);
    await waitFor(() => existsSync(join(r.state, "otter.lock")), 10_000, "the daemon's lock");
    const { path, sha256 } = image(r, "2.0.0");
    const res = await r.run(["install", path, "--version", "2.0.0", "--sha256", sha256]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/queued version 2\.0\.0: the daemon \(pid \d+\) installs it as its next job/);
    await waitFor(() => fx.server.finals().length === 1, 20_000, "the queued job's final report");
    expect(fx.server.finals()[0]).toMatchObject({ jobId: expect.stringMatching(/^manual:2\.0\.0:[0-9a-f]{12}$/), status: "SUCCEEDED" });
    expect(r.version()).toBe("2.0.0");
    expect(existsSync(join(r.state, "install-queue.json"))).toBe(false);
  });

  test("a --once holder leaves it to the next run, which first finishes the job under way; a second request while one waits is refused", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    r.pauseAt("download");
    const holder = r.start(["--once"]);
    const hook = await r.pausedPid("download");
    const a = image(r, "2.0.0");
    const queued = await r.run(["install", a.path, "--version", "2.0.0"]);
    expect(queued.code).toBe(0);
    expect(queued.stdout).toMatch(/queued version 2\.0\.0: otter pid \d+ \(otter --once\) holds the lock; the next otter run \(the daemon, or --once\) installs it/);
    expect((await r.run(["status"])).stdout).toContain(`queued otter install: 2.0.0 from ${a.path}, queued at`);
    const second = await r.run(["install", image(r, "3.0.0").path, "--version", "3.0.0"]);
    expect([second.code, second.stderr]).toEqual([2, expect.stringContaining("another otter install is queued already")]);
    killGroup(hook); // a power cut: the holder never took the queue
    holder.kill("SIGKILL");
    await holder.exited;
    const first = await r.run();
    expect([first.code, first.stdout]).toEqual([0, expect.stringMatching(/release:1\.0\.0:\w+ \(version 1\.0\.0\): SUCCEEDED/)]);
    const next = await r.run();
    expect([next.code, next.stdout]).toEqual([0, expect.stringMatching(/manual:2\.0\.0:\w+ \(version 2\.0\.0\): SUCCEEDED/)]);
    expect(r.version()).toBe("2.0.0");
    expect(existsSync(join(r.state, "install-queue.json"))).toBe(false);
  });

  test.each([
    ["not JSON", () => "{half", "install queue unreadable (not JSON"],
    ["of the wrong shape", () => JSON.stringify({ id: 5 }), "install queue unreadable (id: expected a string of at most 4096 characters, got 5)"],
    ["a file that is gone", (r: Rig) => JSON.stringify({ id: "0123456789ab", queuedAt: "t", where: join(r.dir, "gone.img"), version: "2.0.0" }), "queued otter install of 2.0.0 dropped: "],
  ])("a queue file %s: one line, nothing installed, the check goes on", async (_what, text, line) => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    mkdirSync(r.state, { recursive: true });
    writeFileSync(join(r.state, "install-queue.json"), text(r));
    const res = await r.run();
    expect(res.stderr).toContain(line);
    expect([res.code, r.version()]).toEqual([0, "1.0.0"]);
    expect(fx.server.finals().map((f) => f.jobId)).toEqual([expect.stringMatching(/^release:1\.0\.0:/)]);
  });
});
