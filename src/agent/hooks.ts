// Runs one hook as Upparat's contract and a fleet need: argv without a shell, in its own
// process group (setsid), with a timeout and cancellation that end the whole group
// (SIGTERM, then SIGKILL after a grace period; the result comes once no process of the
// group runs), keeping only the last lines of output.
//
// On a normal exit nothing is killed: a restart hook may legitimately leave a service
// running (Upparat does not kill either). If such a leftover keeps our stdout/stderr pipe
// open, we read on for at most `drainMs` after the hook's exit and then close our end, so
// the result never waits on a daemon; a daemon that then writes to that pipe gets EPIPE,
// so hooks should start services with their output redirected (or via systemctl).
//
// Because the hook has its own session, a Ctrl-C or SIGTERM sent to otter does not reach
// it: stopping otter must abort `signal`. A SIGKILLed otter leaves its hook running; a
// caller that journals the pid from `onSpawn` can end that group with stopGroup (src/base/proc.ts) on restart.
import { spawn, type ChildProcess } from "node:child_process";
import { HookFailed } from "../base/errors.ts";
import { LineTail } from "../base/lines.ts";
import { stopGroup } from "../base/proc.ts";

export interface HookRun {
  /** "version" | "download" | "install" | "restart" | "ready" | "rollback" (for logs) */
  name: string;
  /** executable; run with argv, never through a shell */
  path: string;
  /** already built by the caller (Upparat's: elapsed_seconds, retry_count, meta, file|force) */
  args: string[];
  timeoutMs: number;
  /** SIGTERM to the whole process group, then SIGKILL after this */
  killGraceMs: number;
  /** job cancelled / agent stopping: end the group the same way */
  signal?: AbortSignal;
  /** added to otter's own environment */
  env?: Record<string, string>;
  /** every non-empty output line, control characters stripped (install's become progress messages) */
  onLine?: (stream: "stdout" | "stderr", line: string) => void;
  /** the hook's pid, which is also its process group id (e.g. to journal it) */
  onSpawn?: (pid: number) => void;
  /** how long to read on after the hook exited while something else holds its pipes (default 500) */
  drainMs?: number;
}

export interface HookResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** from start to the hook's exit */
  durationMs: number;
  /**
   * the last ~10 lines of stdout and stderr together, in the order they came, control
   * characters stripped (an installer may explain its failure on either: RAUC on stdout).
   * For a hook that was stopped (timeout, cancel): the lines from before the SIGTERM, not
   * what it printed while being killed (a shell's "Terminated").
   */
  lastLines: string[];
  /** last non-empty stdout line, trimmed (the version hook's output) */
  result: string;
}

const KEEP_LINES = 10;
const DRAIN_MS = 500;
// setTimeout fires at once for delays beyond 2^31-1 ms.
const MAX_DELAY = 2 ** 31 - 1;

/** Run a hook to its end. Rejects (HookFailed) only when it cannot be started at all. */
export async function runHook(run: HookRun): Promise<HookResult> {
  const started = performance.now();
  const both: string[] = [];
  let beforeStop: string[] | undefined;
  const keep = (stream: "stdout" | "stderr") => (line: string) => {
    both.push(line);
    if (both.length > KEEP_LINES) both.shift();
    run.onLine?.(stream, line);
  };
  const out = new LineTail(KEEP_LINES, keep("stdout"));
  const err = new LineTail(KEEP_LINES, keep("stderr"));
  const flags = { timedOut: false, cancelled: run.signal?.aborted ?? false };
  const result = (exitCode: number | null, signal: string | null): HookResult => ({
    exitCode, signal, ...flags,
    durationMs: Math.round(performance.now() - started),
    lastLines: [...(beforeStop ?? both)],
    result: out.lastNonEmpty,
  });
  if (flags.cancelled) return result(null, null);

  const child = spawn(run.path, run.args, {
    detached: true, // setsid(): the hook leads its own group, which we can signal as a whole
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...run.env },
  });
  child.stdout!.on("data", (chunk: Uint8Array) => out.push(chunk));
  child.stderr!.on("data", (chunk: Uint8Array) => err.push(chunk));
  const streamsDone = Promise.all([closed(child.stdout!), closed(child.stderr!)]);

  let exited = false;
  let ending: Promise<void> | undefined;
  const stop = (why: "timedOut" | "cancelled") => {
    if (exited || ending || child.pid === undefined) return;
    flags[why] = true;
    beforeStop = [...both];
    ending = stopGroup(child.pid, run.killGraceMs);
  };
  const timer = setTimeout(() => stop("timedOut"), Math.min(run.timeoutMs, MAX_DELAY));
  const onAbort = () => stop("cancelled");
  run.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const exit = await exitOf(child, run, () => (exited = true));
    const durationMs = Math.round(performance.now() - started);
    await ending;
    await within(streamsDone, run.drainMs ?? DRAIN_MS);
    child.stdout!.destroy();
    child.stderr!.destroy();
    out.end();
    err.end();
    return { ...result(exit.code, exit.signal), durationMs };
  } finally {
    clearTimeout(timer);
    run.signal?.removeEventListener("abort", onAbort);
  }
}

// The hook's exit, or HookFailed when it could not be started (missing, not executable).
function exitOf(child: ChildProcess, run: HookRun, onExit: () => void) {
  return new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    child.once("spawn", () => run.onSpawn?.(child.pid!));
    child.once("error", (cause: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // a failed kill(); the exit still comes
      reject(new HookFailed(`${run.name} hook ${run.path} cannot be started: ${cause.code ?? cause.message}`, { cause }));
    });
    child.once("exit", (code, signal) => {
      onExit();
      resolve({ code, signal });
    });
  });
}

function closed(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
  });
}

// Wait for `promise`, but no longer than `ms`.
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
