// What otter tells a fleet, end to end with the built binary: every outcome true, every
// failure classed by a stable code, no "nothing to do" that hides a broken source, no sleep
// a cron run pays for, and the rollback hook told what failed.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeCA, serverCert, tempDir } from "../../helpers/pki.ts";
import { killMidDownload, perTest, waitFor, type Rig } from "../../helpers/rig.ts";
import { tlsFront } from "../../helpers/tlsfront.ts";

const fx = perTest();

describe("failure reports carry a stable code", () => {
  test("report_url bodies, history and otter status say which class of failure it was", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    fx.server.files.delete("/release-1.0.0.img"); // the manifest names a file the server does not have
    const r = fx.rig();
    expect((await r.run()).code).toBe(1);
    expect(fx.server.finals()[0]).toMatchObject({ status: "FAILED", state: "download_failed", code: "DOWNLOAD_HTTP" });
    const status = JSON.parse((await r.run(["status", "--json"])).stdout);
    expect(status.history.at(-1)).toMatchObject({ state: "download_failed", code: "DOWNLOAD_HTTP" });
  });

  test("a file larger than max_file_size has a state and code of its own", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0".padEnd(4096, "\n"));
    const r = fx.rig({ set: { download: { max_file_size: "1K" } } });
    expect((await r.run()).code).toBe(1);
    expect(fx.server.finals()[0]).toMatchObject({ status: "FAILED", state: "download_too_large", code: "DOWNLOAD_TOO_LARGE" });
  });

  test("a failed install hook: installation_hook_failed, HOOK_FAILED; a success carries no code", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    r.exits("install", 7);
    expect((await r.run()).code).toBe(1);
    expect(fx.server.finals()[0]).toMatchObject({ state: "installation_hook_failed", code: "HOOK_FAILED" });
    fx.server.publish("release", "1.0.1", "1.0.1");
    expect((await r.run()).code).toBe(0);
    expect(fx.server.finals()[1]!.state).toBe("complete_ready");
    expect(fx.server.finals()[1]!.code).toBeUndefined();
  });
});

describe("a failed hook's message tells what the hook said", () => {
  test("an installer that explains on stdout (RAUC): the message has both streams' last lines", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    r.writeHook("install", `echo "LastError: Failed mounting bundle: signature invalid"; echo "Installing failed" >&2; exit 1`);
    expect((await r.run()).code).toBe(1);
    const message = fx.server.finals()[0]!.message;
    expect(message).toContain("Exit code: 1");
    expect(message).toContain("LastError: Failed mounting bundle: signature invalid");
    expect(message).toContain("Installing failed");
  });

  test("a timed-out hook: what it printed before the kill, not the shell's \"Terminated\"", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig({ set: { hooks: { timeout: "1", kill_grace: "1" } } });
    // A cleanup trap keeps the shell alive past TERM, and dash then reports its killed child.
    r.writeHook("install", `trap 'exit 143' TERM; echo "flashing slot b"; sleep 30`);
    expect((await r.run()).code).toBe(1);
    const final = fx.server.finals()[0]!;
    expect(final).toMatchObject({ state: "installation_hook_failed", code: "HOOK_TIMEOUT" });
    expect(final.message).toMatch(/install hook ran past its 1 s timeout and was killed: flashing slot b; rolled back$/);
    expect(final.message).not.toContain("Terminated");
  });
});

