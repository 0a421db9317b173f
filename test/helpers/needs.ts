// Tests that drive a real installer (RAUC, SWUpdate) need its tools and, for some, root.
// When they are missing the tests are not passed silently: the reason is printed and each
// test is counted as skipped under a name that says why.
import { spawnSync } from "node:child_process";
import { test } from "bun:test";

/** The first of `commands` not on PATH, as a reason; undefined when all are there. */
export function missingCommand(commands: string[], installedBy = "scripts/setup"): string | undefined {
  const absent = commands.filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
  return absent.length ? `${absent.join(", ")} not installed (${installedBy} installs them on Debian)` : undefined;
}

export type TestFn = (name: string, fn: () => Promise<unknown> | void, timeoutMs?: number) => void;

/** `test` when `reason` is undefined; otherwise tests that are skipped and name the reason. */
export function testIf(what: string, reason: string | undefined): TestFn {
  if (reason === undefined) return (name, fn, timeoutMs) => test(name, fn, timeoutMs);
  console.log(`SKIP ${what}: ${reason}`);
  return (name) => test.skip(`${name} (skipped: ${reason})`, () => {});
}
