// otter as a Type=notify service, seen from systemd's side: a real AF_UNIX datagram listener
// (test/helpers/notify-listener.py, with the senders' kernel credentials) receives READY,
// STATUS, STOPPING, RELOADING and WATCHDOG from the built otter, Bun binary and node bundle,
// and the watchdog pings stop when a phase hangs.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NotifyListener } from "../../helpers/notify.ts";
import { killGroup, NODE_BUNDLE, perTest, waitFor, type Ini, type Rig } from "../../helpers/rig.ts";
import { startServer, type Running } from "../../helpers/flakyserver.ts";
import { Mosquitto } from "../../helpers/mosquitto.ts";

const fx = perTest();
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listener(abstract = false): Promise<NotifyListener> {
  const l = await new NotifyListener(abstract).ready();
  cleanups.push(() => l.close());
  return l;
}

/** A daemon (`otter run`) told to notify `l`; stderr is collected (a full pipe would block otter). */
function daemon(r: Rig, l: NotifyListener, env: Record<string, string> = {}) {
  const p = r.start(["run"], { NOTIFY_SOCKET: l.socket, WATCHDOG_USEC: "1000000", ...env });
  let stderr = "";
  const done = (async () => {
    for await (const chunk of p.stderr as ReadableStream<Uint8Array>) stderr += new TextDecoder().decode(chunk);
  })();
  cleanups.push(() => {
    p.kill("SIGKILL");
  });
  return {
    p,
    stderr: () => stderr,
    /** SIGTERM, then the exit code once stderr is all read */
    async stop(): Promise<number> {
      p.kill("SIGTERM");
      const code = await p.exited;
      await done;
      return code;
    },
    /** SIGTERM, and a daemon asked to stop exits 0 (otter's last lines shown when it does not) */
    async stopsCleanly(): Promise<void> {
      const code = await this.stop();
      expect({ code, stderr: code === 0 ? "" : stderr.slice(-3000) }).toEqual({ code: 0, stderr: "" });
    },
  };
}

const pings = (l: NotifyListener, from: number, to: number) => l.with("WATCHDOG").filter((m) => m.at >= from && m.at <= to).length;
const after = (ms: number) => Bun.sleep(ms);

describe.each([
  ["the Bun binary", undefined, false],
  ["the Bun binary, abstract socket", undefined, true],
  ["the node bundle (systemd-notify)", NODE_BUNDLE, false],
  ["the node bundle, abstract socket", NODE_BUNDLE, true],
] as const)("%s", (_name, command, abstract) => {
  test("READY=1, a STATUS per change, WATCHDOG=1 through sleeps longer than the watchdog, STOPPING=1 on SIGTERM, all from otter's pid", async () => {
    const l = await listener(abstract);
    const r = fx.rig({ command: command && [...command], set: { service: { check_interval: "3" } } });
    const d = daemon(r, l);
    await l.waitFor((m) => m.fields.STATUS?.startsWith("idle: ") ?? false, 20_000, "an idle status");
    const readyAt = l.with("READY")[0]!.at;
    await after(4000);
    await d.stopsCleanly();
    const all = l.messages;
    expect(all[0]!.fields.READY).toBe("1");
    expect(new Set(all.map((m) => m.pid))).toEqual(new Set([d.p.pid]));
    const statuses = l.statuses();
    expect(statuses).toContain("checking for updates");
    // No manifest is published: the idle status says so, not a bare "nothing to do".
    expect(statuses).toContainEqual(expect.stringMatching(/^idle: \S+\/release\.json: HTTP 404; of the rest: nothing to do: no offers; next check in 3s$/));
    expect(statuses.filter((s, i) => s === statuses[i - 1])).toEqual([]); // only changes are sent
    // Every 500 ms (WATCHDOG_USEC / 2), through the 3 s sleeps between checks.
    // The listener may print the last datagram a moment after otter has exited.
    const stopping = await l.waitFor((m) => m.fields.STOPPING === "1", 5000, "STOPPING=1");
    expect(stopping.fields).toEqual(expect.objectContaining({ STOPPING: "1", STATUS: "stopping" }));
    expect(pings(l, readyAt, stopping.at)).toBeGreaterThanOrEqual(((stopping.at - readyAt) / 500) * 0.6);
    const gaps = l.with("WATCHDOG").slice(1).map((m, i) => m.at - l.with("WATCHDOG")[i]!.at);
    expect(Math.max(...gaps)).toBeLessThan(1000);
    expect(pings(l, stopping.at, Infinity)).toBe(0);
  });
});

