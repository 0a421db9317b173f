// Real power cuts through whole updates: each trial serves a new version (a plain file and
// an archive in turn), boots the guest, cuts its power at a random instant or inside a
// named phase, boots again until the guest says the job is over (at most maxBoots), then
// checks the disk image: the served version runs, with the served bytes, the journal parses
// with no job left, the final report reached the server exactly once, and no boot logged
// "journal unreadable". The same disk carries on to the next trial while it stays valid.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { prng } from "../../test/helpers/prng.ts";
import { buildDisk, buildGuest, CACHE, dumpImageDir, fsck, readImageFile, type Guest } from "./guest.ts";
import { makeRelease, PowercutServer, type Kind, type Release } from "./server.ts";
import { boot, chooseAccel, type Boot } from "./vm.ts";
import { isAlive } from "../../test/helpers/procs.ts";

/** Where a cut can be aimed: a pipeline state (cut inside it) or anywhere once otter runs. */
export const AIMS = ["download", "verify", "install", "restart", "confirmVersion", "ready", "report", "random"] as const;
export type Aim = (typeof AIMS)[number];

export interface TrialPlan {
  kind: Kind;
  /** undefined: an uncut trial, which also measures how long each phase takes */
  aim?: Aim;
}

export interface Problems {
  lost: string[];
  wrong: string[];
  falseReport: string[];
  torn: string[];
  other: string[];
}

export interface TrialResult {
  index: number;
  version: string;
  plan: TrialPlan;
  /** the phase each cut landed in (the last pipeline state the serial console showed) */
  cuts: string[];
  boots: number;
  ms: number;
  problems: Problems;
}

export interface RunOptions {
  binary: string;
  plans: TrialPlan[];
  seed: number;
  /** bytes per update (default 16 MiB) */
  size?: number;
  maxBoots?: number;
  /** a boot that has not ended after this long is cut and counted as hung */
  bootTimeoutMs?: number;
  onTrial?: (r: TrialResult) => void;
  log?: (line: string) => void;
}

export interface RunResult {
  seed: number;
  accel: string;
  results: TrialResult[];
  /** uncut boot + update time, per kind (ms), from the calibration trials */
  uncutMs: Partial<Record<Kind, number>>;
  workDir: string;
}

const STATE_LINE = / DEBUG +job \S+: (\w+)$/;
const otterStarted = (text: string) => text.includes("powercut: boot ");

/** The phase the guest was in at the end of `lines`: the last state otter logged, else "start". */
export function phaseOf(lines: { text: string }[]): string {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = STATE_LINE.exec(lines[i]!.text);
    if (m) return m[1]!;
  }
  return "start";
}

/**
 * How long each phase took in a boot, and from otter's start to the end (ms). A phase the
 * boot resumed (its first, unless versionCheck) ran only in part and is left out.
 */
function durations(b: Boot): { phases: Record<string, number>; total: number } {
  const phases: Record<string, number> = {};
  let current: { phase: string; t: number } | undefined;
  let started = 0;
  let first = true;
  for (const l of b.lines) {
    if (otterStarted(l.text)) started = l.t;
    const m = STATE_LINE.exec(l.text);
    const ended = l.text.includes("powercut: once rc=");
    if ((m || ended) && current) {
      const partial = first && current.phase !== "versionCheck";
      if (!partial) phases[current.phase] = (phases[current.phase] ?? 0) + l.t - current.t;
      first = false;
    }
    current = m ? { phase: m[1]!, t: l.t } : ended ? undefined : current;
  }
  return { phases, total: (b.lines.at(-1)?.t ?? 0) - started };
}

/**
 * The last line a phase prints while otter's journal still names it: the install hook's
 * marker, written just before it exits (a cut there still finds the job in install). Other
 * phases end when the next state's line shows that state was journaled.
 */
const LAST_INSIDE: Partial<Record<Aim, string>> = { install: "powercut: hook install done" };

/**
 * Arm `aim` on a boot: cut at a uniform instant inside that phase, within the shortest
 * time it took before (or anywhere from otter's start to the end of an uncut boot). A
 * phase that still ends first is cut at its last line inside, or else as it ends.
 */
function arm(b: Boot, aim: Aim, calib: ReturnType<typeof durations>, rnd: () => number): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fired = false;
  const fire = () => {
    clearTimeout(timer);
    if (!fired) b.cut();
    fired = true;
  };
  const last = LAST_INSIDE[aim];
  b.onLine((l) => {
    if (fired) return;
    const state = STATE_LINE.exec(l.text)?.[1];
    if (timer === undefined) {
      if (aim === "random" ? otterStarted(l.text) : state === aim) {
        timer = setTimeout(fire, rnd() * (aim === "random" ? calib.total : (calib.phases[aim] ?? 1000)));
      }
    } else if (aim !== "random" && ((last && l.text.includes(last)) || state || l.text.includes("powercut: once rc="))) fire();
  });
}

