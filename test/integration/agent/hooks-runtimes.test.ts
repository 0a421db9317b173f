// The process-group guarantees depend on the runtime's spawn: check them in a Bun-compiled
// binary and in an esbuild bundle under node, as otter ships (not only under `bun test`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HookResult } from "../../../src/agent/hooks.ts";
import { groupMembers, isAlive } from "../../helpers/procs.ts";
import { drivers, ROOT, sh } from "../../helpers/runtimes.ts";

const HOOKS = join(ROOT, "test/fixtures/hooks");
const tmp = mkdtempSync(join(tmpdir(), "otter-hookrt-"));
const { runtimes: RUNTIMES, build } = drivers("test/fixtures/hooks/driver.ts", tmp);

beforeAll(build, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function drive(runtime: string, hook: string, timeoutMs: number, env: Record<string, string> = {}) {
  const [cmd, ...pre] = RUNTIMES[runtime]!;
  const out = sh(cmd!, [...pre, join(HOOKS, hook), String(timeoutMs), "300", "1", "0", "meta"], env);
  return JSON.parse(out) as { pgid: number; result: HookResult };
}

for (const runtime of Object.keys(RUNTIMES)) {
  describe(runtime, () => {
    test("the hook gets its own process group and session", () => {
      const { pgid, result } = drive(runtime, "pgid", 10_000);
      const [pid, hookPgid, sid] = result.result.split(" ").map(Number);
      expect([hookPgid, sid]).toEqual([pid!, pid!]);
      expect(hookPgid).not.toBe(pgid);
    }, 40_000);

    test("timeout kills a TERM-ignoring hook and its grandchild holding stdout", async () => {
      const log = join(tmp, `${runtime.replace(" ", "-")}.log`);
      const { result } = drive(runtime, "stubborn", 3000, { HOOK_LOG: log });
      const [, hook, grandchild] = /pids (\d+) (\d+)/.exec(readFileSync(log, "utf8"))!.map(Number);
      expect(result).toMatchObject({ timedOut: true, signal: "SIGKILL" });
      // the driver prints once nothing of the group runs (the fixture's `sleep 1` too)
      expect([isAlive(hook!), isAlive(grandchild!)]).toEqual([false, false]);
      expect(groupMembers(hook!)).toEqual([]);
    }, 40_000);
  });
}