describe("readiness", () => {
  test("a config otter cannot use, or a lock another otter holds, never sends READY=1", async () => {
    const l = await listener();
    const r = fx.rig();
    writeFileSync(r.config, readFileSync(r.config, "utf8").replace("check_interval = 1", "check_interval = soon"));
    const bad = await r.run(["run"], { NOTIFY_SOCKET: l.socket });
    expect(bad.code).toBe(2);
    const good = fx.rig();
    const first = daemon(good, l);
    await l.waitFor((m) => m.pid === first.p.pid && m.fields.READY === "1", 20_000, "the first otter's READY=1");
    const second = await good.run(["run"], { NOTIFY_SOCKET: l.socket });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain("lock");
    expect(new Set(l.messages.map((m) => m.pid))).toEqual(new Set([first.p.pid]));
    await first.stop();
  });

  test("WATCHDOG_PID naming another process: no pings, the rest as usual", async () => {
    const l = await listener();
    const d = daemon(fx.rig(), l, { WATCHDOG_PID: "1" });
    await l.waitFor((m) => m.fields.STATUS?.startsWith("idle: ") ?? false, 20_000, "an idle status");
    await after(1500);
    await d.stop();
    expect(l.with("READY")).toHaveLength(1);
    expect(l.with("WATCHDOG")).toEqual([]);
  });

  test("hooks do not inherit NOTIFY_SOCKET and WATCHDOG_*: their messages would be refused as not from the main pid", async () => {
    const l = await listener();
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig();
    r.writeHook("install", 'env > "$T/env"; cp "$4" "$T/staged"');
    const res = await r.run(["--once"], { NOTIFY_SOCKET: l.socket, WATCHDOG_USEC: "1000000" });
    expect(res.code).toBe(0);
    const env = readFileSync(join(r.dir, "env"), "utf8");
    expect(env).not.toMatch(/^(NOTIFY_SOCKET|WATCHDOG_USEC)=/m);
    expect(env).toMatch(/^PATH=/m);
  });
});

describe("STATUS", () => {
  test("follows a job: each state, the download's progress, then idle", async () => {
    const l = await listener();
    // 3 MiB whose last line is the version (the rig's version hook prints the installed file).
    const m = fx.server.publish("release", "1.0.0", `${"x".repeat(3 << 20)}\n1.0.0`);
    const d = daemon(fx.rig(), l);
    await waitFor(() => fx.server.finals().length === 1, 20_000, "the job's final report");
    await l.waitFor((x) => x.fields.STATUS?.startsWith("idle: ") ?? false, 20_000, "an idle status");
    await d.stop();
    const job = `updating to 1.0.0 (release:1.0.0:${m.sha256.slice(0, 12)})`;
    const statuses = l.statuses();
    const ours = statuses.filter((s) => s.startsWith(job)).map((s) => s.slice(job.length + 2));
    expect(ours).toEqual(["versionCheck", "downloadHook", "download", "download 100% of 3.0 MiB", "verify", "install", "restart", "confirmVersion", "ready", "report"]);
    expect(statuses.at(-2)).toMatch(/^idle: nothing to do: .*; next check in 1s$/);
  });

  test.each([
    ["approval", { policy: { approvals: "true" } }, /^waiting for approval of release 1\.0\.0 \(release:1\.0\.0:[0-9a-f]{12}\): otter approve [0-9a-f]{8}; next check in 1s$/],
    ["the update window", { policy: { window: "Mon 00:00-00:01", download_outside_window: "false" } }, /^wait until \S+ \(window\), then release 1\.0\.0 .*; next check in 1s$/],
  ])("says what the daemon waits for: %s", async (_what, set: Ini, line) => {
    const l = await listener();
    fx.server.publish("release", "1.0.0", "1.0.0");
    const d = daemon(fx.rig({ set }), l);
    await l.waitFor((x) => line.test(x.fields.STATUS ?? ""), 20_000, `a status matching ${line}`);
    await d.stop();
  });
});