const JOB_LEFT = "a job is left in the journal";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** What is wrong on the disk and at the server after a trial of `release`. */
function check(image: string, release: Release, server: PowercutServer, logs: string, scratch: string): Problems {
  const p: Problems = { lost: [], wrong: [], falseReport: [], torn: [], other: [] };
  const running = new TextDecoder().decode(readImageFile(image, "/version") ?? new Uint8Array()).trim();
  const updated = running === release.version;
  if (!updated) p.lost.push(`the device runs ${running || "(no version file)"}, not ${release.version}`);
  let bytesRight = false;
  if (updated) {
    dumpImageDir(image, "/installed", scratch);
    const dir = join(scratch, "installed");
    const found = new Map(readdirSync(dir).map((n) => [n, sha(readFileSync(join(dir, n)))]));
    const bad = [...release.installed].filter(([n, h]) => found.get(n) !== h).map(([n]) => `${n} (${found.has(n) ? `${readFileSync(join(dir, n)).length} bytes, wrong sha256` : "missing"})`);
    const extra = [...found.keys()].filter((n) => !release.installed.has(n));
    if (bad.length || extra.length) p.wrong.push(`installed files differ: ${[...bad, ...extra.map((n) => `${n} (not served)`)].join(", ")}`);
    bytesRight = !bad.length && !extra.length;
  }
  const text = readImageFile(image, "/state/journal.json");
  if (!text) p.torn.push("state/journal.json missing");
  else {
    try {
      const j = JSON.parse(new TextDecoder().decode(text));
      if (j.job) p.lost.push(`${JOB_LEFT} (${j.job.offer?.version} in ${j.job.state})`);
      if (j.outbox?.length) p.falseReport.push(`${j.outbox.length} report(s) left in the journal's outbox`);
    } catch (err) {
      p.torn.push(`journal.json does not parse: ${(err as Error).message}`);
    }
  }
  if (/journal unreadable/.test(logs)) p.torn.push(`a boot logged "journal unreadable": ${/.*journal unreadable.*/.exec(logs)![0].trim()}`);
  const finals = server.finals(release.jobId);
  const seqs = [...new Set(finals.map((f) => f.seq))];
  const statuses = [...new Set(finals.map((f) => f.status))];
  if (seqs.length !== 1) p.falseReport.push(`${seqs.length} final reports (seq ${seqs.join(", ") || "none"}) instead of one`);
  const truth = updated && bytesRight ? "SUCCEEDED" : "FAILED";
  if (statuses.some((s) => s !== truth)) p.falseReport.push(`reported ${statuses.join("/")} (${finals.map((f) => `${f.state}: ${f.message}`).at(-1)}) but the update ${truth === "SUCCEEDED" ? "is installed" : "is not installed right"}`);
  const fs = fsck(image);
  if (fs) p.other.push(`e2fsck: ${fs}`);
  return p;
}

interface Device {
  guest: Guest;
  image: string;
  accel: "kvm" | "tcg";
  server: PowercutServer;
  workDir: string;
  rnd: () => number;
  /** phase durations of each kind's uncut trial, where aimed cuts land */
  calib: Partial<Record<Kind, ReturnType<typeof durations>>>;
  uncutMs: Partial<Record<Kind, number>>;
  maxBoots: number;
  bootTimeoutMs: number;
}