describe("the rollback hook is told what failed", () => {
  const failIn: Record<string, [string, (r: Rig) => void]> = {
    install: ["HOOK_FAILED", (r) => r.exits("install", 7)],
    restart: ["HOOK_FAILED", (r) => r.exits("restart", 7)],
    version: ["VERSION_MISMATCH", (r) => r.writeHook("install", 'echo 0.9.5 > "$T/staged"')],
    ready: ["HOOK_FAILED", (r) => r.exits("ready", 1)],
  };
  test.each(Object.keys(failIn))("failed in %s: the phase is its 5th argument and OTTER_FAILED_PHASE", async (phase) => {
    const [code, arm] = failIn[phase]!;
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    r.writeHook("rollback", 'echo "$5|$OTTER_FAILED_PHASE|$OTTER_FAILED_CODE" > "$T/rolled"');
    arm(r);
    expect((await r.run()).code).toBe(1);
    expect(readFileSync(join(r.dir, "rolled"), "utf8").trim()).toBe(`${phase}|${phase}|${code}`);
    expect(fx.server.finals()[0]!.message).toContain("rolled back");
  });
});

describe("--once from cron never sleeps through a postponement", () => {
  test("a hook's exit 3 journals the pause and exits 3 at once; the next run goes on with RETRY and ELAPSED", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    // retry_interval 1 h: a run that slept it would time the test out. max_starts 1: picking
    // up a paused job is no start for the loop guard.
    const r = fx.rig({ set: { hooks: { retry_interval: "1h", max_retries: "5" }, service: { max_starts: "1" } } });
    r.exits("download", 3, 3);
    const t0 = Date.now();
    const first = await r.run();
    expect(first.code).toBe(3);
    expect(first.stdout).toContain("paused in downloadHook");
    expect(r.journal().job).toMatchObject({ state: "downloadHook", pausedIn: "downloadHook", hooks: { downloadHook: { retries: 1 } } });
    await Bun.sleep(1100); // so ELAPSED grows
    expect((await r.run()).code).toBe(3);
    const last = await r.run();
    expect(last.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(60_000);
    const runs = r.log().filter((l) => l.startsWith("download start")).map((l) => l.split(" ").slice(2, 4));
    expect(runs.map(([, retry]) => retry)).toEqual(["0", "1", "2"]);
    expect(Number(runs[2]![0])).toBeGreaterThanOrEqual(1); // seconds since the first call, kept across runs
    expect(r.journal().job).toBeUndefined();
    expect(fx.server.finals().map((f) => f.state)).toEqual(["complete_ready"]);
  });
});

describe("no install hook", () => {
  // Upparat's README makes it mandatory; without it a job ended "SUCCEEDED" with nothing installed.
  test("otter refuses to start and check-config says so: exit 2, the same one line naming [hooks] install; nothing fetched, nothing reported", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig({ hooks: ["version", "restart", "ready"] });
    const line = "otter.ini [hooks] install: not set; otter installs an update only through this hook; e.g. install = /usr/local/bin/otter-install";
    const check = await r.run(["check-config"]);
    expect(check.code).toBe(2);
    expect(check.stderr.split("\n").filter((l) => l.includes(line))).toHaveLength(1);
    for (const args of [["--once"], ["install", join(r.dir, "version"), "--version", "1.0.0"]]) {
      const res = await r.run(args);
      expect(res.code).toBe(2);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.stderr).toContain(line);
    }
    expect(fx.server.requests).toEqual([]);
    expect(fx.server.reports).toEqual([]);
  });
});

