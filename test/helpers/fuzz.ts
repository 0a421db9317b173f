// The hostile-input fuzzer (scripts/fuzz, and a short run in test/integration/e2e/fuzz.test.ts):
// for a number of seconds, mutate one of a manifest, an AWS job document, journal.json,
// approvals.json or history.json (test/helpers/mutate.ts), run the built otter on it
// (`--once` against a loopback manifest server or the jobs emulator on mosquitto, `status`,
// `approve`) and check what must hold whatever the input: no uncaught error (stack trace,
// runtime message, undocumented exit code, a hang), nothing installed (a signing key is
// configured and nothing is signed by it), one clear line of output, no raw control or bidi
// character and no line longer than 68 KiB, and a next start that works without finding a
// state file to move aside again. Iteration i of seed s mutates the same way on every run.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { JobsEmulator } from "../../scripts/jobs-emulator.ts";
import { STATES } from "../../src/agent/pipeline.ts";
import { Mosquitto } from "./mosquitto.ts";
import { mutate, type Mutated } from "./mutate.ts";
import { prng } from "./prng.ts";
import { makeKey, tempDir } from "./pki.ts";
import { OTTER, Rig } from "./rig.ts";
import { UpdateServer } from "./updateserver.ts";

export const TARGETS = ["manifest", "job", "journal", "approvals", "history"] as const;
export type Target = (typeof TARGETS)[number];
// How often each target comes up: the state files and manifests are cheap, a job needs MQTT.
const WEIGHTS: Record<Target, number> = { manifest: 3, job: 2, journal: 3, approvals: 2, history: 1 };

export interface FuzzOptions {
  seconds: number;
  seed: number;
  /** run only this iteration (to replay a finding) */
  iteration?: number;
  /** progress lines */
  log?: (line: string) => void;
}

export interface FuzzStats {
  seed: number;
  iterations: number;
  byTarget: Record<Target, number>;
  runs: number;
  findings: string[];
}

interface Run {
  args: string[];
  code: number | null;
  out: string;
  timedOut: boolean;
}

const RUN_TIMEOUT_MS = 30_000;
// Longer than any line otter prints from fields it accepts (the longest, URLs, meta and
// messages, are at most 64 KiB); a megabyte of mutated text must be refused, not echoed.
const MAX_LINE = 68 * 1024;
// The checks for what otter printed; each names what it found.
const CRASH = /\bat .+:\d+:\d+\)?$|TypeError|ReferenceError|RangeError|is not a function|is not an object|Cannot read propert|undefined is not|null is not|Maximum call stack|uncaught|unhandled/im;
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
// Nothing leaves the machine: a mutated URL's host goes to a proxy nobody listens on.
const ENV = { HTTP_PROXY: "http://127.0.0.1:9", HTTPS_PROXY: "http://127.0.0.1:9", http_proxy: "http://127.0.0.1:9", https_proxy: "http://127.0.0.1:9", NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" };

const IMAGE = new TextEncoder().encode("fuzz image 2.0.0\n");
// The manifests and jobs name a digest the image does not have: nothing may verify.
const WRONG_SHA = "0".repeat(63) + "1";
const STATUSES = ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "QUEUED"];

