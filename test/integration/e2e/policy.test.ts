// The update policy end to end: the built otter against real manifest channels on
// 127.0.0.1, real hook scripts, a real supervised workload and real `otter approve/deny`
// processes. Time passes for real only where the feature is time (auto_approve_after).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { diesWithin, isAlive, OTHER_BOOT } from "../../helpers/procs.ts";
import { Rig, killGroup, killMidDownload, waitFor, type Ini } from "../../helpers/rig.ts";
import { UpdateServer } from "../../helpers/updateserver.ts";

let server: UpdateServer;
const rigs: Rig[] = [];
const daemons: ReturnType<Rig["start"]>[] = [];
beforeEach(() => {
  server = new UpdateServer();
});
afterEach(async () => {
  for (const d of daemons.splice(0)) {
    d.kill("SIGTERM");
    await d.exited;
  }
  server.stop();
  rigs.splice(0).forEach((r) => r.cleanup());
});

const CHANNELS = ["release", "weekly", "nightly"];

// A channel whose manifest is missing is a source problem (exit 5 where there is nothing
// to do): a test that expects "nothing to do" lists only the channels it publishes.
function rig(policy: Record<string, string> = {}, set: Ini = {}, channels = CHANNELS): Rig {
  const r = new Rig({ serverUrl: server.url, channels, set: { ...set, policy } });
  rigs.push(r);
  return r;
}

/** Soak and test period as shipped (the rig's own defaults are 0: no policy in the way). */
const SHIPPED = { min_soak: "30", test_period: "168" };

/** A device otter knows: the journal says it runs its version of `channel`, installed `ranHours` ago. */
function known(r: Rig, channel: string, ranHours = 1000): void {
  mkdirSync(r.state, { recursive: true });
  const running = { version: r.version(), channel, installedAt: Date.now() - ranHours * 3_600_000 };
  writeFileSync(join(r.state, "journal.json"), JSON.stringify({ schema: 1, outbox: [], running }));
}

/** GETs the server saw of a published image (not its manifest). */
const imageGets = (channel: string, version: string) => server.requests.filter((q) => q.method === "GET" && q.path === `/${channel}-${version}.img`).length;

function approvalIdIn(text: string): string {
  const m = /otter approve ([0-9a-f]{8})/.exec(text);
  if (!m) throw new Error(`no approval id in: ${text}`);
  return m[1]!;
}

/** A daemon whose stderr is collected as it runs. */
function daemon(r: Rig) {
  const p = r.start(["run"]);
  daemons.push(p);
  const out = { stderr: "" };
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of p.stderr) out.stderr += decoder.decode(chunk);
  })();
  return { p, out };
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