describe("a source otter could not read or understand is no 'nothing to do'", () => {
  test("an invalid manifest: exit 5, a WARNING, otter status and otter plan name it; fixed, it is gone", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0", { sha256: "abc" });
    const r = fx.rig();
    const res = await r.run();
    expect(res.code).toBe(5);
    expect(res.stdout).toContain('"sha256": expected 64 hex digits');
    expect(res.stdout).not.toMatch(/^otter: nothing to do/m);
    expect(res.stderr).toMatch(/WARNING .*manifest release .*"sha256": expected 64 hex digits/);
    const status = await r.run(["status"]);
    expect(status.stdout).toMatch(/source problem: channel release since \S+ \(MANIFEST_INVALID\): manifest release/);
    expect(JSON.parse((await r.run(["status", "--json"])).stdout).sourceProblems).toMatchObject([{ where: "channel release", code: "MANIFEST_INVALID" }]);
    expect((await r.run(["plan"])).stdout).toContain("could not ask: channel release: manifest release");
    fx.server.publish("release", "1.0.0", "1.0.0");
    expect((await r.run()).code).toBe(0);
    expect((await r.run(["status"])).stdout).not.toContain("source problem");
  });

  // (An http:// channel itself is a config error now, exit 2: check-config's.)
  test("an https manifest naming an http:// file without allow_http: exit 5, the refusal names the key", async () => {
    const dir = tempDir();
    const ca = makeCA(dir, "ca");
    const front = await tlsFront(fx.server.url, serverCert(dir, ca));
    try {
      fx.server.publish("release", "1.0.0", "1.0.0", { url: `${fx.server.url}/release-1.0.0.img` });
      const r = fx.rig({ serverUrl: front.url, set: { download: { allow_http: "false", cafile: ca.certFile }, service: { report_url: "" } } });
      const res = await r.run();
      expect(res.code).toBe(5);
      expect(res.stdout).toContain("set [download] allow_http = true");
      expect(fx.server.requests.map((q) => q.path)).toEqual(["/release.json"]);
    } finally {
      front.close();
    }
  });

  test("one channel unreachable, the other has nothing: exit 3, not 'nothing to do'", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig({ version: "1.0.0", set: { channels: { nightly: "http://127.0.0.1:1/nightly.json" }, policy: { priority: "release, nightly" } } });
    const res = await r.run();
    expect(res.code).toBe(3);
    expect(res.stdout).toMatch(/nightly\.json: .*; of the rest: nothing to do/);
    expect((await r.run(["status"])).stdout).toContain("source problem: channel nightly");
  });
});

// Issue 12 case 2: a power cut after the install hook completed, before the journal moved on.
describe("an install run again after otter was cut off during install", () => {
  test("fails, but the device already runs the target: success through restart, version and ready", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    // The first run installs (the new slot boots at once) and the power goes; run again, the
    // installer refuses to write the slot it runs from.
    r.writeHook("install", `if [ -f "$T/once" ]; then echo "refusing to install into the booted slot" >&2; exit 1; fi
cp "$4" "$T/staged"; cp "$T/staged" "$T/version"; touch "$T/once"; kill -9 $PPID; sleep 5`);
    expect((await r.run()).code).not.toBe(0); // cut off by its own install hook
    expect(r.journal().job.state).toBe("install");
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(res.stderr).toContain("the first run completed");
    expect(r.log().filter((l) => /^(restart|ready) start/.test(l)).map((l) => l.split(" ")[0])).toEqual(["restart", "ready"]);
    expect(fx.server.finals().map((f) => `${f.status}:${f.state}`)).toEqual(["SUCCEEDED:complete_ready"]);
    expect(r.count("rollback done")).toBe(0);
  });

  test("fails and the old version runs: INSTALL_INTERRUPTED, and the version is offered again, not 'tried here before'", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    r.writeHook("install", `if [ ! -f "$T/cut" ]; then touch "$T/cut"; kill -9 $PPID; sleep 5; fi; cp "$4" "$T/staged"`);
    r.exits("install", 0, 1); // the first run goes to the cut, the rerun fails
    expect((await r.run()).code).not.toBe(0);
    const failed = await r.run();
    expect(failed.code).toBe(1);
    expect(fx.server.finals()[0]).toMatchObject({ status: "FAILED", state: "installation_hook_failed", code: "INSTALL_INTERRUPTED" });
    expect(fx.server.finals()[0]!.message).toContain("run again after otter was cut off during install; version 0.9.0 runs");
    const again = await r.run();
    expect(again.code).toBe(0);
    expect(fx.server.finals()[1]).toMatchObject({ status: "SUCCEEDED", state: "complete_ready" });
    expect(r.version()).toBe("1.0.0");
  });

  // The rule counts runs of the hook, not starts of the install state: here install was
  // entered twice (the file was gone, so it was downloaded again) and the hook ran once.
  test("a file downloaded again before install makes no rerun: the hook's first run failing is HOOK_FAILED, final", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const closed = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][(new Date().getDay() + 3) % 7];
    const r = fx.rig({ set: { policy: { window: `${closed} 00:00-24:00` } } });
    expect((await r.run()).code).toBe(3); // downloaded and verified; the install waits for the window
    const dl = join(r.dir, "dl");
    for (const f of readdirSync(dl)) rmSync(join(dl, f), { recursive: true }); // a tmpfs a reboot emptied
    r.configure({ policy: { window: "00:00-24:00" } });
    r.exits("install", 1);
    expect((await r.run()).code).toBe(1);
    expect(fx.server.requests.filter((q) => q.path === "/release-1.0.0.img")).toHaveLength(2);
    expect(r.log().filter((l) => l.startsWith("install start"))).toHaveLength(1);
    expect(fx.server.finals()[0]).toMatchObject({ status: "FAILED", state: "installation_hook_failed", code: "HOOK_FAILED" });
    const log = r.log();
    expect(log.slice(log.indexOf("install exit 1")).filter((l) => l.startsWith("version start"))).toEqual([]); // not asked as after a cut
  });
});