function baseDocuments(server: string, now: number) {
  const at = new Date(now).toISOString();
  const id = "release:2.0.0:000000000000";
  const offer = { id, source: "manifest", channel: "release", version: "2.0.0", url: `${server}/fuzz.img`, size: IMAGE.length, sha256: WRONG_SHA, signature: { value: "MEUCIQ==" }, meta: "m", force: false };
  return {
    manifest: { version: "2.0.0", url: "fuzz.img", sha256: WRONG_SHA, size: IMAGE.length, signature: { value: "MEUCIQ==", algorithm: "ecdsa" }, boards: ["fuzzboard"], meta: { slot: "b" }, force: false, archive: "gz" },
    job: { action: "upparat-update", version: "2.0.0", file: `${server}/fuzz.img`, meta: "m", force: false, sha256: WRONG_SHA, size: IMAGE.length, signature: "MEUCIQ==" },
    journal: {
      schema: 1,
      job: { offer, state: "download", startedAt: at, starts: { download: 1 }, hooks: { downloadHook: { firstCall: now, retries: 0 } }, seq: 2, previousVersion: "0.9.0" },
      outbox: [{ jobId: id, seq: 1, status: "IN_PROGRESS", state: "download_start", message: "downloading", at }],
      running: { version: "0.9.0", channel: "release", installedAt: now - 1000 },
    },
    approvals: { approved: ["0a1b2c3d"], denied: ["11111111"], pendingSince: { "22222222": now - 1000 } },
    history: [{ id, version: "2.0.0", channel: "release", status: "FAILED", state: "verification_failed", message: "m", code: "DIGEST_MISMATCH", startedAt: at, endedAt: at }],
  } satisfies Record<Target, unknown>;
}

function publicKeyFile(): string {
  const key = makeKey(tempDir("otter-fuzz-key-"), "signer", "ec256");
  const out = join(dirname(key), "signer.pub.pem");
  execFileSync("openssl", ["pkey", "-in", key, "-pubout", "-out", out]);
  return out;
}