describe("approvals", () => {
  test("an allowed update waits for otter approve (exit 3, id printed, nothing downloaded), then installs", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig({ approvals: "true" });
    const first = await r.run();
    expect(first.code).toBe(3);
    const id = approvalIdIn(first.stdout);
    expect(imageGets("release", "1.0.0")).toBe(0);
    const status = await r.run(["status"]);
    expect(status.stdout).toContain(`pending approval: ${id}`);
    // An unknown id is refused with the pending ones listed.
    const wrong = await r.run(["approve", "0badc0de"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`no update waits for approval 0badc0de; pending: ${id}`);
    expect((await r.run(["approve", id])).code).toBe(0);
    const second = await r.run();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("SUCCEEDED complete_ready");
    expect(r.version()).toBe("1.0.0");
    expect((await r.run(["status"])).stdout).not.toContain("pending approval");
  });

  test("a denied update is never installed, and plan says why", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig({ approvals: "true" }, {}, ["release"]);
    const id = approvalIdIn((await r.run()).stdout);
    expect((await r.run(["deny", id])).code).toBe(0);
    const again = await r.run();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing to do");
    expect(r.count("install done")).toBe(0);
    expect(imageGets("release", "1.0.0")).toBe(0);
    expect((await r.run(["plan"])).stdout).toContain(`${id} was denied with otter deny`);
  });

  test("a deny is lifted only by an explicit otter approve (issue 11 case 11), never by auto_approve_after", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig({ approvals: "true", auto_approve_after: "1s" });
    const id = approvalIdIn((await r.run()).stdout);
    const denied = await r.run(["deny", id]);
    expect(denied.stdout).toContain(`denied ${id}; it is never installed unless approved`);
    await Bun.sleep(1500); // past auto_approve_after
    expect((await r.run()).stdout).toContain(`${id} was denied with otter deny`);
    expect((await r.run(["approve", id])).code).toBe(0);
    expect((await r.run()).stdout).toContain("SUCCEEDED complete_ready");
    expect(r.version()).toBe("1.0.0");
  });

  test("auto_approve_after approves a pending update once it has waited that long", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig({ approvals: "true", auto_approve_after: "2s" });
    const first = await r.run();
    expect(first.code).toBe(3);
    expect(first.stdout).toContain("auto-approved at");
    const id = approvalIdIn(first.stdout);
    const since: number = JSON.parse(readFileSync(join(r.state, "approvals.json"), "utf8")).pendingSince[id];
    const status = JSON.parse((await r.run(["status", "--json"])).stdout);
    expect(status.pendingApprovals).toEqual([{ id, since, autoApproveAt: since + 2000 }]);
    let last = first;
    for (let i = 0; i < 40 && last.code === 3; i++) {
      await Bun.sleep(250);
      last = await r.run();
    }
    expect(last.code).toBe(0);
    expect(r.version()).toBe("1.0.0");
    expect(r.journal().running.installedAt).toBeGreaterThanOrEqual(since + 2000);
  });

  test("a denied id is never auto-approved", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig({ approvals: "true", auto_approve_after: "1s" });
    const id = approvalIdIn((await r.run()).stdout);
    expect((await r.run(["deny", id])).code).toBe(0);
    const since: number = JSON.parse(readFileSync(join(r.state, "approvals.json"), "utf8")).pendingSince[id];
    await waitFor(() => Date.now() > since + 1500, 5000, "auto_approve_after to pass");
    expect((await r.run()).stdout).toContain("nothing to do");
    expect(r.count("install done")).toBe(0);
  });

  test("approve and deny racing a daemon that notes pending ids lose no write", async () => {
    // Each approve/deny rewrites the file, which wakes the daemon to check (and note) again.
    const r = rig({ approvals: "true" }, { service: { check_interval: "1" } });
    // Ids the CLI may act on: known to the approvals file before the race.
    const ids = Array.from({ length: 24 }, (_, i) => (0x10000000 + i).toString(16));
    const seed = { approved: [], denied: [], pendingSince: Object.fromEntries(ids.map((id) => [id, 1])) };
    mkdirSync(r.state, { recursive: true });
    writeFileSync(join(r.state, "approvals.json"), JSON.stringify(seed));
    const { p, out } = daemon(r);
    // Meanwhile the daemon notes a new pending id for each nightly it is offered.
    const publishing = (async () => {
      for (let v = 1; v <= 12; v++) {
        server.publish("nightly", `0.${v}.0`, `0.${v}.0`);
        await Bun.sleep(100);
      }
    })();
    // Three waves of eight processes at once, while new versions appear.
    const codes: number[] = [];
    for (let wave = 0; wave < 3; wave++) {
      const batch = ids.slice(wave * 8, wave * 8 + 8).map((id, j) => r.run([(wave * 8 + j) % 2 ? "deny" : "approve", id]));
      codes.push(...(await Promise.all(batch)).map((x) => x.code));
      await Bun.sleep(150);
    }
    await publishing;
    await waitFor(() => (out.stderr.match(/waits for approval: otter approve/g) ?? []).length >= 2, 20_000, `the daemon to note pending ids: ${out.stderr.slice(-3000)}`);
    expect(codes).toEqual(ids.map(() => 0));
    const state = JSON.parse(readFileSync(join(r.state, "approvals.json"), "utf8"));
    expect(state.approved.sort()).toEqual(ids.filter((_, i) => i % 2 === 0));
    expect(state.denied.sort()).toEqual(ids.filter((_, i) => i % 2 === 1));
    // Every id the daemon logged as newly pending is still in the file.
    const noted = [...out.stderr.matchAll(/waits for approval: otter approve ([0-9a-f]{8})/g)].map((m) => m[1]!);
    for (const id of noted) expect(Object.keys(state.pendingSince)).toContain(id);
    // No lock is left behind once everyone has stopped (a live daemon may hold it for a moment:
    // that was the test's own race, seen in a clean-clone CI run).
    p.kill("SIGTERM");
    await p.exited;
    expect(existsSync(join(r.state, "approvals.lock"))).toBe(false);
  });

  test("a running daemon installs promptly after otter approve", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    // A long check_interval: only the approvals file changing can wake the daemon in time.
    const r = rig({ approvals: "true" }, { service: { check_interval: "3600" } });
    const { out } = daemon(r);
    await waitFor(() => /otter approve [0-9a-f]{8}/.test(out.stderr), 20_000, "a pending approval");
    const id = approvalIdIn(out.stderr);
    expect((await r.run(["approve", id])).code).toBe(0);
    await waitFor(() => r.version() === "1.0.0" && r.count("ready done") === 1, 20_000, "the approved install");
  });

  test("otter deny during the approved download cancels it: no install, the part file dropped, not tried again", async () => {
    server.publish("release", "1.0.0", "1.0.0".padEnd(256 * 1024, "\n"));
    const hold = server.holdAt("/release-1.0.0.img", 64 * 1024);
    const r = rig({ approvals: "true" }, { service: { check_interval: "1" } });
    const { out } = daemon(r);
    await waitFor(() => /otter approve [0-9a-f]{8}/.test(out.stderr), 20_000, "a pending approval");
    const id = approvalIdIn(out.stderr);
    expect((await r.run(["approve", id])).code).toBe(0);
    await hold.reached;
    expect((await r.run(["deny", id])).code).toBe(0);
    await waitFor(() => server.finals().length === 1, 20_000, "the final report");
    hold.release(false);
    expect(server.finals()[0]).toMatchObject({ status: "FAILED", state: "cancelled" });
    expect(out.stderr).toContain(`was denied (otter deny ${id}); cancelling it`);
    await Bun.sleep(2500); // more checks: the denied offer is not taken again
    expect(imageGets("release", "1.0.0")).toBe(1);
    expect(r.log().some((l) => l.startsWith("install start"))).toBe(false);
    expect(readdirSync(join(r.dir, "dl"))).toEqual([]);
    expect(r.version()).toBe("0.9.0");
  });

  test("otter deny while otter was stopped mid-download: the resumed job is cancelled, not installed", async () => {
    server.publish("release", "1.0.0", "1.0.0".padEnd(256 * 1024, "\n"));
    const r = rig({ approvals: "true" });
    const id = approvalIdIn((await r.run()).stdout);
    expect((await r.run(["approve", id])).code).toBe(0);
    await killMidDownload(r, server, "/release-1.0.0.img", 64 * 1024);
    expect((await r.run(["deny", id])).code).toBe(0);
    const res = await r.run();
    expect(res.stderr).toContain(`was denied (otter deny ${id}); cancelling it`);
    expect(server.finals()).toEqual([expect.objectContaining({ status: "FAILED", state: "cancelled" })]);
    expect(r.log().some((l) => l.startsWith("install start"))).toBe(false);
    expect(readdirSync(join(r.dir, "dl"))).toEqual([]);
    expect((await r.run()).stdout).toContain("nothing to do");
  });
});