describe("a local fault that comes back at every check", () => {
  // INTERNAL is a local fault (not "tried here before"), so a bug that always throws fetched
  // the update again at every check, for ever: after 3 such jobs the offer counts as tried.
  test("3 jobs end INTERNAL, each a download; then the offer counts as tried, otter plan says why, nothing is fetched", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    const images = () => fx.server.requests.filter((q) => q.path === "/release-1.0.0.img").length;
    // A folder where the verified file is to get its name: the rename fails with EISDIR,
    // an error otter has no class for. A failed job clears it, so it is planted before each run.
    const plant = () => mkdirSync(join(r.dir, "dl", `release_1.0.0_${createHash("sha256").update("1.0.0").digest("hex").slice(0, 12)}.img`, "x"), { recursive: true });
    for (let i = 1; i <= 3; i++) {
      plant();
      expect((await r.run()).code).toBe(1);
      expect(fx.server.finals()[i - 1]).toMatchObject({ status: "FAILED", code: "INTERNAL" });
      expect(images()).toBe(i);
    }
    plant();
    const plan = await r.run(["plan"]);
    expect(plan.stdout).toMatch(/- release:1\.0\.0:\w+ failed: release 1\.0\.0 was tried here before and is not taken again: 3 jobs of it ended here in a fault of the device or the moment, the last FAILED \(\w+, INTERNAL\) on \S+; after 3 such an update counts as tried/);
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("nothing to do");
    expect(images()).toBe(3);
    expect(JSON.parse((await r.run(["status", "--json"])).stdout).history.at(-1)).toMatchObject({ code: "INTERNAL", localFaults: 3 });
  });
});

describe("Upparat compatibility", () => {
  // Upparat dashboards draw their bar from download_progress.
  test("a download of a few seconds sends its first download_progress early, then at most one per progress_interval", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0".padEnd(256 * 1024, "\n"));
    // 16 KiB every 250 ms: about 4 s, well under the default progress_interval of 15 s.
    fx.server.slow("/release-1.0.0.img", 16 * 1024, 250);
    const r = fx.rig();
    expect((await r.run()).code).toBe(0);
    const states = fx.server.reports.map((x) => x.state);
    const progress = fx.server.reports.filter((x) => x.state === "download_progress");
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(states.indexOf("download_progress")).toBeLessThan(states.indexOf("installation_start"));
    expect(JSON.parse(progress[0]!.message).downloaded_bytes).toBeLessThan(256 * 1024);
    const at = progress.map((x) => Date.parse(x.at));
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(15_000 - 50);
  });
});

