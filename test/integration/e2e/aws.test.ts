// otter end to end in AWS mode: the built binary, a real mosquitto, the jobs emulator, an
// HTTP server for the files and real hook scripts. What AWS records is read from the emulator.
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { jobsService } from "../../helpers/jobsservice.ts";
import { OTTER, Rig, killGroup, waitFor, type Ini } from "../../helpers/rig.ts";
import { UpdateServer } from "../../helpers/updateserver.ts";

const svc = jobsService({ tls: true });
let server: UpdateServer;
const rigs: Rig[] = [];
// Each test runs the built otter one or more times; give it room beyond bun's 5 s default.
let things = 0;

beforeEach(() => {
  server = new UpdateServer();
});
afterEach(() => {
  server.stop();
  rigs.splice(0).forEach((r) => r.cleanup());
});

/** A device in AWS mode with its own thing name. */
function device(opts: { set?: Ini; version?: string } = {}): { rig: Rig; thing: string } {
  const thing = `e2e${++things}-${process.pid}`;
  const set: Ini = { ...opts.set, service: { source: "aws", ...opts.set?.service }, broker: { host: "127.0.0.1", port: String(svc.broker.port), thing_name: thing, ...opts.set?.broker } };
  const rig = new Rig({ serverUrl: server.url, set, version: opts.version });
  rigs.push(rig);
  return { rig, thing };
}

/** An Upparat job for one thing whose file is served (presigned placeholder, as AWS jobs carry it). */
function job(jobId: string, thing: string, version: string, extra: Record<string, unknown> = {}): void {
  server.publish("aws", version, version);
  const file = `\${aws:iot:s3-presigned-url:${server.url}/aws-${version}.img}`;
  svc.emu.createJob({ jobId, document: { action: "upparat-update", version, file, meta: "slot=b", force: false, ...extra }, things: [thing] });
}

const updates = (jobId: string, thing: string) => svc.emu.execution(jobId, thing)!.updates.map((u) => `${u.status}:${u.statusDetails?.state}:${u.outcome}`);