describe("windows", () => {
  test("outside the window the file is downloaded and verified, the install waits; inside it installs without downloading again", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const closed = DAYS[(new Date().getDay() + 3) % 7]; // never today, nor tomorrow by the time this runs
    const r = rig({ window: `${closed} 00:00-24:00` });
    const first = await r.run();
    expect(first.code).toBe(3);
    expect(first.stdout).toContain("paused in install: outside the update window");
    expect(imageGets("release", "1.0.0")).toBe(1);
    expect(r.journal().job.state).toBe("install");
    expect(r.log().some((l) => l.startsWith("install start"))).toBe(false);
    r.configure({ policy: { window: "00:00-24:00" } });
    const second = await r.run();
    expect(second.code).toBe(0);
    expect(r.version()).toBe("1.0.0");
    expect(imageGets("release", "1.0.0")).toBe(1);
  });

  test("a daemon holds the downloaded job in install while the window is closed, and installs once restarted inside it", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const closed = DAYS[(new Date().getDay() + 3) % 7];
    const r = rig({ window: `${closed} 00:00-24:00` });
    const { p, out } = daemon(r);
    await waitFor(() => r.journal()?.job?.pausedIn === "install", 20_000, "the job to pause in install");
    const checks = server.requests.filter((q) => q.path === "/release.json").length;
    await Bun.sleep(1500); // check_interval is 1 s: a daemon that went on checking would fetch again
    expect(server.requests.filter((q) => q.path === "/release.json").length).toBe(checks);
    expect(out.stderr).toContain(`paused in install: outside the update window "${closed} 00:00-24:00"`);
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0); // a daemon asked to stop stops cleanly, the job waits in the journal
    r.configure({ policy: { window: "00:00-24:00" } });
    daemon(r);
    await waitFor(() => r.version() === "1.0.0" && r.journal()?.job === undefined, 20_000, "the install inside the window");
    expect(imageGets("release", "1.0.0")).toBe(1);
  });

  test("a job waiting for the window across many --once runs is not failed as a reboot loop", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const closed = DAYS[(new Date().getDay() + 3) % 7];
    const r = rig({ window: `${closed} 00:00-24:00` }, { service: { max_starts: "2" } });
    for (let i = 0; i < 5; i++) expect((await r.run()).code).toBe(3);
    expect(r.journal().job).toMatchObject({ state: "install", starts: { install: 1 } }); // one start; picking up the pause is none
    r.configure({ policy: { window: "00:00-24:00" } });
    expect((await r.run()).code).toBe(0);
    expect(server.finals()[0]).toMatchObject({ status: "SUCCEEDED" });
  });

  test("with download_outside_window = false nothing is fetched outside the window", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const closed = DAYS[(new Date().getDay() + 3) % 7];
    const r = rig({ window: `${closed} 00:00-24:00`, download_outside_window: "false" });
    const res = await r.run();
    expect(res.code).toBe(3);
    expect(res.stdout).toContain("(window)");
    expect(imageGets("release", "1.0.0")).toBe(0);
    expect(r.journal()?.job).toBeUndefined();
  });
});

