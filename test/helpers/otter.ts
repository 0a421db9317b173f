// Runs the built otter (env OTTER_BIN, default dist/otter-linux-x64) as a subprocess, the
// way a device runs it. OTTER_BIN may be a command line, e.g. "node dist/otter.mjs".
// Asynchronous on purpose: tests serve manifests and brokers from their own event loop.
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");

export interface OtterRun {
  code: number | null;
  /** the signal that ended otter, if one did */
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface OtterOptions {
  /** added to the test's environment; a value of undefined removes the variable */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** the command that starts otter, instead of OTTER_BIN (e.g. "node dist/otter.mjs") */
  bin?: string;
}

/** The command that starts otter; relative paths in OTTER_BIN are taken from the repo root. */
export function otterCommand(bin = process.env.OTTER_BIN ?? "dist/otter-linux-x64"): string[] {
  return bin.split(" ").filter(Boolean).map((word) => (word.includes("/") ? resolve(ROOT, word) : word));
}

/** Start otter with `args` (for tests that signal or kill it); output is piped. */
export function spawnOtter(args: string[], opts: OtterOptions = {}): ChildProcess {
  const [cmd, ...pre] = otterCommand(opts.bin);
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return spawn(cmd!, [...pre, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
}

/** Wait for a started otter to exit and collect its output. */
export function finished(child: ChildProcess): Promise<OtterRun> {
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Run otter with `args` to its exit. */
export function otter(args: string[], opts: OtterOptions = {}): Promise<OtterRun> {
  return finished(spawnOtter(args, opts));
}
