// A fleet on one broker: N otter daemons (the built binary, each its own thing, state_dir and
// client id) against mosquitto and the jobs emulator, one job for a thing group of all N,
// rolled out in waves (maximumPerMinute), UpdateJobExecution throttled, and the broker
// SIGKILLed in the middle of the rollout and started again on the same port. Used by
// scripts/fleet (300 daemons, with an idle minute measured) and, short, by
// test/integration/e2e/fleet.test.ts.
//
// Reconnect times are taken from each otter's log: "mqtt connected … reconnect_due=T" says
// when the jittered wait of the attempt that got through was due. That is a property of the
// jitter draws, so the machine's load cannot bunch it (the broker's own connect stamps, in
// whole seconds, give the connections per second).
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { JobsEmulator } from "../../scripts/jobs-emulator.ts";
import { Mosquitto } from "./mosquitto.ts";
import { OTTER, Rig } from "./rig.ts";
import { UpdateServer } from "./updateserver.ts";

export interface FleetOptions {
  devices: number;
  /** things reached per emulated minute (AWS maximumPerMinute); default a third of the fleet */
  perMinute?: number;
  /** how long an emulated minute lasts */
  minuteMs?: number;
  /** UpdateJobExecution requests a second before RequestThrottled, the whole fleet together */
  updatesPerSecond?: number;
  /** the broker is killed once this many executions have SUCCEEDED (default a sixth of the
   * fleet) while a twentieth of the fleet is downloading */
  restartAfter?: number;
  /** how long the broker stays down */
  outageMs?: number;
  imageBytes?: number;
  /** the image is served at this rate to each device, so downloads are under way at the kill */
  bytesPerSecond?: number;
  /** measure CPU and memory of the idle daemons over this long after the rollout (0: not at all) */
  idleMs?: number;
  /** give up waiting for the rollout after this long */
  deadlineMs?: number;
  /** daemons started at once, each batch waited for until connected */
  startBatch?: number;
  progress?: (line: string) => void;
}

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export interface FleetStats {
  devices: number;
  /** from the job's creation until the last execution SUCCEEDED, seconds */
  rolloutS: number;
  notSucceeded: string[];
  /** expected states never accepted, per thing ("thing: state") */
  lost: string[];
  /** states accepted more than once ("thing: state ×n") */
  duplicated: string[];
  /** reports still queued in a device's journal at the end */
  undelivered: number;
  throttled: number;
  received: Spread;
  sent: Spread;
  /** per device, ms from the broker's restart to when its successful reconnect was due */
  reconnects: number[];
  /** devices with no reconnect after the kill in their log */
  notReconnected: string[];
  maxPer100ms: number;
  /** connects the broker logged in its busiest second, after the restart and over the run */
  peakConnectsPerSecond: { afterRestart: number; overall: number };
  /** older connections the broker closed for a newer one with the same client id */
  kicks: number;
  /** GET requests for the image, and how many of them asked for a Range */
  imageGets: number;
  rangeGets: number;
  /** with idleMs: median resident and proportional set size (shared pages split), MiB */
  idleRssMiB?: number;
  idlePssMiB?: number;
  /** with idleMs: CPU seconds per second per daemon while idle (median, max) and the fleet's total */
  idleCpu?: { median: number; max: number; total: number };
  /** with idleMs, the baseline measured alongside: a bare Bun process that only waits */
  bareBun?: { rssMiB: number; cpu: number };
  outageMs: number;
  /** where the executions were when the broker was killed: status or statusDetails.state → count */
  atKill: Record<string, number>;
}

const EXPECTED = ["download_start", "installation_start", "reboot_start", "complete_ready"];
/** States a device may send more than once on purpose. */
const REPEATABLE = new Set(["download_progress", "installation_progress"]);

export function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0] ?? 0, median: s[Math.floor(s.length / 2)] ?? 0, max: s.at(-1) ?? 0 };
}

/** The largest number of values in any window of `width` (sliding, not fixed buckets). */
export function densest(values: number[], width: number): number {
  const s = [...values].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i]! - s[j]! >= width) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** Counts of values per bucket of `width`, from the smallest value's bucket to the largest's. */
export function histogram(values: number[], width: number): { from: number; count: number }[] {
  if (!values.length) return [];
  const lo = Math.floor(Math.min(...values) / width);
  const hi = Math.floor(Math.max(...values) / width);
  const counts = Array.from({ length: hi - lo + 1 }, (_, i) => ({ from: (lo + i) * width, count: 0 }));
  for (const v of values) counts[Math.floor(v / width) - lo]!.count++;
  return counts;
}

/** From an otter log: when each reconnect that got through was due (epoch ms). */
export function reconnectDues(log: string): number[] {
  return [...log.matchAll(/ mqtt connected .*\breconnect_due=(\S+)/g)].map((m) => Date.parse(m[1]!));
}