/** Boot until the guest says the job is over (at most maxBoots), cutting as `plan` says. */
async function bootUntilOver(d: Device, release: Release, plan: TrialPlan, logFile: string, problems: Problems) {
  // An aimed trial cuts once, in its phase; a random one one to three times, anywhere.
  const planned = !plan.aim ? 0 : plan.aim === "random" ? 1 + Math.floor(d.rnd() * 3) : 1;
  const cuts: string[] = [];
  const started = Date.now();
  let boots = 0;
  while (boots < d.maxBoots) {
    boots++;
    appendFileSync(logFile, `powercut: --- boot ${boots} ---\n`);
    const b = boot({ guest: d.guest, image: d.image, port: d.server.port, target: release.version, log: logFile, accel: d.accel });
    if (plan.aim && cuts.length < planned) arm(b, plan.aim, d.calib[plan.kind] ?? { phases: {}, total: 20_000 }, d.rnd);
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      b.cut();
    }, d.bootTimeoutMs);
    const { cut } = await b.exited;
    clearTimeout(timer);
    // The host's load moves how long a phase takes: aim within the shortest seen whole.
    const seen = d.calib[plan.kind]?.phases;
    for (const [phase, ms] of Object.entries(durations(b).phases)) if (seen) seen[phase] = Math.min(seen[phase] ?? ms, ms);
    if (hung) problems.other.push(`boot ${boots} hung in ${phaseOf(b.lines)}`);
    else if (cut) cuts.push(phaseOf(b.lines));
    else if (b.lines.some((l) => l.text.includes("powercut: end "))) {
      if (!plan.aim) {
        d.calib[plan.kind] = durations(b);
        d.uncutMs[plan.kind] = Date.now() - started;
      }
      return { cuts, boots };
    } else {
      const panic = b.lines.find((l) => l.text.includes("Kernel panic"))?.text.replace(/.*Kernel panic/, "Kernel panic");
      problems.other.push(`boot ${boots} ended without the guest's end line: ${panic ?? "qemu died?"}`);
    }
  }
  problems.lost.push(`not over after ${d.maxBoots} boots`);
  return { cuts, boots };
}

/** One trial: serve the next version, boot and cut until it is over, check the device. */
async function trial(d: Device, index: number, plan: TrialPlan, release: Release): Promise<TrialResult> {
  const started = Date.now();
  d.server.publish(release);
  const logFile = join(d.workDir, `trial-${String(index).padStart(3, "0")}-${plan.kind}-${plan.aim ?? "uncut"}.log`);
  writeFileSync(logFile, "");
  const problems: Problems = { lost: [], wrong: [], falseReport: [], torn: [], other: [] };
  const { cuts, boots } = await bootUntilOver(d, release, plan, logFile, problems);
  const found = check(d.image, release, d.server, readFileSync(logFile, "utf8"), join(d.workDir, "scratch"));
  for (const k of Object.keys(problems) as (keyof Problems)[]) problems[k].push(...found[k]);
  return { index, version: release.version, plan, cuts, boots, ms: Date.now() - started, problems };
}

/**
 * This run's folder (disk image, one log per trial): .cache/powercut/run-PID, so runs at
 * the same time (a test and a long run) keep apart; those of finished runs are removed.
 */
function newWorkDir(): string {
  for (const name of readdirSync(CACHE)) {
    const pid = /^run-(\d+)$/.exec(name)?.[1];
    if (pid && !isAlive(Number(pid))) rmSync(join(CACHE, name), { recursive: true, force: true });
  }
  const dir = join(CACHE, `run-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Run the trials in `plans` on one device, after one uncut trial per kind (the calibration). */
export async function runTrials(o: RunOptions): Promise<RunResult> {
  const workDir = newWorkDir();
  const image = join(workDir, "disk.img");
  const guest = buildGuest(o.binary);
  let version = 0;
  const fresh = () => buildDisk(image, o.binary, `1.0.${version}`);
  fresh();
  const d: Device = {
    guest, image, accel: await chooseAccel(guest, image), server: new PowercutServer(), workDir, rnd: prng(o.seed),
    calib: {}, uncutMs: {}, maxBoots: o.maxBoots ?? 8, bootTimeoutMs: o.bootTimeoutMs ?? 300_000,
  };
  const kinds = [...new Set(o.plans.map((p) => p.kind))];
  const results: TrialResult[] = [];
  try {
    for (const [index, plan] of [...kinds.map((kind): TrialPlan => ({ kind })), ...o.plans].entries()) {
      version++;
      const release = makeRelease(`1.0.${version}`, plan.kind, o.size ?? 16 * 1024 * 1024, o.seed + version * 7919);
      const result = await trial(d, index, plan, release);
      results.push(result);
      o.onTrial?.(result);
      // A device whose disk or journal cannot carry on starts the next trial from a fresh disk.
      const { torn, other, lost } = result.problems;
      if (torn.length || other.length || lost.some((l) => l.startsWith(JOB_LEFT))) {
        o.log?.(`trial ${index}: fresh disk for the next trial`);
        fresh();
      }
    }
  } finally {
    d.server.stop();
  }
  return { seed: o.seed, accel: d.accel, results, uncutMs: d.uncutMs, workDir };
}

/** The trials that found a problem. */
export function failures(r: RunResult): TrialResult[] {
  return r.results.filter((t) => Object.values(t.problems).some((list) => list.length));
}