describe("boards", () => {
  test("an offer for another board is refused before any byte is downloaded; one for this board installs", async () => {
    server.publish("release", "2.0.0", "2.0.0", { boards: ["imx8"] });
    server.publish("weekly", "1.5.0", "1.5.0", { boards: ["rpi4", "imx8"] });
    const r = rig({ board: "rpi4" });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(r.version()).toBe("1.5.0");
    expect(imageGets("release", "2.0.0")).toBe(0);
    expect(res.stderr).toContain("is for boards imx8, not this device's rpi4");
    expect(server.finals().map((f) => f.jobId)).toEqual([expect.stringMatching(/^weekly:1\.5\.0:/)]);
  });
});

describe("boards (issue 11 case 13)", () => {
  test("a daemon refusing an offer for another board says so at WARNING, once per offer, not once per check", async () => {
    server.publish("release", "2.0.0", "2.0.0", { boards: ["imx8"] });
    const r = rig({ board: "rpi4" }, { service: { log_level: "WARNING" } });
    const { out } = daemon(r);
    const checks = () => server.requests.filter((q) => q.path === "/release.json").length;
    await waitFor(() => checks() >= 4, 20_000, "four checks (check_interval 1 s)");
    expect(out.stderr.match(/WARN\w* +refused release:2\.0\.0:\w+: release 2\.0\.0 is for boards imx8, not this device's rpi4/g)).toHaveLength(1);
    server.publish("release", "2.1.0", "2.1.0", { boards: ["imx8"] });
    await waitFor(() => /refused release:2\.1\.0/.test(out.stderr), 20_000, "the next offer's warning");
    expect(imageGets("release", "2.0.0") + imageGets("release", "2.1.0")).toBe(0);
  });
});

describe("supervised workload", () => {
  // The workload logs its start; `exec` keeps its pid that of the leader otter records.
  const WORKLOAD = (r: Rig) => `echo "workload $(cat '${r.dir}/version')" >> '${r.dir}/log'; exec sleep 1000`;
  const workloadPid = (r: Rig): number | undefined => r.journal()?.running?.workloadProcess?.pid;

  test("killed from outside: logged, kept in history, and a waiting offer installs at once (rule 1 skips min_soak)", async () => {
    server.publish("nightly", "1.0.0", "1.0.0");
    const r = rig(SHIPPED);
    known(r, "nightly");
    r.configure({ policy: { workload: WORKLOAD(r) } });
    const { p, out } = daemon(r);
    await waitFor(() => workloadPid(r) !== undefined && r.count("workload 1.0.0") === 1, 20_000, "the workload to start after the install");
    const first = workloadPid(r)!;
    expect(isAlive(first)).toBe(true);
    // A weekly outranks the nightly, but the nightly has not soaked for 30 h: it waits...
    server.publish("weekly", "1.1.0", "1.1.0");
    const plan = await r.run(["plan"]);
    expect(plan.stdout).toMatch(/^wait until \S+ \(min_soak\), then weekly 1\.1\.0/m);
    // ...until the workload dies.
    process.kill(first, "SIGKILL");
    await waitFor(() => r.version() === "1.1.0" && r.count("workload 1.1.0") === 1, 20_000, "the weekly to install and a new workload to start");
    expect(out.stderr).toMatch(/WARN\w* +the workload of version 1\.0\.0 killed by SIGKILL/);
    expect(r.count("install done")).toBe(2);
    const history = JSON.parse(readFileSync(join(r.state, "history.json"), "utf8"));
    expect(history.map((h: { state: string }) => h.state)).toEqual(["complete_ready", "workload_died", "complete_ready"]);
    const second = workloadPid(r)!;
    expect(second).not.toBe(first);
    // Stopping otter stops its workload; it is still wanted for the next start.
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(await diesWithin(second)).toBe(true);
    expect(r.journal().running.workloadRunning).toBe(true);
  });

  test("the only offer is the running version: it is reflashed (forced) after the workload dies", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig();
    r.configure({ policy: { workload: WORKLOAD(r) } });
    daemon(r);
    await waitFor(() => workloadPid(r) !== undefined && r.count("workload 1.0.0") === 1, 20_000, "the workload to start");
    process.kill(workloadPid(r)!, "SIGKILL");
    await waitFor(() => r.count("ready done") === 2 && r.count("workload 1.0.0") === 2, 20_000, "a second install of 1.0.0");
    expect(r.log().filter((l) => l.startsWith("restart start")).map((l) => l.split(" ").at(-1))).toEqual(["", "True"]);
  });

  test("a workload that dies after every flash: reflashed max_reflashes times, then left alone and explained", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig({ max_reflashes: "2" });
    // Dies a moment after each start (a board that kills every image).
    r.configure({ policy: { workload: `echo "workload $(cat '${r.dir}/version')" >> '${r.dir}/log'; sleep 0.3; exit 1` } });
    const { out } = daemon(r);
    await waitFor(() => r.journal()?.running?.reflashes === 2 && r.journal().running.workloadDied === true, 30_000, "two reflashes and a third death");
    await Bun.sleep(2500); // more checks (check_interval 1 s): none may flash again
    expect(r.count("install done")).toBe(3); // the install, then two reflashes
    expect(r.count("workload 1.0.0")).toBe(3);
    expect(out.stderr.match(/workload of version 1\.0\.0 exited/g)?.length).toBe(3);
    const plan = await r.run(["plan"]);
    expect(plan.stdout).toContain("after 2 reflashes in a row (max_reflashes 2)");
    expect(plan.stdout).toMatch(/^of the rest: nothing to do$/m); // weekly and nightly are not published: two problems
    expect((await r.run(["status"])).stdout).toContain("workload: died (after 2 reflashes in a row)");
  });

  /** A daemon that installed 1.0.0 and started its workload, SIGKILLed; returns the workload's pid. */
  async function workloadLeft(r: Rig): Promise<number> {
    server.publish("release", "1.0.0", "1.0.0");
    r.configure({ policy: { workload: WORKLOAD(r) } });
    const { p } = daemon(r);
    await waitFor(() => workloadPid(r) !== undefined && r.count("workload 1.0.0") === 1, 20_000, "the workload to start");
    p.kill("SIGKILL");
    await p.exited;
    return workloadPid(r)!;
  }

  test("a workload left by a SIGKILLed otter is ended before the next daemon starts a new one", async () => {
    const r = rig();
    const left = await workloadLeft(r);
    expect(isAlive(left)).toBe(true); // its own session: it outlives otter
    expect((await r.run(["status"])).stdout).toContain(`workload: running (pid ${left})`);
    daemon(r);
    await waitFor(() => workloadPid(r) !== undefined && workloadPid(r) !== left, 20_000, "a new workload");
    expect(await diesWithin(left)).toBe(true);
    expect(r.count("install done")).toBe(1);
  });

  // After a power cut, the pid and start time a workload had may be an unrelated process's
  // now: the record names the boot it was made in, and a workload of another boot is never signalled.
  test("a workload recorded in another boot is not ended, though a live process has its pid and start time", async () => {
    const r = rig();
    const left = await workloadLeft(r);
    r.editJournal(({ running }) => {
      running.workloadProcess.bootId = OTHER_BOOT;
    });
    expect((await r.run(["status"])).stdout).toContain("workload: to be started");
    const { out } = daemon(r);
    // the leftover is dealt with before the new workload starts
    await waitFor(() => workloadPid(r) !== undefined && workloadPid(r) !== left, 20_000, "a new workload");
    expect(isAlive(left)).toBe(true);
    expect(out.stderr).not.toContain("ending the workload left running");
    killGroup(left);
  });

  test("--once installs but starts no workload; it is wanted by the next daemon", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig();
    r.configure({ policy: { workload: WORKLOAD(r) } });
    expect((await r.run()).code).toBe(0);
    expect(r.count("workload 1.0.0")).toBe(0);
    expect(r.journal().running).toMatchObject({ version: "1.0.0", channel: "release", workloadRunning: true });
    daemon(r);
    await waitFor(() => r.count("workload 1.0.0") === 1, 20_000, "the daemon to start the workload");
  });
});

