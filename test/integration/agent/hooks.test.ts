// runHook against real fixture scripts: exit codes, output, argv without a shell, and that
// a timeout or an abort leaves nothing of the hook's process group alive.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runHook, type HookRun } from "../../../src/agent/hooks.ts";
import { groupMembers, isAlive, procStat, residentKiB } from "../../helpers/procs.ts";

const HOOKS = resolve(import.meta.dir, "../../fixtures/hooks");
const tmp = mkdtempSync(join(tmpdir(), "otter-hooks-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let logs = 0;

// Run a fixture with a fresh argv log; returns the result and the log's path.
async function run(fixture: string, extra: Partial<HookRun> = {}) {
  const log = join(tmp, `log${++logs}`);
  const result = await runHook({
    name: fixture, path: join(HOOKS, fixture), args: ["12", "0", "meta"],
    timeoutMs: 20_000, killGraceMs: 300, ...extra,
    env: { HOOK_LOG: log, ...extra.env },
  });
  return { result, log };
}

const argvOf = (log: string) => readFileSync(log, "utf8").split("\0").slice(0, -1);

describe("runHook", () => {
  test("exit 0: the last non-empty stdout line is the result, trimmed", async () => {
    const { result } = await run("ok");
    expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false, cancelled: false, result: "1.2.3" });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  test("lastLines come from stdout and stderr, with escape and control characters stripped", async () => {
    const { result } = await run("ok");
    expect(result.lastLines.sort()).toEqual(["  1.2.3", "step 1", "warn: red done"]);
  });

  // RAUC says why on stdout and only "Installing … failed" on stderr.
  test("an installer that explains on stdout and fails on stderr: both are in lastLines", async () => {
    const { result } = await run("explains");
    expect(result.exitCode).toBe(1);
    expect(result.lastLines).toContain("LastError: Failed mounting bundle: signature invalid");
    expect(result.lastLines).toContain("Installing `/tmp/update.raucb' failed");
  });

  test("exit 3 is reported as it is (the caller retries)", async () => {
    const { result } = await run("retry");
    expect(result).toMatchObject({ exitCode: 3, signal: null, timedOut: false, result: "not now" });
    expect(result.lastLines).toEqual(["not now"]);
  });

  test("another exit code keeps only the last 10 lines, cleaned", async () => {
    const { result } = await run("fail");
    expect(result.exitCode).toBe(7);
    // stdout's one line may come before or among stderr's: the pipes are read apart
    expect(result.lastLines).toHaveLength(10);
    expect(result.lastLines).toEqual(expect.arrayContaining(["error line 14", "last line"]));
    expect(result.lastLines).not.toContain("error line 5");
    expect(result.result).toBe("some stdout");
  });

  test("a last line without newline counts; \\r-drawn progress becomes lines", async () => {
    const lines: string[] = [];
    const { result } = await run("nonewline", { onLine: (_s, line) => lines.push(line) });
    expect(result.result).toBe("2.0.0");
    expect(lines).toEqual(["10%", "50%", "100%", "2.0.0"]);
  });

  test("onLine receives each stream's lines as they come", async () => {
    const seen: string[] = [];
    await run("ok", { onLine: (stream, line) => seen.push(`${stream}: ${line}`) });
    expect(seen.filter((l) => l.startsWith("stdout"))).toEqual(["stdout: step 1", "stdout:   1.2.3"]);
    expect(seen.filter((l) => l.startsWith("stderr"))).toEqual(["stderr: warn: red done"]);
  });

  test("argv is passed verbatim, never through a shell", async () => {
    const args = ["0", "2", `{"a": "b c", 'q': "$(touch ${tmp}/pwned)"}`, "with space", "`id`", "$HOME", "*", ""];
    const { log } = await run("ok", { args });
    expect(argvOf(log)).toEqual(args);
    expect(() => readFileSync(join(tmp, "pwned"))).toThrow();
  });

  test("env is added to otter's environment", async () => {
    const { log } = await run("ok", { env: { HOOK_LOG: join(tmp, "envlog") } });
    expect(log).not.toBe(join(tmp, "envlog"));
    expect(argvOf(join(tmp, "envlog"))).toEqual(["12", "0", "meta"]);
  });

  test("the hook leads its own process group and session", async () => {
    const { result } = await run("pgid");
    const [pid, pgid, sid] = result.result.split(" ").map(Number);
    expect(pgid).toBe(pid!);
    expect(sid).toBe(pid!);
    expect(pgid).not.toBe(procStat(process.pid)!.pgid);
  });

  test("timeout: a hook that ignores TERM and its grandchild holding stdout are both killed", async () => {
    const { result, log } = await run("stubborn", { timeoutMs: 3000, killGraceMs: 300 });
    const text = readFileSync(log, "utf8");
    const [, hook, grandchild] = /pids (\d+) (\d+)/.exec(text)!.map(Number);
    expect(result).toMatchObject({ timedOut: true, cancelled: false, exitCode: null, signal: "SIGKILL" });
    expect(text).toContain("TERM"); // TERM came first, the hook survived it
    expect(result.lastLines).toEqual(["started"]); // what it printed before the TERM, not after
    // runHook resolves once nothing of the group runs: the fixture's `sleep 1` too
    expect([isAlive(hook!), isAlive(grandchild!)]).toEqual([false, false]);
    expect(groupMembers(hook!)).toEqual([]);
  }, 20_000);

  // A killed process keeps its files and locks until it has exited, which takes a while for
  // a big one: a retried install hook must not find the last one's lock still held.
  test("a stopped hook's result comes only once no process of its group runs, however slowly a killed one exits", async () => {
    const ac = new AbortController();
    const log = join(tmp, "hoarder.log");
    const running = run("hoarder", { signal: ac.signal, killGraceMs: 100, env: { HOOK_LOG: log } });
    let pids: number[] = [];
    while (!pids.length || residentKiB(pids[1]!) < 128 * 1024) {
      await Bun.sleep(20);
      pids = (/pids (\d+) (\d+)/.exec(readFileSync(log, { encoding: "utf8", flag: "a+" })) ?? []).slice(1).map(Number);
    }
    ac.abort();
    const { result } = await running;
    const [hook, child] = pids;
    expect(result).toMatchObject({ cancelled: true, signal: "SIGKILL" });
    expect([isAlive(hook!), isAlive(child!)]).toEqual([false, false]);
    expect(groupMembers(hook!)).toEqual([]);
  }, 20_000);

  test("abort: the hook's group gets TERM and the result says cancelled", async () => {
    const ac = new AbortController();
    let pid = 0;
    const { result, log } = await run("sleeper", {
      signal: ac.signal,
      onLine: (_s, line) => {
        pid = Number(line.split(" ")[1]);
        ac.abort();
      },
    });
    expect(result).toMatchObject({ cancelled: true, timedOut: false, exitCode: null, signal: "SIGTERM" });
    expect(argvOf(log)).toEqual(["12", "0", "meta"]);
    expect(isAlive(pid)).toBe(false);
    expect(groupMembers(pid)).toEqual([]);
  });

  test("an abort before the start runs nothing", async () => {
    const ac = new AbortController();
    ac.abort();
    const { result, log } = await run("ok", { signal: ac.signal });
    expect(result).toMatchObject({ cancelled: true, exitCode: null, signal: null });
    expect(() => readFileSync(log)).toThrow();
  });

  test("a normal exit leaves a started daemon alive and does not wait for its pipe", async () => {
    const { result, log } = await run("daemon", { drainMs: 200 });
    const daemon = Number(readFileSync(`${log}.pid`, "utf8"));
    try {
      expect(result).toMatchObject({ exitCode: 0, timedOut: false, result: "started" });
      expect(isAlive(daemon)).toBe(true);
    } finally {
      process.kill(daemon, "SIGKILL");
    }
  }, 15_000);

  test("a missing or non-executable hook rejects with HOOK_FAILED", async () => {
    for (const path of [join(HOOKS, "absent"), join(HOOKS, "../hooks")]) {
      const err = await runHook({ name: "install", path, args: [], timeoutMs: 1000, killGraceMs: 100 }).catch((e) => e);
      expect(err.code).toBe("HOOK_FAILED");
      expect(err.message).toContain(path);
    }
  });
});