async function runOtter(rig: Rig, args: string[]): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, ...ENV, OTTER_STATE_DIR: undefined, OTTER_CONFIG: undefined };
  const p = Bun.spawn([OTTER, ...args, "-c", rig.config], { cwd: rig.dir, env: env as Record<string, string>, stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const timer = setTimeout(() => ((timedOut = true), p.kill("SIGKILL")), RUN_TIMEOUT_MS);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { args, code: p.signalCode ? null : code, out: stdout + stderr, timedOut };
}

/** What is wrong with one run's exit and output, if anything. */
function problemsOf(run: Run, codes: number[], stateFileFixed: boolean): string[] {
  const found: string[] = [];
  if (run.timedOut) found.push(`hung for ${RUN_TIMEOUT_MS / 1000} s`);
  else if (run.code === null || !codes.includes(run.code)) found.push(`exit ${run.code} (expected ${codes.join(" or ")})`);
  const crash = CRASH.exec(run.out);
  if (crash) found.push(`uncaught or runtime error: ${JSON.stringify(crash[0])}`);
  const unsafe = UNSAFE.exec(run.out.replace(/\n/g, ""));
  if (unsafe) found.push(`raw U+${unsafe[0].codePointAt(0)!.toString(16).padStart(4, "0")} in the output`);
  const long = run.out.split("\n").find((l) => l.length > MAX_LINE);
  if (long) found.push(`a line of ${long.length} characters`);
  if (!/^otter: |\b(WARNING|ERROR)\b/m.test(run.out) && !/^(otter|installed|job):/m.test(run.out)) found.push("no line saying what happened");
  if (stateFileFixed && run.out.includes("unreadable")) found.push("a state file it wrote is unusable on the next start");
  return found;
}

/** Run the fuzzer; every finding is one line with the seed and iteration to replay it. */
export async function fuzz(opts: FuzzOptions): Promise<FuzzStats> {
  const stats: FuzzStats = { seed: opts.seed, iterations: 0, byTarget: { manifest: 0, job: 0, journal: 0, approvals: 0, history: 0 }, runs: 0, findings: [] };
  const server = new UpdateServer();
  server.files.set("/fuzz.img", IMAGE);
  const broker = await Mosquitto.start();
  const emu = new JobsEmulator({ broker: broker.url });
  await emu.start();
  const publicKey = publicKeyFile();
  const rig = new Rig({
    serverUrl: server.url,
    set: {
      service: { report_timeout: "2", log_level: "INFO" },
      download: { max_attempts: "2", connect_timeout: "5", stall_timeout: "5" },
      hooks: { timeout: "10" },
      verify: { public_key: publicKey },
      policy: { board: "fuzzboard", min_soak: "0" },
      broker: { host: "127.0.0.1", port: String(broker.port), answer_timeout: "3" },
    },
  });
  rig.writeHook("install", 'echo "$4" >> "$T/installed"');
  const weighted = TARGETS.flatMap((t) => Array<Target>(WEIGHTS[t]).fill(t));
  const deadline = Date.now() + opts.seconds * 1000;
  try {
    for (let i = opts.iteration ?? 0; opts.iteration !== undefined ? i === opts.iteration : Date.now() < deadline; i++) {
      const r = prng((opts.seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
      const target = weighted[Math.floor(r() * weighted.length)]!;
      const base = baseDocuments(server.url, Date.now())[target];
      const m = mutate(r, base, [...STATES, ...STATUSES, "aws", "manifest", "manual", "gz", "tar.gz", "zip", "upparat-update", "ecdsa"]);
      stats.iterations++;
      stats.byTarget[target]++;
      const found = await iteration(rig, server, emu, target, m, `fuzz-${opts.seed}-${i}`, (n) => (stats.runs += n));
      for (const f of found) stats.findings.push(`seed ${opts.seed} iteration ${i} (${target}: ${m.what}): ${f}`);
      opts.log?.(`${i} ${target} ${m.what}: ${found.length ? found.join("; ") : "ok"}`);
    }
  } finally {
    await emu.stop();
    await broker.stop();
    server.stop();
    rig.cleanup();
    rmSync(dirname(publicKey), { recursive: true, force: true });
  }
  return stats;
}

// One mutated input: set it up, run otter on it, then start otter again; the problems found.
async function iteration(rig: Rig, server: UpdateServer, emu: JobsEmulator, target: Target, m: Mutated, name: string, counted: (n: number) => void): Promise<string[]> {
  for (const p of [rig.state, join(rig.dir, "dl"), join(rig.dir, "installed"), join(rig.dir, "log")]) rmSync(p, { recursive: true, force: true });
  const base = baseDocuments(server.url, Date.now());
  server.files.set("/release.json", new TextEncoder().encode(target === "manifest" ? m.text : JSON.stringify(base.manifest)));
  const aws = target === "job";
  rig.configure({ service: { source: aws ? "aws" : "manifest" }, broker: { thing_name: name }, policy: { approvals: String(target === "approvals") } });
  const plan: [string[], number[]][] = [];
  if (aws) {
    let document: unknown = m.text;
    try {
      document = JSON.parse(m.text);
    } catch {
      // a document that is not JSON goes as the text AWS would hand on
    }
    emu.createJob({ jobId: `upparat_${name.replace(/-/g, "_")}`, document, things: [name] });
  } else if (target !== "manifest") {
    mkdirSync(rig.state, { recursive: true, mode: 0o700 });
    writeFileSync(join(rig.state, `${target}.json`), m.text);
    plan.push([["status"], [0]], [["approve", "22222222"], [0, 2]]);
  }
  // 5: a manifest otter could not understand (a source problem, not "nothing to do").
  const onceCodes = [0, 1, 3, 4, 5];
  plan.push([["--once"], onceCodes]);
  const found: string[] = [];
  for (const [args, codes] of plan) {
    const run = await runOtter(rig, args);
    found.push(...problemsOf(run, codes, false).map((p) => `otter ${args.join(" ")}: ${p}: ${excerpt(run.out)}`));
  }
  // The next start works, and finds nothing of its own to move aside.
  const next = await runOtter(rig, ["--once"]);
  found.push(...problemsOf(next, onceCodes, target !== "manifest" && target !== "job").map((p) => `next otter --once: ${p}: ${excerpt(next.out)}`));
  counted(plan.length + 1);
  if (existsSync(join(rig.dir, "installed"))) found.push(`installed ${JSON.stringify(readFileSync(join(rig.dir, "installed"), "utf8").slice(0, 200))}`);
  return found;
}

// The end of the output, escaped, for a finding's line.
function excerpt(out: string): string {
  return JSON.stringify(out.trim().split("\n").slice(-3).join(" | ").slice(-400));
}