describe("otter with AWS IoT Jobs", () => {
  test("a job goes QUEUED → IN_PROGRESS → SUCCEEDED, every update acknowledged in order", async () => {
    const { rig, thing } = device();
    job("upparat_e2e_ok", thing, "1.0.0");
    const res = await rig.run();
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED complete_ready")]);
    expect(rig.version()).toBe("1.0.0");
    expect(updates("upparat_e2e_ok", thing)).toEqual([
      "IN_PROGRESS:download_start:accepted",
      "IN_PROGRESS:installation_start:accepted",
      "IN_PROGRESS:reboot_start:accepted",
      "SUCCEEDED:complete_ready:accepted",
    ]);
    const e = svc.emu.execution("upparat_e2e_ok", thing)!;
    expect(e.status).toBe("SUCCEEDED");
    expect(e.statusDetails!.message).not.toBe("");
    expect(rig.journal().outbox).toEqual([]);
  }, 30_000);

  test("download progress reaches statusDetails, in Upparat's form, rate-limited", async () => {
    const { rig, thing } = device({ set: { service: { progress_interval: "0.2" } } });
    server.publish("aws", "2.0.0", "2.0.0".padEnd(256 * 1024, "\n"));
    const hold = server.holdAt("/aws-2.0.0.img", 64 * 1024);
    svc.emu.createJob({ jobId: "upparat_e2e_progress", document: { action: "upparat-update", version: "2.0.0", file: `${server.url}/aws-2.0.0.img` }, things: [thing] });
    rig.writeHook("install", 'head -n1 "$4" > "$T/staged"');
    const run = rig.run();
    await hold.reached;
    await Bun.sleep(1000); // a slow link: the rest of the file comes later than progress_interval
    hold.release();
    expect((await run).code).toBe(0);
    const progress = svc.emu.execution("upparat_e2e_progress", thing)!.updates.filter((u) => u.statusDetails?.state === "download_progress");
    expect(progress.length).toBeGreaterThanOrEqual(1);
    // Which chunk boundaries get reported depends on timing; the form and the spacing do not.
    let prev = { at: 0, bytes: 0 };
    for (const u of progress) {
      const { downloaded_bytes: bytes, ...rest } = JSON.parse(u.statusDetails!.message!);
      expect(rest).toEqual({});
      expect(bytes).toBeGreaterThan(prev.bytes);
      expect(bytes).toBeLessThanOrEqual(256 * 1024);
      expect(u.statusDetails!.bytes).toBe(String(bytes)); // no percent: an Upparat document has no size
      expect(u.at - prev.at).toBeGreaterThanOrEqual(200);
      prev = { at: u.at, bytes };
    }
  }, 30_000);

  test("the same version is skipped: SUCCEEDED version_already_installed", async () => {
    const { rig, thing } = device({ version: "1.0.0" });
    job("upparat_e2e_same", thing, "1.0.0");
    expect((await rig.run()).code).toBe(0);
    expect(rig.count("install done")).toBe(0);
    expect(updates("upparat_e2e_same", thing)).toEqual(["SUCCEEDED:version_already_installed:accepted"]);
  }, 30_000);

  test("a wrong action and a malformed document are REJECTED with the reason; the good job runs", async () => {
    const { rig, thing } = device();
    svc.emu.createJob({ jobId: "upparat_e2e_wrong", document: { action: "reboot-now", version: "9", file: "https://x/y" }, things: [thing] });
    svc.emu.createJob({ jobId: "upparat_e2e_nover", document: { action: "upparat-update", file: "https://x/y" }, things: [thing] });
    job("upparat_e2e_good", thing, "1.0.0");
    expect((await rig.run()).code).toBe(0);
    for (const [id, field] of [["upparat_e2e_wrong", '"action"'], ["upparat_e2e_nover", '"version"']] as const) {
      const e = svc.emu.execution(id, thing)!;
      expect([e.status, e.statusDetails!.state]).toEqual(["REJECTED", "job_invalid"]);
      expect(e.statusDetails!.message).toContain(field);
    }
    expect(svc.emu.execution("upparat_e2e_good", thing)!.status).toBe("SUCCEEDED");
  }, 30_000);

  test("force reinstalls the same version and passes True to the restart hook", async () => {
    const { rig, thing } = device({ version: "1.0.0" });
    job("upparat_e2e_force", thing, "1.0.0", { force: true });
    expect((await rig.run()).code).toBe(0);
    expect(rig.count("install done")).toBe(1);
    expect(rig.log().find((l) => l.startsWith("restart start"))!.split(" ").at(-1)).toBe("True");
    expect(updates("upparat_e2e_force", thing).at(-1)).toBe("SUCCEEDED:complete_ready:accepted");
  }, 30_000);

  test("an install hook that exits 3 is run again by the next run and the job succeeds", async () => {
    const { rig, thing } = device();
    rig.exits("install", 3);
    job("upparat_e2e_retry", thing, "1.0.0");
    expect((await rig.run()).code).toBe(3); // --once: paused, not asleep
    expect((await rig.run()).code).toBe(0);
    expect(rig.log().filter((l) => l.startsWith("install start")).map((l) => l.split(" ")[3])).toEqual(["0", "1"]);
    expect(updates("upparat_e2e_retry", thing).at(-1)).toBe("SUCCEEDED:complete_ready:accepted");
  }, 30_000);

  test("a failing install hook: FAILED installation_hook_failed with the exit code", async () => {
    const { rig, thing } = device();
    rig.exits("install", 7);
    job("upparat_e2e_fail", thing, "1.0.0");
    expect((await rig.run()).code).toBe(1);
    const e = svc.emu.execution("upparat_e2e_fail", thing)!;
    expect(e.status).toBe("FAILED");
    expect(e.statusDetails!.state).toBe("installation_hook_failed");
    expect(e.statusDetails!.code).toBe("HOOK_FAILED");
  }, 30_000);

  test("a reboot by the restart hook: the next start checks the version, runs ready and reports", async () => {
    const { rig, thing } = device();
    writeFileSync(join(rig.dir, "reboot"), "");
    job("upparat_e2e_reboot", thing, "1.0.0");
    const first = await rig.run();
    expect(first.code).not.toBe(0); // killed by its own restart hook
    expect(svc.emu.execution("upparat_e2e_reboot", thing)!.statusDetails!.state).toBe("reboot_start");
    const second = await rig.run();
    expect(second.code).toBe(0);
    expect(rig.count("install done")).toBe(1);
    expect(rig.log().filter((l) => l.startsWith("ready start"))).toHaveLength(1);
    expect(updates("upparat_e2e_reboot", thing).at(-1)).toBe("SUCCEEDED:complete_ready:accepted");
  }, 30_000);

  test("a job canceled mid-download: no install, the partial file dropped, the cancel recorded as already-terminal", async () => {
    const { rig, thing } = device();
    const big = "x".repeat(256 * 1024);
    server.publish("aws", "2.0.0", big);
    const hold = server.holdAt("/aws-2.0.0.img", 1024);
    svc.emu.createJob({ jobId: "upparat_e2e_cancel", document: { action: "upparat-update", version: "2.0.0", file: `${server.url}/aws-2.0.0.img` }, things: [thing] });
    const run = rig.run();
    await hold.reached;
    // download_start goes out through the outbox while the download runs: cancel only after AWS took it.
    await waitFor(() => (svc.emu.execution("upparat_e2e_cancel", thing)?.updates.length ?? 0) > 0, 10_000, "download_start to reach AWS");
    svc.emu.cancelJob("upparat_e2e_cancel", { force: true });
    const res = await run;
    hold.release(false);
    expect(res.stdout).toContain("cancelled");
    expect(readdirSync(join(rig.dir, "dl"))).toEqual([]);
    expect(updates("upparat_e2e_cancel", thing)).toEqual(["IN_PROGRESS:download_start:accepted", "FAILED:cancelled:InvalidStateTransition"]);
    expect(rig.count("install done")).toBe(0);
    expect(svc.emu.execution("upparat_e2e_cancel", thing)!.status).toBe("CANCELED");
  }, 30_000);

  test("otter SIGKILLed during install and started again: one install, the job ends SUCCEEDED", async () => {
    const { rig, thing } = device();
    rig.pauseAt("install");
    job("upparat_e2e_kill", thing, "1.0.0");
    const otter = rig.start();
    const hook = await rig.pausedPid("install");
    otter.kill("SIGKILL");
    await otter.exited;
    killGroup(hook);
    expect((await rig.run()).code).toBe(0);
    expect(rig.count("install done")).toBe(1);
    expect(updates("upparat_e2e_kill", thing).at(-1)).toBe("SUCCEEDED:complete_ready:accepted");
    expect(svc.emu.execution("upparat_e2e_kill", thing)!.updates.every((u) => u.outcome === "accepted")).toBe(true);
  }, 30_000);

  test("Upparat's README config (mutual TLS) and README job document work unchanged", async () => {
    const { rig, thing } = device({ version: "1.4.2" });
    const c = svc.broker.clientCerts!;
    // Upparat's README configuration with its placeholders filled in (sentry_dsn left out: no network in tests).
    const conf = join(rig.dir, "upparat.conf");
    writeFileSync(conf, `[service]
# Default: WARNING
log_level = INFO

# Default: tmpdir
download_location = ${join(rig.dir, "dl")}

[broker]
# MQTT broker host / port
host = 127.0.0.1

# Default: 443
port = ${svc.broker.tlsPort}

# Default: hostname
thing_name = ${thing}

# Default: upparat
client_id = ${thing}

# Optional for client certifacte authentication
cafile = ${c.ca}
certfile = ${c.cert}
keyfile = ${c.key}

[hooks]
# Used to compare against jobDoucment.version
version = hooks/version
download = hooks/download
install = hooks/install
restart = hooks/restart
ready = hooks/ready

# Hooks can return a status code 3 to indicate
# a retry at later time after retry_interval.
# Default: 60
retry_interval = 1

# Default: 60
# See retry_interval if hook has reached
# max_retries the job will be set to failed
max_retries = 3
`);
    // Upparat's README job document, the version being the one installed.
    svc.emu.createJob({
      jobId: "upparat_e2e_readme",
      things: [thing],
      document: JSON.parse(`{
  "action": "upparat-update",
  "version": "1.4.2",
  "file": "\${aws:iot:s3-presigned-url:https://s3.example.com/bucket/image-1.4.2.bin}",
  "meta": "<will be passed as an argument to your commands>",
  "force": false
}`),
    });
    const p = Bun.spawn([OTTER, "--once", "-c", conf], { stdout: "pipe", stderr: "pipe", env: { ...process.env, OTTER_STATE_DIR: rig.state } });
    const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    expect([code, stderr]).toEqual([0, expect.stringContaining("mqtt connected")]);
    // The first run asks the running version with no job (anti-rollback needs it), then the job's version check.
    expect(rig.log().slice(0, 3)).toEqual(["version start 0 0 ", "version done", "version start 0 0 <will be passed as an argument to your commands>"]);
    expect(updates("upparat_e2e_readme", thing)).toEqual(["SUCCEEDED:version_already_installed:accepted"]);
  }, 30_000);

  test("as a daemon, a job created later is taken on its notification, not at the next check", async () => {
    const { rig, thing } = device({ set: { service: { check_interval: "3600" } } });
    const daemon = rig.start([]);
    await svc.emu.until(() => svc.emu.messages(thing).received >= 1); // its first `get`, on connect
    job("upparat_e2e_notified", thing, "1.0.0");
    await svc.emu.until(() => svc.emu.execution("upparat_e2e_notified", thing)?.status === "SUCCEEDED");
    daemon.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
  }, 30_000);

  test("policy: a job for another board is REJECTED board_mismatch through the outbox, its file never fetched", async () => {
    const { rig, thing } = device({ set: { policy: { board: "rpi4" } } });
    job("upparat_e2e_board", thing, "1.0.0", { boards: ["imx8"] });
    const res = await rig.run();
    expect(res.code).toBe(0);
    expect(updates("upparat_e2e_board", thing)).toEqual(["REJECTED:board_mismatch:accepted"]);
    expect(svc.emu.execution("upparat_e2e_board", thing)!.statusDetails!.message).toContain("not this device's rpi4");
    expect(server.requests.filter((q) => q.path === "/aws-1.0.0.img")).toEqual([]);
    expect(rig.journal().outbox).toEqual([]);
  }, 30_000);

  test("anti-rollback: a job older than the running version is REJECTED downgrade_refused, its file never fetched; with force it installs", async () => {
    const { rig, thing } = device();
    job("upparat_e2e_older", thing, "0.5.0");
    expect((await rig.run()).code).toBe(0);
    expect(updates("upparat_e2e_older", thing)).toEqual(["REJECTED:downgrade_refused:accepted"]);
    expect(svc.emu.execution("upparat_e2e_older", thing)!.statusDetails!.message).toContain("0.5.0 is older than the running 0.9.0");
    expect(server.requests.filter((q) => q.path === "/aws-0.5.0.img")).toEqual([]);
    job("upparat_e2e_older_forced", thing, "0.5.0", { force: true });
    expect((await rig.run()).code).toBe(0);
    expect(svc.emu.execution("upparat_e2e_older_forced", thing)!.status).toBe("SUCCEEDED");
    expect(rig.version()).toBe("0.5.0");
  }, 30_000);

  test("policy: with approvals on a job waits (exit 3); otter deny makes it REJECTED denied", async () => {
    const { rig, thing } = device({ set: { policy: { approvals: "true" } } });
    job("upparat_e2e_deny", thing, "1.0.0");
    const first = await rig.run();
    expect(first.code).toBe(3);
    const id = /otter approve ([0-9a-f]{8})/.exec(first.stdout)![1]!;
    expect(svc.emu.execution("upparat_e2e_deny", thing)!.status).toBe("QUEUED");
    expect((await rig.run(["deny", id])).code).toBe(0);
    expect((await rig.run()).code).toBe(0);
    expect(updates("upparat_e2e_deny", thing)).toEqual(["REJECTED:denied:accepted"]);
    expect(rig.count("install done")).toBe(0);
  }, 30_000);

  test("otter plan asks AWS once and changes nothing there", async () => {
    const { rig, thing } = device({ set: { policy: { board: "rpi4" } } });
    // A bad document queued first: the daemon would reject it; plan must only say so.
    svc.emu.createJob({ jobId: "upparat_e2e_plan_bad", document: { action: "upparat-update", file: "x" }, things: [thing] });
    job("upparat_e2e_plan", thing, "1.0.0");
    const plan = await rig.run(["plan"]);
    expect(plan.stderr).toContain("job would be rejected");
    expect(svc.emu.execution("upparat_e2e_plan_bad", thing)!.updates).toEqual([]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^update to 1\.0\.0 \(upparat_e2e_plan\)$/m);
    expect(plan.stdout).toContain("upparat_e2e_plan explicit: 1.0.0 has no channel");
    expect(svc.emu.execution("upparat_e2e_plan", thing)!.status).toBe("QUEUED");
    expect(svc.emu.execution("upparat_e2e_plan", thing)!.updates).toEqual([]);
  }, 30_000);

  test("a daemon whose reports are throttled does not take the job again while its end waits in the outbox", async () => {
    // The job is over here long before AWS hears of it; until then `get` still lists it. Taken
    // again, it ended "already installed" at once and queued another report, in a loop.
    const { rig, thing } = device();
    job("upparat_e2e_throttled", thing, "1.0.0");
    const daemon = rig.start(["run"]);
    // The final report is throttled: injected as reboot_start is accepted, before the next request comes.
    await svc.emu.until(() => updates("upparat_e2e_throttled", thing).includes("IN_PROGRESS:reboot_start:accepted"));
    svc.emu.injectFault(thing, "RequestThrottled", { op: "update", count: 3 });
    await svc.emu.until(() => svc.emu.execution("upparat_e2e_throttled", thing)!.status === "SUCCEEDED");
    await waitFor(() => rig.journal()?.outbox?.length === 0, 10_000, "an empty outbox");
    await Bun.sleep(1500); // a check or two after the end: check_interval is 1 s
    daemon.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(updates("upparat_e2e_throttled", thing)).toEqual([
      "IN_PROGRESS:download_start:accepted",
      "IN_PROGRESS:installation_start:accepted",
      "IN_PROGRESS:reboot_start:accepted",
      "SUCCEEDED:complete_ready:RequestThrottled",
      "SUCCEEDED:complete_ready:RequestThrottled",
      "SUCCEEDED:complete_ready:RequestThrottled",
      "SUCCEEDED:complete_ready:accepted",
    ]);
    expect(rig.log().filter((l) => l.startsWith("install start"))).toHaveLength(1);
  }, 30_000);

  // Last: it restarts the broker the others share.
  test("broker killed mid-download and restarted: the download goes on and every report arrives, in order", async () => {
    // The emulator comes back a moment after otter: a request made in between is never
    // answered (real AWS is always there), so otter must give up on it and ask again.
    const { rig, thing } = device({ set: { broker: { answer_timeout: "2" } } });
    server.publish("aws", "3.0.0", "3.0.0".padEnd(128 * 1024, "\n"));
    const hold = server.holdAt("/aws-3.0.0.img", 4096);
    svc.emu.createJob({ jobId: "upparat_e2e_outage", document: { action: "upparat-update", version: "3.0.0", file: `${server.url}/aws-3.0.0.img` }, things: [thing] });
    rig.writeHook("install", 'head -n1 "$4" > "$T/staged"');
    const run = rig.run();
    await hold.reached;
    await svc.broker.kill();
    hold.release();
    await svc.emu.until(() => !svc.emu.connected);
    await svc.broker.restart();
    const res = await run;
    expect(res.code).toBe(0);
    expect(rig.version()).toBe("3.0.0");
    // A request whose answer the outage swallowed is sent again: count each state once.
    const accepted = svc.emu.execution("upparat_e2e_outage", thing)!.updates.filter((u) => u.outcome === "accepted").map((u) => u.statusDetails?.state);
    expect(accepted.filter((s, i) => s !== accepted[i - 1])).toEqual(["download_start", "installation_start", "reboot_start", "complete_ready"]);
    expect(svc.emu.execution("upparat_e2e_outage", thing)!.status).toBe("SUCCEEDED");
  }, 30_000);

  test("otter install queued for an AWS daemon: its reports go to report_url, not to AWS, which knows no such job", async () => {
    const { rig, thing } = device({ set: { service: { report_url: `${server.url}/report`, check_interval: "3600" } } });
    const daemon = rig.start(["run"]);
    await svc.emu.until(() => svc.emu.messages(thing).received >= 1); // connected: its first `get`
    const file = join(rig.dir, "image-2.0.0.img");
    writeFileSync(file, "2.0.0\n");
    const queued = await rig.run(["install", file, "--version", "2.0.0"]);
    expect(queued.stdout).toContain("queued version 2.0.0: the daemon");
    await waitFor(() => server.finals().length === 1, 20_000, "the final report at report_url");
    expect(server.finals()[0]).toMatchObject({ jobId: expect.stringMatching(/^manual:2\.0\.0:/), status: "SUCCEEDED" });
    expect(rig.version()).toBe("2.0.0");
    daemon.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(rig.journal().outbox).toEqual([]);
  }, 30_000);
});