describe("WATCHDOG=1 only while the work under way moves", () => {
  // WATCHDOG_USEC = 2 s: a ping every second; a phase gets one watchdog period of grace past its bound.
  const WATCHDOG = { WATCHDOG_USEC: "2000000" };

  test("a download pings while its bytes grow and stops once the server stops sending", async () => {
    const file = new Uint8Array(8 << 20).fill(7);
    const stallAt = 64 * 1024;
    const slow: Running = await startServer((_req, reply) => reply.serve(file, { etag: '"v1"', trickle: 2048, trickleMs: 100, stallAt }));
    cleanups.push(() => slow.close());
    fx.server.publish("release", "1.0.0", file, { url: `${slow.url}/image.bin` });
    const l = await listener();
    const d = daemon(fx.rig(), l, WATCHDOG);
    await waitFor(() => slow.sent > 0, 20_000, "the first bytes");
    const first = performance.now();
    await waitFor(() => slow.sent >= stallAt, 20_000, "the server to stop sending");
    const stalled = performance.now();
    await after(5000);
    await d.stopsCleanly();
    // 3 s of bytes: a ping a second; the last progress (at most 1 s before the stop) is good
    // for 1 s more (progress comes once a second) plus the 2 s grace: silent from +3 s.
    expect(pings(l, first + 500, stalled)).toBeGreaterThanOrEqual(2);
    expect(pings(l, stalled + 3500, stalled + 5000)).toBe(0);
    expect(d.stderr()).toContain("watchdog: not telling systemd otter is alive: download: no progress for");
    // 20 KiB/s of 8 MiB: the same percentage for several progress events, sent once.
    const statuses = l.statuses();
    expect(statuses).toContainEqual(expect.stringMatching(/: download 0% of 8\.0 MiB$/));
    expect(statuses.filter((x, i) => x === statuses[i - 1])).toEqual([]);
  });

  test("a hook pings while inside its timeout; one still running past it (SIGTERM ignored) stops the pings", async () => {
    const r = fx.rig({ set: { hooks: { timeout: "4", kill_grace: "30" } } });
    r.writeHook("download", `echo $$ > "$T/hookpid"; trap '' TERM; sleep 60`);
    fx.server.publish("release", "1.0.0", "1.0.0");
    const l = await listener();
    const d = daemon(r, l, WATCHDOG);
    await waitFor(() => existsSync(join(r.dir, "hookpid")) && readFileSync(join(r.dir, "hookpid"), "utf8").trim() !== "", 20_000, "the download hook to start");
    const started = performance.now();
    const hook = Number(readFileSync(join(r.dir, "hookpid"), "utf8"));
    cleanups.push(() => killGroup(hook));
    await after(8500);
    // The hook's bound is its 4 s timeout plus the 2 s grace; otter then waits kill_grace (30 s) for it.
    expect(pings(l, started + 500, started + 3500)).toBeGreaterThanOrEqual(2);
    expect(pings(l, started + 7000, started + 8500)).toBe(0);
    expect(d.stderr()).toContain("watchdog: not telling systemd otter is alive: download hook: no progress for");
    d.p.kill("SIGKILL");
  });
});

test("an MQTT link pings while the broker answers, and while it is down and otter tries again on schedule", async () => {
  const broker = await Mosquitto.start();
  cleanups.push(() => broker.stop());
  const r = fx.rig({
    set: {
      service: { source: "aws", check_interval: "2" },
      broker: { host: "127.0.0.1", port: String(broker.port), thing_name: "watchdog-thing", keepalive: "5", answer_timeout: "1" },
    },
  });
  const l = await listener();
  const d = daemon(r, l, { WATCHDOG_USEC: "2000000" });
  await waitFor(() => d.stderr().includes("mqtt connected"), 20_000, "the MQTT connection");
  const up = performance.now();
  await after(3000);
  await broker.kill();
  const down = performance.now();
  await after(6000);
  await d.stopsCleanly();
  // A ping a second in each stretch (reconnect attempts back off to several seconds apart):
  // an outage is no reason for systemd to restart otter.
  expect(pings(l, up, down)).toBeGreaterThanOrEqual(2);
  expect(pings(l, down + 1000, down + 6000)).toBeGreaterThanOrEqual(3);
  expect(d.stderr()).not.toContain("watchdog: not telling systemd");
});

