import { afterEach, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorkload, type Workload, type WorkloadExit } from "../../../src/agent/workload.ts";
import { diesWithin, isAlive, procStat } from "../../helpers/procs.ts";

const started: Workload[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop(0)));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "otter-workload-"));
  dirs.push(d);
  return d;
}

function start(command: string, onDeath: (e: WorkloadExit) => void = () => {}): Workload {
  const w = startWorkload(command, onDeath);
  started.push(w);
  return w;
}

// Wait for a file a workload writes; bounded so a broken run fails instead of hanging.
async function written(file: string): Promise<void> {
  for (let i = 0; i < 400 && !(existsSync(file) && readFileSync(file, "utf8").endsWith("\n")); i++) await Bun.sleep(25);
}

async function pidFrom(file: string): Promise<number> {
  await written(file);
  return Number(readFileSync(file, "utf8").trim());
}

test("the workload runs in its own process group, as otter's child", () => {
  const w = start("sleep 1000");
  const s = procStat(w.pid)!;
  expect(s.pgid).toBe(w.pid); // it leads its own group
  expect(s.sid).toBe(w.pid); // and session (setsid), so a terminal's ^C does not reach it
  expect(s.ppid).toBe(process.pid); // otter's child, not init's
});

test("killed from outside: onDeath fires with the signal", async () => {
  const deaths: WorkloadExit[] = [];
  const w = start("sleep 1000", (e) => deaths.push(e));
  execFileSync("kill", ["-KILL", String(w.pid)]);
  const exit = await w.exited;
  expect(exit).toEqual({ code: null, signal: "SIGKILL", stopped: false });
  expect(deaths).toEqual([exit]);
});

test("exiting by itself: onDeath fires with the exit code", async () => {
  const deaths: WorkloadExit[] = [];
  const w = start("exit 7", (e) => deaths.push(e));
  expect(await w.exited).toEqual({ code: 7, signal: null, stopped: false });
  expect(deaths).toHaveLength(1);
});

test("stop TERMs the whole group, and onDeath does not fire", async () => {
  const dir = tempDir();
  const deaths: WorkloadExit[] = [];
  const w = start(`sleep 1000 & echo $! > ${dir}/child; wait`, (e) => deaths.push(e));
  const child = await pidFrom(`${dir}/child`);
  expect(isAlive(child)).toBe(true);
  const exit = await w.stop(10_000);
  expect(exit).toMatchObject({ signal: "SIGTERM", stopped: true });
  expect(await diesWithin(child)).toBe(true);
  expect(deaths).toEqual([]);
});

test("stop KILLs a group that ignores TERM after the grace", async () => {
  const dir = tempDir();
  const w = start(`trap '' TERM; sleep 1000 & echo $! > ${dir}/child; wait`);
  const child = await pidFrom(`${dir}/child`);
  const exit = await w.stop(200);
  expect(exit).toMatchObject({ signal: "SIGKILL", stopped: true });
  expect(await diesWithin(child)).toBe(true);
});

test("stop kills what is left of the group after the leader died", async () => {
  const dir = tempDir();
  const deaths: WorkloadExit[] = [];
  const w = start(`sleep 1000 & echo $! > ${dir}/child; exit 3`, (e) => deaths.push(e));
  const child = await pidFrom(`${dir}/child`);
  expect((await w.exited).code).toBe(3);
  expect(isAlive(child)).toBe(true);
  await w.stop(10_000);
  expect(await diesWithin(child)).toBe(true);
  expect(deaths).toHaveLength(1);
});

test("stop is idempotent", async () => {
  const w = start("sleep 1000");
  const [a, b] = await Promise.all([w.stop(1000), w.stop(1000)]);
  expect(a).toBe(b);
});
