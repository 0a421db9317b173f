// The process-group guarantees depend on the runtime's spawn: check them in a Bun-compiled
// binary and in an esbuild bundle under node, as otter ships (not only under `bun test`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { HookResult } from "../../src/hooks.ts";
import { diesWithin, groupMembers } from "../helpers/procs.ts";

const ROOT = resolve(import.meta.dir, "../..");
const HOOKS = join(ROOT, "test/fixtures/hooks");
const tmp = mkdtempSync(join(tmpdir(), "otter-hookrt-"));
const BIN = join(ROOT, "node_modules/.bin");

function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const RUNTIMES: Record<string, string[]> = {
  "bun binary": [join(tmp, "driver")],
  "node bundle": ["node", join(tmp, "driver.mjs")],
};

beforeAll(() => {
  sh(join(BIN, "bun"), ["build", "test/fixtures/hooks/driver.ts", "--compile", "--outfile", join(tmp, "driver")]);
  sh(join(BIN, "esbuild"), ["test/fixtures/hooks/driver.ts", "--bundle", "--platform=node", "--format=esm", "--log-level=warning", `--outfile=${join(tmp, "driver.mjs")}`]);
}, 60_000);
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
      const { result } = drive(runtime, "stubborn", 1500, { HOOK_LOG: log });
      const [, hook, grandchild] = /pids (\d+) (\d+)/.exec(readFileSync(log, "utf8"))!.map(Number);
      expect(result).toMatchObject({ timedOut: true, signal: "SIGKILL" });
      expect([await diesWithin(hook!), await diesWithin(grandchild!)]).toEqual([true, true]);
      expect(groupMembers(hook!)).toEqual([]);
    }, 40_000);
  });
}