describe("SIGHUP re-reads the config", () => {
  const reloaded = (l: NotifyListener, from: number) => l.waitFor((m) => m.fields.READY === "1" && l.messages.indexOf(m) > from, 10_000, "READY=1 after the reload");

  test("RELOADING=1 then READY=1, and the next check uses the new file", async () => {
    const l = await listener();
    const r = fx.rig();
    const d = daemon(r, l);
    await l.waitFor((m) => m.fields.STATUS?.startsWith("idle: ") ?? false, 20_000, "an idle status");
    r.configure({ channels: { release: `${fx.server.url}/other.json` } });
    const before = l.messages.length;
    d.p.kill("SIGHUP");
    const reloading = await l.waitFor((m) => m.fields.RELOADING === "1", 10_000, "RELOADING=1");
    expect(Number(reloading.fields.MONOTONIC_USEC)).toBeGreaterThan(0);
    const ready = await reloaded(l, before);
    expect(ready.fields.STATUS).toBe("config re-read; it applies when no job runs");
    await waitFor(() => fx.server.requests.some((q) => q.path === "/other.json"), 10_000, "a check of the new channel URL");
    await d.stopsCleanly();
    expect(d.stderr()).toContain("new config applied");
  });

  test.each([
    ["a bad value", (ini: string) => ini.replace("check_interval = 1", "check_interval = soon"), /check_interval.*soon/],
    ["no install hook", (ini: string) => ini.replace(/^install = .*\n/m, ""), /otter\.ini \[hooks\] install: not set; otter installs an update only through this hook/],
  ])("a file otter cannot use (%s) is refused at once, in one line, and the daemon goes on with the config it has", async (_what, edit, why) => {
    const l = await listener();
    const r = fx.rig();
    const d = daemon(r, l);
    await l.waitFor((m) => m.fields.STATUS?.startsWith("idle: ") ?? false, 20_000, "an idle status");
    writeFileSync(r.config, edit(readFileSync(r.config, "utf8")));
    const before = l.messages.length;
    d.p.kill("SIGHUP");
    const ready = await reloaded(l, before);
    expect(ready.fields.STATUS).toMatch(/^config reload refused, otter goes on with the config it has: /);
    expect(ready.fields.STATUS).toMatch(why);
    const checks = fx.server.requests.length;
    await waitFor(() => fx.server.requests.length >= checks + 2, 10_000, "two more checks with the old config");
    await d.stopsCleanly();
    expect(d.stderr()).not.toContain("new config applied");
  });

  test("a job under way keeps its config until it ends; the next job has the new one", async () => {
    const l = await listener();
    const r = fx.rig({ set: { policy: { new_overrides_old: "release", min_soak: "0" } } });
    r.writeHook("install", 'while [ ! -f "$T/go" ]; do sleep 0.05; done; cp "$4" "$T/staged"');
    fx.server.publish("release", "1.0.0", "1.0.0");
    const d = daemon(r, l);
    await waitFor(() => r.log().some((x) => x.startsWith("install start")), 20_000, "the install hook");
    // The new config's ready hook fails.
    writeFileSync(join(r.dir, "hooks", "ready-fails"), "#!/bin/sh\necho 'not ready' >&2\nexit 1\n", { mode: 0o755 });
    r.configure({ hooks: { ready: "hooks/ready-fails" } });
    const before = l.messages.length;
    d.p.kill("SIGHUP");
    await reloaded(l, before);
    writeFileSync(join(r.dir, "go"), "");
    await waitFor(() => fx.server.finals().length === 1, 20_000, "the first job's end");
    expect(fx.server.finals()[0]!.state).toBe("complete_ready");
    fx.server.publish("release", "1.1.0", "1.1.0");
    await waitFor(() => fx.server.finals().length === 2, 20_000, "the second job's end");
    expect(fx.server.finals()[1]).toMatchObject({ status: "FAILED", state: "ready_hook_failed" });
    await d.stop();
  });
});

