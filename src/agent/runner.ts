// Drives one job through the pipeline: journal the state, run its handler, map the
// outcome through the table, repeat until done. Failures become the job's outcome;
// a transient error pauses the job in its state (the caller decides when to go on).
import { Cancelled, OtterError, StorageUnavailable, codeOf, describe, failureStateOf, isTransient, LoopDetected } from "../base/errors.ts";
import { log } from "../base/log.ts";
import { endLeftoverHook } from "./hookcall.ts";
import type { JobRecord } from "./journal.ts";
import { cancellable, next, resumeFrom, type Event, type State } from "./pipeline.ts";
import { handlers, type Ctx } from "./states.ts";

/** The Upparat failure state for a hook or step that failed in each pipeline state. */
const FAILED_STATE: Partial<Record<State, string>> = {
  versionCheck: "version_hook_failed",
  downloadHook: "download_hook_failed",
  download: "download_failed",
  verify: "verification_failed",
  install: "installation_hook_failed",
  restart: "restart_hook_failed",
  confirmVersion: "version_hook_failed",
  ready: "ready_hook_failed",
};

export type RunResult =
  | { kind: "done"; job: JobRecord }
  | { kind: "paused"; job: JobRecord; error: OtterError }
  | { kind: "stopped"; job: JobRecord };

// Record a failure as the job's outcome and say which event it is.
function failure(job: JobRecord, state: State, err: unknown): Event {
  const code = codeOf(err);
  if (code === "SUPERSEDED" && cancellable(state)) {
    // Nothing failed: the device declined this job for a better one.
    job.outcome = { status: "REJECTED", state: "superseded", message: describe(err), code };
    return "cancelled";
  }
  if (code === "CANCELLED" && cancellable(state)) {
    job.outcome = { status: "FAILED", state: "cancelled", message: describe(err), code };
    return "cancelled";
  }
  job.outcome = { status: "FAILED", state: failureStateOf(err) ?? FAILED_STATE[state] ?? "failed", message: describe(err), code };
  job.failedIn = state;
  // An install whose hook never ran (not in this process, not in one killed before) installed nothing.
  return state === "install" && !job.hooks.install ? "refused" : "failed";
}

/**
 * Run the journal's job from where it was left (resumeFrom). Every start of a state is
 * counted in the journal, except the pick-up of a job that paused there (retry later: a
 * postponed hook, a closed update window), which stopped on purpose. When otter just
 * started (`resumed`) and finds a state already started max_starts times, the job keeps
 * being cut off there (a reboot loop): it fails instead of starting it again.
 */
export async function runJob(ctx: Ctx, stopping: AbortSignal, resumed: boolean): Promise<RunResult> {
  try {
    return await drive(ctx, stopping, resumed);
  } catch (err) {
    // state_dir full or read-only: what cannot be journaled is not done; the job waits
    if (!(err instanceof StorageUnavailable)) throw err;
    const job = ctx.journal.data.job!;
    log.warn(`job ${job.offer.id} paused in ${job.state}, its journal cannot be written: ${describe(err)}`);
    return { kind: "paused", job, error: err };
  }
}

async function drive(ctx: Ctx, stopping: AbortSignal, resumed: boolean): Promise<RunResult> {
  const { journal } = ctx;
  const job = journal.data.job!;
  await endLeftoverHook(journal, ctx.config.hooks.kill_grace * 1000);
  job.state = resumeFrom(job.state);
  const paused = job.pausedIn === job.state;
  delete job.pausedIn;
  const max = ctx.config.service.max_starts;
  const started = job.starts[job.state] ?? 0;
  if (resumed && !paused && started >= max && job.state !== "report" && job.state !== "rollback") {
    const err = new LoopDetected(`loop detected: ${job.state} was started ${started} times and cut off each time (max_starts ${max})`);
    log.error(err.message, { job: job.offer.id });
    job.state = next(job.state, failure(job, job.state, err));
  }
  if (!paused) count(job);
  journal.save();
  while (job.state !== "done") {
    const state = job.state as Exclude<State, "done">;
    log.debug(`job ${job.offer.id}: ${state}`);
    ctx.onState?.();
    let event: Event;
    try {
      event = await handlers[state](ctx, job);
      // A cancel that came while a state which does not watch the signal ran (verify) still
      // stops the job before install.
      if (event === "ok" && cancellable(state) && ctx.signal.aborted && !stopping.aborted) event = failure(job, state, cancelReason(ctx.signal));
    } catch (err) {
      if (stopping.aborted) return { kind: "stopped", job };
      if (ctx.signal.aborted && cancellable(state)) err = cancelReason(ctx.signal, err);
      if (isTransient(err)) {
        log.warn(`job ${job.offer.id} paused in ${state}: ${describe(err)}`);
        job.pausedIn = state;
        journal.save();
        return { kind: "paused", job, error: err as OtterError };
      }
      event = failure(job, state, err);
      log.error(`job ${job.offer.id} failed in ${state}: ${describe(err)}`);
    }
    job.state = next(state, event);
    if (job.state === "done") break;
    count(job);
    journal.save();
  }
  return { kind: "done", job };
}

// Why the job was cancelled: the reason given with the cancel (a Superseded), else a plain
// Cancelled (or the handler's own error, which already says so).
function cancelReason(signal: AbortSignal, err?: unknown): unknown {
  if (signal.reason instanceof OtterError) return signal.reason;
  return err ?? new Cancelled("the job was cancelled before install");
}

// One more start of the job's state (journaled with the state, before its work).
function count(job: JobRecord): void {
  job.starts[job.state] = (job.starts[job.state] ?? 0) + 1;
}