describe("soak and plan", () => {
  test("plan lists every reason and changes nothing; --once waits for min_soak with exit 3", async () => {
    server.publish("nightly", "1.0.0", "1.0.0");
    const r = rig(SHIPPED);
    known(r, "nightly");
    expect((await r.run()).code).toBe(0);
    server.publish("weekly", "1.1.0", "1.1.0");
    server.publish("nightly", "1.2.0", "1.2.0");
    const journal = readFileSync(join(r.state, "journal.json"));
    const before = server.requests.length;
    const plan = await r.run(["plan"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^board: unknown\nrunning: 1\.0\.0, nightly, installed \S+\n/);
    expect(plan.stdout).toMatch(/^could not ask: channel release: .*HTTP 404$/m);
    expect(plan.stdout).toMatch(/^wait until \S+ \(min_soak\), then weekly 1\.1\.0 \(weekly:1\.1\.0:\w+\)$/m);
    expect(plan.stdout).toMatch(/\+ weekly:1\.1\.0:\w+ priority: weekly ranks above nightly/);
    expect(plan.stdout).toMatch(/- weekly:1\.1\.0:\w+ min_soak: the running nightly 1\.0\.0 has run \d+m; it soaks for min_soak 30h/);
    expect(plan.stdout).toMatch(/- nightly:1\.2\.0:\w+ same_channel: a newer nightly does not replace the running nightly 1\.0\.0/);
    const json = JSON.parse((await r.run(["plan", "--json"])).stdout);
    expect(json.decision).toMatchObject({ kind: "wait", waitingFor: "min_soak", offer: { channel: "weekly", version: "1.1.0" } });
    // Nothing changed: journal bytes, no approvals file, no lock, only manifests fetched.
    expect(readFileSync(join(r.state, "journal.json")).equals(journal)).toBe(true);
    expect(existsSync(join(r.state, "approvals.json"))).toBe(false);
    expect(existsSync(join(r.state, "otter.lock"))).toBe(false);
    expect(server.requests.slice(before).every((q) => q.path.endsWith(".json"))).toBe(true);
    const once = await r.run();
    expect(once.code).toBe(3);
    expect(once.stdout).toContain("(min_soak), then weekly 1.1.0");
    expect(r.version()).toBe("1.0.0");
  });

  test("a failed ready check opens rule 1: any other offer may install at once; an older, lower one only with allow_downgrade (anti-rollback)", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    const r = rig({ min_soak: "0", test_period: "0" });
    expect((await r.run()).code).toBe(0);
    server.publish("release", "1.1.0", "1.1.0");
    r.exits("ready", 1);
    expect((await r.run()).code).toBe(1);
    expect(r.journal().running).toMatchObject({ version: "1.0.0", readyFailed: true });
    server.publish("nightly", "0.5.0", "0.5.0");
    const refused = await r.run(["plan"]);
    expect(refused.stdout).toMatch(/- nightly:0\.5\.0:\w+ downgrade: nightly 0\.5\.0 is older than the running release 1\.0\.0: anti-rollback refuses it/);
    expect((await r.run()).stdout).toContain("nothing to do");
    expect(imageGets("nightly", "0.5.0")).toBe(0);
    r.configure({ policy: { allow_downgrade: "true" } });
    const plan = await r.run(["plan"]);
    expect(plan.stdout).toMatch(/\+ nightly:0\.5\.0:\w+ workload: the running release 1\.0\.0's ready check failed/);
    expect(plan.stdout).toMatch(/- release:1\.1\.0:\w+ failed: release 1\.1\.0 was tried here before/);
    expect((await r.run()).code).toBe(0);
    expect(r.journal().running).toMatchObject({ version: "0.5.0", channel: "nightly", readyFailed: false });
  });
});

describe("anti-rollback", () => {
  test("the newest version accepted from a channel is kept in the journal: after an operator's downgrade, the channel cannot go below it", async () => {
    server.publish("release", "2.0.0", "2.0.0");
    const r = rig({ min_soak: "0", test_period: "0" });
    expect((await r.run()).code).toBe(0);
    expect(r.journal().running).toMatchObject({ version: "2.0.0", accepted: { release: "2.0.0" } });
    // An operator's otter install goes below it (no policy between an operator and the pipeline).
    const file = join(r.dir, "old.img");
    writeFileSync(file, "1.0.0");
    expect((await r.run(["install", file, "--version", "1.0.0"])).code).toBe(0);
    expect(r.journal().running).toMatchObject({ version: "1.0.0", accepted: { release: "2.0.0" } });
    server.publish("release", "1.5.0", "1.5.0");
    const plan = await r.run(["plan"]);
    expect(plan.stdout).toMatch(/- release:1\.5\.0:\w+ downgrade: release 1\.5\.0 is older than release 2\.0\.0, the newest this device accepted from release/);
    expect((await r.run()).stdout).toContain("nothing to do");
    expect(imageGets("release", "1.5.0")).toBe(0);
  });
});

describe("a device otter meets (issue 11 case 7)", () => {
  test("migrated from Upparat, running release 1.0.0: nightly does not jump in, soak counts from now, plan says why", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    server.publish("nightly", "1.1.0", "1.1.0");
    const r = new Rig({ serverUrl: server.url, channels: ["release", "nightly"], version: "1.0.0", set: { policy: SHIPPED } });
    rigs.push(r);
    const before = Date.now();
    for (let i = 0; i < 2; i++) {
      const res = await r.run();
      expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("nothing to do")]);
    }
    expect(r.version()).toBe("1.0.0");
    expect(imageGets("nightly", "1.1.0")).toBe(0);
    const running = r.journal().running;
    expect(running).toMatchObject({ version: "1.0.0", channel: "release" });
    expect(running.seenAt).toBeGreaterThanOrEqual(before);
    expect(running.installedAt).toBeUndefined();
    expect((await r.run(["status"])).stdout).toMatch(/^installed: 1\.0\.0 \(release\), install time unknown \(otter first saw it \S+\)$/m);
    const plan = (await r.run(["plan"])).stdout;
    expect(plan).toMatch(/^running: 1\.0\.0, release, install time unknown \(soak and test period count from \S+, when otter first saw it\)$/m);
    expect(plan).toMatch(/- nightly:1\.1\.0:\w+ priority: nightly ranks below release; it waits for the test period \(test_period ends in 6d 23h\)/);
  });

  test("no channel offers the running version: its unknown channel ranks above every channel", async () => {
    server.publish("nightly", "1.1.0", "1.1.0");
    const r = new Rig({ serverUrl: server.url, channels: CHANNELS, version: "1.0.0", set: { policy: SHIPPED } });
    rigs.push(r);
    expect((await r.run()).stdout).toContain("nothing to do");
    expect(imageGets("nightly", "1.1.0")).toBe(0);
    const plan = (await r.run(["plan"])).stdout;
    expect(plan).toContain("running: 1.0.0, channel unknown (it ranks above every channel until a channel offers its version)");
    expect(plan).toContain("priority: the running 1.0.0 is of unknown channel, which ranks above every channel until a channel offers version 1.0.0; nightly waits");
  });

  test("a version hook that cannot answer: nothing is decided (exit 3), nothing downloaded", async () => {
    server.publish("nightly", "1.1.0", "1.1.0");
    const r = rig(SHIPPED);
    r.exits("version", 1);
    const res = await r.run();
    expect(res.code).toBe(3);
    expect(res.stderr).toContain("version hook exited 1; the policy decides nothing until it knows the running version");
    expect(imageGets("nightly", "1.1.0")).toBe(0);
    expect(r.journal()?.running?.version).toBeUndefined();
  });
});

describe("the first check (issue 11 case 8)", () => {
  test("a daemon waits a random part of check_jitter before its first check too; --once only with --jitter", async () => {
    server.publish("release", "1.0.0", "1.0.0");
    // A day of jitter: the chance that the first check falls within the 1.5 s watched is 1 in 57,600.
    const r = rig({}, { service: { check_jitter: "1d" } });
    const manifests = () => server.requests.filter((q) => q.path === "/release.json").length;
    expect((await r.run()).code).toBe(0); // --once without --jitter asks at once
    expect(manifests()).toBe(1);
    for (const args of [["run"], ["--once", "--jitter"]]) {
      const p = r.start(args);
      await waitFor(() => existsSync(join(r.state, "otter.lock")), 10_000, "otter to take its lock");
      await Bun.sleep(1500);
      expect(manifests()).toBe(1);
      p.kill("SIGTERM");
      // A daemon asked to stop stops cleanly; --once cut short before its check says "run me again".
      expect(await p.exited).toBe(args[0] === "run" ? 0 : 3);
    }
  });
});