/** The busiest second in a list of epoch-second stamps. */
function busiestSecond(stamps: number[]): number {
  const per = new Map<number, number>();
  for (const s of stamps) per.set(s, (per.get(s) ?? 0) + 1);
  return Math.max(0, ...per.values());
}

interface Daemon {
  thing: string;
  rig: Rig;
  proc: ReturnType<typeof Bun.spawn>;
  log: string;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks
}

function memoryKiB(pid: number, file: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/${file}`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Poll until cond() holds or ms pass; whether it held. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await Bun.sleep(200);
  }
  return true;
}

/** SIGTERM every daemon, SIGKILL what is left after 15 s. */
async function stopAll(daemons: Daemon[]): Promise<void> {
  for (const d of daemons) d.proc.kill("SIGTERM");
  await Promise.race([Promise.all(daemons.map((d) => d.proc.exited)), Bun.sleep(15_000)]);
  for (const d of daemons) d.proc.kill("SIGKILL");
  await Promise.all(daemons.map((d) => d.proc.exited));
}

export async function fleet(o: FleetOptions): Promise<FleetStats> {
  const n = o.devices;
  const say = o.progress ?? (() => {});
  const outageMs = o.outageMs ?? 3000;
  const broker = await Mosquitto.start({ connections: true });
  // The service is always there on AWS: let the emulator come back at once after the restart.
  const emu = new JobsEmulator({ broker: broker.url, minuteMs: o.minuteMs ?? 10_000, mqtt: { reconnectPeriod: 20 } });
  await emu.start();
  emu.limitUpdates(o.updatesPerSecond ?? Math.max(5, Math.ceil(n / 5)));
  const server = new UpdateServer();
  // The rig's hooks install the file as the device's version file: its first line is the version.
  const image = new TextEncoder().encode("2.0.0".padEnd(o.imageBytes ?? 256 * 1024, "\n"));
  server.files.set("/image.bin", image);
  server.slow("/image.bin", 16 * 1024, (16 * 1024 * 1000) / (o.bytesPerSecond ?? 32 * 1024));
  const run = `${process.pid}`;
  const daemons: Daemon[] = [];
  try {
    const batch = o.startBatch ?? 25;
    for (let i = 0; i < n; i += batch) {
      const started: string[] = [];
      for (let j = i; j < Math.min(n, i + batch); j++) {
        const thing = `fleet${run}-${String(j).padStart(4, "0")}`;
        const rig = new Rig({
          serverUrl: server.url, version: "1.0.0",
          set: {
            service: { source: "aws", check_interval: "10", check_jitter: "1", log_level: "INFO" },
            broker: { host: "127.0.0.1", port: String(broker.port), thing_name: thing, answer_timeout: "5" },
          },
        });
        const log = join(rig.dir, "otter.log");
        const fd = openSync(log, "w");
        const proc = Bun.spawn([OTTER, "run", "-c", rig.config], { stdin: "ignore", stdout: "ignore", stderr: fd });
        closeSync(fd);
        daemons.push({ thing, rig, proc, log });
        started.push(thing);
      }
      const connected = () => new Set(broker.events.filter((e) => e.kind === "connected").map((e) => e.clientId));
      if (!(await until(() => started.every((t) => connected().has(t)), 120_000))) throw new Error(`daemons ${started[0]}… did not connect within 120 s`);
      say(`${daemons.length} daemons connected`);
    }
    const things = daemons.map((d) => d.thing);
    emu.defineGroup("fleet", things);
    const sha256 = createHash("sha256").update(image).digest("hex");
    const document = { action: "upparat-update", version: "2.0.0", file: `\${aws:iot:s3-presigned-url:${server.url}/image.bin}`, sha256, size: image.length };
    const created = Date.now();
    emu.createJob({ jobId: "upparat_fleet", document, groups: ["fleet"], jobExecutionsRolloutConfig: { maximumPerMinute: o.perMinute ?? Math.ceil(n / 3) } });
    const succeeded = () => emu.listExecutions("upparat_fleet").filter((e) => e.status === "SUCCEEDED");

    const downloading = () => emu.listExecutions("upparat_fleet").filter((e) => e.status === "IN_PROGRESS" && /^download_/.test(e.statusDetails?.state ?? "")).length;
    const restartAfter = o.restartAfter ?? Math.max(1, Math.floor(n / 6));
    const deadline = o.deadlineMs ?? 600_000;
    const midway = () => succeeded().length >= restartAfter && downloading() >= Math.max(1, Math.floor(n / 20));
    if (!(await until(midway, deadline))) throw new Error(`${succeeded().length} of ${n} SUCCEEDED and ${downloading()} downloading after ${deadline / 1000} s: no moment for the broker restart`);
    const atKill: Record<string, number> = { "not reached": n - emu.listExecutions("upparat_fleet").length };
    for (const e of emu.listExecutions("upparat_fleet")) {
      const where = e.status === "IN_PROGRESS" ? (e.statusDetails?.state ?? "IN_PROGRESS") : e.status;
      atKill[where] = (atKill[where] ?? 0) + 1;
    }
    say(`broker SIGKILLed with executions at ${JSON.stringify(atKill)}`);
    const killedAt = Date.now();
    await broker.kill();
    await Bun.sleep(outageMs);
    await broker.restart();
    const restartedAt = Date.now();
    const killedAtS = Math.floor(killedAt / 1000);
    say(`broker back after ${((restartedAt - killedAt) / 1000).toFixed(1)} s`);

    const all = await until(() => succeeded().length === n, deadline - (Date.now() - created));
    const last = Math.max(...succeeded().map((e) => e.updates.filter((u) => u.outcome === "accepted").at(-1)?.at ?? 0));
    const rolloutS = all ? (last - created) / 1000 : NaN;
    say(all ? `all ${n} SUCCEEDED in ${rolloutS.toFixed(1)} s` : `gave up after ${deadline / 1000} s`);

    let idle: Pick<FleetStats, "idleRssMiB" | "idlePssMiB" | "idleCpu" | "bareBun"> = {};
    if (o.idleMs) {
      const bare = Bun.spawn([process.execPath, "-e", "setInterval(() => {}, 1 << 30)"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      await Bun.sleep(3000); // the last reports and checks settle
      const pids = daemons.map((d) => d.proc.pid);
      const before = [...pids, bare.pid].map(cpuTicks);
      const t0 = performance.now();
      await Bun.sleep(o.idleMs);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = [...pids, bare.pid].map((pid, i) => (cpuTicks(pid) - before[i]!) / 100 / seconds);
      const bareCpu = cpu.pop()!;
      idle = {
        idleRssMiB: spread(pids.map((p) => memoryKiB(p, "status", "VmRSS"))).median / 1024,
        idlePssMiB: spread(pids.map((p) => memoryKiB(p, "smaps_rollup", "Pss"))).median / 1024,
        idleCpu: { median: spread(cpu).median, max: spread(cpu).max, total: cpu.reduce((a, b) => a + b, 0) },
        bareBun: { rssMiB: memoryKiB(bare.pid, "status", "VmRSS") / 1024, cpu: bareCpu },
      };
      bare.kill("SIGKILL");
    }

    // Stopped like systemd stops them: each delivers what it still has queued first.
    await stopAll(daemons);
    const execs = emu.listExecutions("upparat_fleet");
    const lost: string[] = [];
    const duplicated: string[] = [];
    for (const e of execs) {
      const accepted = e.updates.filter((u) => u.outcome === "accepted").map((u) => u.statusDetails?.state ?? "");
      for (const s of EXPECTED) if (!accepted.includes(s)) lost.push(`${e.thingName}: ${s}`);
      for (const s of new Set(accepted)) {
        const times = accepted.filter((x) => x === s).length;
        if (times > 1 && !REPEATABLE.has(s)) duplicated.push(`${e.thingName}: ${s} ×${times}`);
      }
    }
    const counts = things.map((t) => emu.messages(t));
    const dues = new Map(daemons.map((d) => [d.thing, reconnectDues(readFileSync(d.log, "utf8")).find((at) => at >= killedAt)]));
    const reconnects = [...dues.values()].filter((at) => at !== undefined).map((at) => at! - restartedAt);
    const connects = broker.events.filter((e) => e.kind === "connected" && things.includes(e.clientId));
    const gets = server.requests.filter((r) => r.method === "GET" && r.path === "/image.bin");
    return {
      devices: n,
      rolloutS,
      notSucceeded: things.filter((t) => emu.execution("upparat_fleet", t)?.status !== "SUCCEEDED").map((t) => `${t}: ${emu.execution("upparat_fleet", t)?.status ?? "not reached"}`),
      lost,
      duplicated,
      undelivered: daemons.reduce((sum, d) => sum + (d.rig.journal()?.outbox?.length ?? 0), 0),
      throttled: emu.throttledUpdates,
      received: spread(counts.map((c) => c.received)),
      sent: spread(counts.map((c) => c.sent)),
      reconnects,
      notReconnected: [...dues].filter(([, at]) => at === undefined).map(([t]) => t),
      maxPer100ms: densest(reconnects, 100),
      peakConnectsPerSecond: {
        afterRestart: busiestSecond(connects.filter((e) => e.at >= killedAtS).map((e) => e.at)),
        overall: busiestSecond(connects.map((e) => e.at)),
      },
      kicks: broker.events.filter((e) => e.kind === "kicked").length,
      imageGets: gets.length,
      rangeGets: gets.filter((r) => r.range).length,
      ...idle,
      outageMs,
      atKill,
    };
  } finally {
    await stopAll(daemons);
    await emu.stop();
    await broker.stop();
    server.stop();
    if (process.env.FLEET_KEEP) console.log(`kept: ${daemons.map((d) => d.rig.dir).slice(0, 3).join(" ")}`);
    else for (const d of daemons) d.rig.cleanup();
  }
}
