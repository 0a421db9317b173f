// Calls one of the job's hooks the way Upparat does — argv [elapsed_seconds, retry_count,
// meta, ...] — with otter's guarantees: exit 3 retries after retry_interval (or, for
// --once, pauses the job until the next run) at most max_retries runs, counted in the
// journal so a crash never resets the count; every run has a timeout; a failure carries
// the hook's last lines.
import { Cancelled, HookFailed, HookPostponed, HookRetriesExhausted, HookTimeout } from "../base/errors.ts";
import { readSpan, startSpan } from "../base/clock.ts";
import { log } from "../base/log.ts";
import { identify, stillRunning, stopGroup } from "../base/proc.ts";
import { sleep } from "../base/sleep.ts";
import type { Config } from "../config/config.ts";
import { runHook } from "./hooks.ts";
import type { Journal } from "./journal.ts";
import type { Expect } from "./liveness.ts";

export type HookName = "version" | "download" | "install" | "restart" | "ready" | "rollback";

export interface HookCall {
  config: Config;
  journal: Journal;
  signal: AbortSignal;
  /** counter key in the journal: the pipeline state calling the hook */
  key: string;
  name: HookName;
  /** arguments after [elapsed, retry, meta] */
  extra?: string[];
  /** added to the hook's environment */
  env?: Record<string, string>;
  /** an exit 3 pauses the job (HookPostponed) instead of waiting retry_interval here: --once from cron */
  pauseOnRetry?: boolean;
  onLine?: (stream: "stdout" | "stderr", line: string) => void;
  /** tells the watchdog: a run is alive within its timeout, a retry wait within retry_interval */
  expect?: Expect;
}

// Lines of a failed hook's output in its message (stdout and stderr as they came).
const TAIL_LINES = 5;

function timeoutOf(config: Config, name: HookName): number {
  const h = config.hooks;
  return (name === "version" ? h.version_timeout : name === "ready" ? h.ready_timeout : h.timeout) * 1000;
}

/** Run the hook to success; undefined when it is not configured. Returns its result line. */
export async function callHook(call: HookCall): Promise<string | undefined> {
  const { config, journal, name } = call;
  const path = config.hooks[name];
  if (!path) return undefined;
  const job = journal.data.job!;
  const count = (job.hooks[call.key] ??= { firstCall: Date.now(), retries: 0, span: startSpan() });
  // A count an older otter journaled has no span: what the wall clock says has passed, never less than 0.
  count.span ??= startSpan(Math.max(0, Date.now() - count.firstCall));
  for (;;) {
    // ELAPSED: monotonic, so a step of the wall clock never makes it negative or jump.
    const elapsed = Math.floor(readSpan(count.span) / 1000);
    const args = [String(elapsed), String(count.retries), job.offer.meta, ...(call.extra ?? [])];
    log.info(`running ${name} hook`, { job: job.offer.id, retry: count.retries });
    call.expect?.(`${name} hook`, timeoutOf(config, name));
    // Journaled before the spawn, so a kill at any instant of the run finds it begun.
    count.running = true;
    journal.save();
    const res = await runHook({
      name, path, args, env: call.env, timeoutMs: timeoutOf(config, name), killGraceMs: config.hooks.kill_grace * 1000,
      signal: call.signal, onLine: call.onLine,
      onSpawn: (pid) => {
        job.hookProcess = identify(pid);
        journal.save();
      },
    });
    delete job.hookProcess;
    // A run otter stopped (SIGTERM) did not end either: the next start runs it again as after a kill.
    if (!res.cancelled) delete count.running;
    call.expect?.(`after the ${name} hook`);
    const tail = res.lastLines.length ? `: ${res.lastLines.slice(-TAIL_LINES).join(" | ")}` : "";
    if (res.cancelled) throw new Cancelled(`${name} hook stopped: the job was cancelled or otter is stopping`);
    if (res.timedOut) throw new HookTimeout(`${name} hook ran past its ${timeoutOf(config, name) / 1000} s timeout and was killed${tail}`);
    if (res.exitCode === 0) {
      delete job.hooks[call.key];
      journal.save();
      return res.result;
    }
    if (res.exitCode !== 3) {
      throw new HookFailed(`${name} hook failed: ${res.exitCode === null ? `killed by ${res.signal}` : `Exit code: ${res.exitCode}`}${tail}`);
    }
    count.retries++;
    journal.save();
    if (count.retries >= config.hooks.max_retries) {
      throw new HookRetriesExhausted(`${name} hook: Timeout after ${Math.floor(readSpan(count.span) / 1000)} s (${count.retries} runs asked to retry)`);
    }
    if (call.pauseOnRetry) {
      // The count and first-call time are journaled: the next run calls it with RETRY = retries.
      throw new HookPostponed(`${name} hook asked to retry later (${count.retries} of max_retries ${config.hooks.max_retries}); the next run calls it again`);
    }
    log.info(`${name} hook asked to retry later`, { in: `${config.hooks.retry_interval}s`, retry: count.retries });
    call.expect?.(`${name} hook: waiting to retry`, config.hooks.retry_interval * 1000);
    await sleep(config.hooks.retry_interval * 1000, call.signal);
  }
}

/**
 * End the hook a killed otter left running (hooks lead their own session, so they outlive
 * otter), before its state runs again. Only the very process that was recorded: same boot,
 * same start time.
 */
export async function endLeftoverHook(journal: Journal, graceMs: number): Promise<void> {
  const left = journal.data.job?.hookProcess;
  if (!left) return;
  if (stillRunning(left)) {
    log.warn("ending a hook left running by an otter that was killed", { pid: left.pid });
    await stopGroup(left.pid, graceMs);
  }
  delete journal.data.job!.hookProcess;
  journal.save();
}