describe("a higher-priority offer preempts a lower one still before install", () => {
  const finals = () => fx.server.finals().map((f) => `${f.status}:${f.state}:${f.jobId.split(":").slice(0, 2).join(":")}`);
  const image = (channel: string, version: string) => `/${channel}-${version}.img`;

  test("daemon: nightly downloading, release arrives: nightly stopped (REJECTED superseded), release installs, nightly may come again", async () => {
    fx.server.publish("release", "0.5.0", "0.5.0"); // older than what runs: nothing to take
    fx.server.publish("nightly", "1.1.0", "1.1.0".padEnd(256 * 1024, "\n"));
    fx.server.slow(image("nightly", "1.1.0"), 8 * 1024, 250); // ~8 s
    const r = fx.rig({ channels: ["release", "nightly"] });
    const daemon = r.start([]);
    try {
      await waitFor(() => r.journal()?.job?.state === "download", 20_000, "the nightly download");
      fx.server.publish("release", "1.0.5", "1.0.5");
      await waitFor(() => fx.server.finals().length >= 1, 20_000, "the nightly job to end");
      fx.server.slow(image("nightly", "1.1.0"), 1 << 30, 0);
      await waitFor(() => fx.server.finals().length >= 3, 30_000, "release, then nightly again");
    } finally {
      daemon.kill("SIGTERM");
      await daemon.exited;
    }
    expect(finals()).toEqual(["REJECTED:superseded:nightly:1.1.0", "SUCCEEDED:complete_ready:release:1.0.5", "SUCCEEDED:complete_ready:nightly:1.1.0"]);
    const superseded = fx.server.finals()[0]!;
    expect(superseded.code).toBe("SUPERSEDED");
    expect(superseded.message).toMatch(/superseded by release:1\.0\.5:\w+ \(release ranks above nightly\) during download; nothing was installed/);
    expect(r.log().filter((l) => l.startsWith("install start")).map((l) => l.split(" ").at(-1)!.split("/").at(-1))).toEqual([
      expect.stringMatching(/^release_1\.0\.5/), expect.stringMatching(/^nightly_1\.1\.0/),
    ]);
  });

  test("daemon: once install has started, the lower job finishes and reports honestly", async () => {
    fx.server.publish("release", "0.5.0", "0.5.0");
    fx.server.publish("nightly", "1.1.0", "1.1.0");
    const r = fx.rig({ channels: ["release", "nightly"] });
    r.writeHook("install", 'echo $$ > "$T/at-install"; while [ ! -f "$T/go" ]; do sleep 0.05; done; cp "$4" "$T/staged"');
    const daemon = r.start([]);
    try {
      await r.pausedPid("install");
      fx.server.publish("release", "1.0.5", "1.0.5");
      await Bun.sleep(2500); // past two check_intervals: time for a preemption that must not come
      writeFileSync(join(r.dir, "go"), "");
      await waitFor(() => fx.server.finals().length >= 1, 20_000, "the nightly job to end");
    } finally {
      daemon.kill("SIGTERM");
      await daemon.exited;
    }
    expect(finals()).toEqual(["SUCCEEDED:complete_ready:nightly:1.1.0"]); // release 1.0.5 is older than what now runs
    expect(r.version()).toBe("1.1.0");
  });

  test("--once resuming a lower job's download: superseded at once, the higher installs in the same run", async () => {
    fx.server.publish("nightly", "1.1.0", "1.1.0".padEnd(4 * 2 ** 20, "\n"));
    fx.server.publish("release", "0.5.0", "0.5.0");
    const r = fx.rig({ channels: ["release", "nightly"] });
    await killMidDownload(r, fx.server, image("nightly", "1.1.0"), 2 ** 20);
    fx.server.holdAt(image("nightly", "1.1.0")); // the resumed download gets no byte: only a preemption ends it
    fx.server.publish("release", "1.0.5", "1.0.5");
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(finals()).toEqual(["REJECTED:superseded:nightly:1.1.0", "SUCCEEDED:complete_ready:release:1.0.5"]);
    expect(r.version()).toBe("1.0.5");
  });
});
