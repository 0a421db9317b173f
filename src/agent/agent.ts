// The agent's loop: take the lock, resume the journal's job if there is one, otherwise
// ask the source for work and let the policy decide (src/agent/act.ts), run the job through the
// pipeline, deliver reports, and (as a daemon) supervise the workload and sleep until the
// next check, a notification, a workload's death or an approval.
import { removeStaleTemps } from "../base/atomic.ts";
import { EXIT, OtterError, UsageError, WindowClosed, codeOf, describe, exitCodeOf, type ExitCode } from "../base/errors.ts";
import { acquireLock } from "../base/lock.ts";
import { log } from "../base/log.ts";
import { ownDir } from "../base/ownfiles.ts";
import { sleep } from "../base/sleep.ts";
import type { Config } from "../config/config.ts";
import type { ProgressBar } from "../transfer/progress.ts";
import { createSource } from "../sources/index.ts";
import { dropQueuedInstall, INSTALL_QUEUE_FILE, takeQueuedInstall, withQueuedInstalls } from "../sources/manual.ts";
import type { Offer, Source, SourceEvents, SourceProblem } from "../sources/source.ts";
import { APPROVALS_FILE, readApprovals } from "../policy/approvalfile.ts";
import { approvalId, formatDuration } from "../policy/policy.ts";
import { Decider } from "./act.ts";
import { readHistory } from "./history.ts";
import { Journal, type JobRecord } from "./journal.ts";
import { Outbox } from "./outbox.ts";
import { cancellable, type State } from "./pipeline.ts";
import { watchForBetter } from "./preempt.ts";
import { Reload } from "./reload.ts";
import { runJob, type RunResult } from "./runner.ts";
import { noteSourceProblems, withProblems } from "./sourcestatus.ts";
import { watchStateFiles } from "./statewatch.ts";
import { Supervisor } from "./supervisor.ts";
import { SystemdService } from "./systemd.ts";

export interface AgentOptions {
  once: boolean;
  /** a source given by the caller (otter install) instead of the configured one */
  source?: Source;
  /** print a one-line summary of each job to stdout */
  summary?: (line: string) => void;
  /** a download progress bar (on a TTY) */
  progress?: ProgressBar;
  /** --once --jitter: wait a random part of check_jitter before the check, as a daemon does */
  jitter?: boolean;
  /** read the config file again (SIGHUP, daemon only) */
  reload?: () => Config;
}

/** A new job for an offer; an AWS execution left in reboot_start resumes at the version check (Upparat). */
export function newJob(offer: Offer, state?: State, outcome?: JobRecord["outcome"]): JobRecord {
  const start: State = state ?? (offer.inProgressState === "reboot_start" ? "confirmVersion" : "versionCheck");
  return { offer, state: start, startedAt: new Date().toISOString(), starts: {}, hooks: {}, seq: 0, outcome };
}

function exitFor(result: RunResult): ExitCode {
  if (result.kind === "paused") return exitCodeOf(result.error);
  if (result.kind === "stopped") return EXIT.retryLater;
  return result.job.outcome?.status === "SUCCEEDED" ? EXIT.ok : EXIT.failed;
}

function describeResult(result: RunResult): string {
  const { offer, outcome } = result.job;
  const what = `${offer.id} (version ${offer.version})`;
  if (result.kind === "paused") return `${what}: paused in ${result.job.state}: ${describe(result.error)}`;
  if (result.kind === "stopped") return `${what}: stopped in ${result.job.state}; it resumes on the next start`;
  return `${what}: ${outcome?.status} ${outcome?.state}: ${outcome?.message}`;
}

/** Run otter: once (check, run what is due, exit) or as a daemon. Returns the exit code. */
export async function runAgent(config: Config, opts: AgentOptions): Promise<ExitCode> {
  const dir = config.service.state_dir;
  // Root installs what lands in these: nobody else may be able to put anything there.
  ownDir(dir, "[service] state_dir");
  ownDir(config.service.download_location, "[service] download_location");
  const release = acquireLock(dir, opts.once ? "otter --once" : "otter run");
  removeStaleTemps(dir);
  const stop = new AbortController();
  const service = await SystemdService.open();
  const onSignal = (sig: string) => {
    log.info(`${sig}: stopping`);
    service.stopping();
    stop.abort();
  };
  const reload = opts.reload && !opts.once ? new Reload(opts.reload, dir) : undefined;
  const onHup = () => {
    service.reloading();
    service.reloaded(reload!.request());
  };
  process.on("SIGTERM", onSignal).on("SIGINT", onSignal);
  if (reload) process.on("SIGHUP", onHup);
  try {
    return await loop(config, opts, stop.signal, service, reload);
  } finally {
    process.off("SIGTERM", onSignal).off("SIGINT", onSignal).off("SIGHUP", onHup);
    await service.close();
    release();
  }
}

async function loop(config: Config, opts: AgentOptions, stop: AbortSignal, service: SystemdService, reload?: Reload): Promise<ExitCode> {
  const journal = Journal.open(config.service.state_dir);
  const under = journal.data.job;
  // `otter install` never silently resumes another job in place of the file it was given.
  if (opts.source && under) {
    throw new UsageError(`a job is under way: ${under.offer.id} (version ${under.offer.version}) in ${under.state}; finish it (otter --once, or start the daemon), then run otter install again`);
  }
  let source = opts.source ?? withQueuedInstalls(config, await createSource(config));
  let wake = new AbortController();
  let cancel = new AbortController();
  // Stop the job under way while that is still safe (before install); past that it finishes.
  // A reason given (Superseded) becomes the job's outcome.
  const cancelJob = (job: JobRecord, why: string, reason?: OtterError) => {
    if (!cancellable(job.state)) return log.warn(`${why} during ${job.state}; too late to stop: finishing it and reporting`);
    if (cancel.signal.aborted) return;
    log.warn(`${why}; cancelling it`);
    cancel.abort(reason);
  };
  const outbox = new Outbox(journal, source, stop);
  journal.onEnqueue = () => outbox.kick();
  const events: SourceEvents = {
    wake: () => {
      wake.abort();
      outbox.retryNow(); // reconnected: queued reports need not wait out their backoff
    },
    cancelled: (jobId) => {
      const job = journal.data.job;
      if (job?.offer.id === jobId) cancelJob(job, `job ${jobId} was cancelled upstream`);
    },
  };
  await source.start(events);
  outbox.start();
  service.liveness.watch(() => source.stalled?.());
  // The workload is supervised by the daemon only: a --once or `otter install` run ends.
  const supervisor = opts.once ? undefined : new Supervisor(config, journal, () => wake.abort());
  service.ready();
  // `otter deny` of the job under way cancels it, whether it came while the daemon ran or
  // while otter was stopped (checked again as the job resumes).
  const cancelIfDenied = () => {
    const job = journal.data.job;
    const id = job && approvalId(job.offer);
    if (id && readApprovals(config.service.state_dir).denied.includes(id)) cancelJob(job, `${job.offer.id} was denied (otter deny ${id})`);
  };
  // `otter approve/deny` and `otter install` wake the daemon
  const unwatch = opts.once ? () => {} : watchStateFiles(config.service.state_dir, [APPROVALS_FILE, INSTALL_QUEUE_FILE], () => {
    wake.abort();
    cancelIfDenied();
  });
  const run = (resumed: boolean) => {
    cancel = new AbortController();
    if (cancellable(journal.data.job!.state)) cancelIfDenied(); // (a denied offer's REJECTED report is no job to stop)
    const signal = AbortSignal.any([stop, cancel.signal]);
    const flush = (ms: number) => outbox.drain(ms).then(() => {});
    const stopWorkload = supervisor && (() => supervisor.stop(true));
    const job = journal.data.job!;
    const progress = service.downloadProgress(job, opts.progress);
    const onState = () => service.jobState(job, config);
    // From cron (--once) a postponing hook must not hold the run for retry_interval; an
    // operator's `otter install` waits in the foreground as before.
    const pauseOnRetry = opts.once && !opts.source;
    const running = runJob({ config, journal, source, signal, flush, progress, stopWorkload, onState, expect: service.liveness.doing, pauseOnRetry }, stop, resumed);
    return withWatch(running, resumed);
  };
  // While a channel's job may still be stopped, a higher-priority offer preempts it.
  const withWatch = async (running: Promise<RunResult>, resumed: boolean): Promise<RunResult> => {
    const job = journal.data.job!;
    if (opts.source || job.offer.channel === undefined || !cancellable(job.state)) return running;
    const ended = new AbortController();
    const watching = watchForBetter({
      config, journal, source, signal: AbortSignal.any([ended.signal, stop]),
      firstMs: resumed ? 0 : config.service.check_interval * 1000,
      preempt: (why) => cancelJob(journal.data.job!, why.message, why),
    });
    try {
      return await running;
    } finally {
      ended.abort();
      await watching;
    }
  };
  // An AWS job the policy refused ends at once as REJECTED, through the report state and the outbox.
  const reject = async (offer: Offer, outcome: JobRecord["outcome"]) => {
    journal.data.job = newJob(offer, "report", outcome);
    journal.save();
    await run(false);
  };
  let decider = new Decider(config, journal, reject);
  // SIGHUP's new config, between jobs: a new source (channels, broker), policy and workload command.
  if (reload) reload.onStaged = () => wake.abort();
  const reconfigure = async (next: Config) => {
    await source.stop();
    config = next;
    source = withQueuedInstalls(config, await createSource(config));
    await source.start(events);
    outbox.use(source);
    decider = new Decider(config, journal, reject);
    await supervisor?.reconfigure(config);
    log.info("new config applied");
  };
  // Ask the source once. What it could not read or understand goes to sources.json for
  // `otter status` (not for `otter install`, whose one offer says nothing of the channels).
  const ask = async (): Promise<{ offers: Offer[]; problems: SourceProblem[] }> => {
    const note = (problems: SourceProblem[]) => {
      if (!opts.source) noteSourceProblems(config.service.state_dir, problems, Date.now());
    };
    try {
      const offers = await source.check();
      const problems = source.problems?.() ?? [];
      note(problems);
      return { offers, problems };
    } catch (err) {
      const each = source.problems?.() ?? [];
      note(each.length ? each : [{ where: source.name, code: codeOf(err), message: describe(err) }]);
      throw err;
    }
  };
  let code: ExitCode = EXIT.ok;
  // A job found in the journal at start is a resume (a crash, a reboot): the loop guard counts it.
  let resumed = journal.data.job !== undefined;
  // After a fleet-wide power cut every device starts at once: the first check waits a random
  // part of check_jitter too (--once only when asked: cron users often spread their own runs).
  let jitterFirst = opts.once ? opts.jitter === true : true;
  try {
    while (!stop.aborted) {
      // A fresh wake signal before asking: a notification that arrives while the check or the
      // job runs must still cut the sleep below short (it was lost when made after the check).
      wake = new AbortController();
      const next = journal.data.job ? undefined : reload?.take();
      if (next) await reconfigure(next);
      let wait = config.service.check_interval * 1000 + Math.random() * config.service.check_jitter * 1000;
      let idle = "";
      await supervisor?.ensure();
      if (jitterFirst && !journal.data.job) {
        await sleep(Math.random() * config.service.check_jitter * 1000, stop);
        if (stop.aborted) code = EXIT.retryLater;
      }
      jitterFirst = false;
      if (stop.aborted) break;
      if (!journal.data.job) {
        try {
          service.status("checking for updates");
          service.liveness.doing("checking for updates", checkBoundMs(config));
          // What `otter install` queued while this otter held the lock comes first.
          const queued = opts.source ? undefined : takeQueuedInstall(config, (id) => readHistory(config.service.state_dir).some((h) => h.id === id));
          const { offers, problems } = queued ? { offers: [queued], problems: [] } : await ask();
          // `otter install`'s file is an operator's command: no policy between it and the pipeline.
          const now = Date.now();
          const step = opts.source || queued ? { offer: offers[0], code: EXIT.ok, summary: "nothing to do: no offers" } : await decider.step(offers, now);
          code = step.code;
          if (step.offer) {
            journal.data.job = newJob(step.offer);
            journal.save();
            if (queued) dropQueuedInstall(config);
          } else {
            const verdict = withProblems(step, problems);
            code = verdict.code;
            opts.summary?.(verdict.summary);
            // Idle when the policy waits for nothing, a source problem (named in the summary) or not.
            idle = step.code === EXIT.ok ? `idle: ${verdict.summary}` : verdict.summary;
            if (step.until !== undefined) wait = Math.max(MIN_WAIT_MS, Math.min(wait, step.until - now));
          }
        } catch (err) {
          log.warn(`check failed: ${describe(err)}`);
          idle = `idle: check failed: ${describe(err)}`;
          code = exitCodeOf(err);
        }
      }
      if (journal.data.job) {
        const result = await run(resumed);
        resumed = false;
        code = exitFor(result);
        opts.summary?.(describeResult(result));
        idle = describeResult(result);
        if (result.kind === "paused") wait = pauseFor(config, result.error);
        // Look for the next job at once; --once too when this one made way for a better one.
        else if (result.kind === "done" && (!opts.once || result.job.outcome?.code === "SUPERSEDED")) continue;
      }
      if (opts.once) break;
      service.status(`${idle}; next check in ${wait < 60_000 ? `${Math.ceil(wait / 1000)}s` : formatDuration(wait)}`);
      service.liveness.doing("sleeping until the next check", wait);
      await sleep(wait, AbortSignal.any([stop, wake.signal]));
    }
  } finally {
    unwatch();
    await supervisor?.stop(true);
  }
  // A daemon asked to stop (systemd) stops cleanly; --once cut short says "run me again".
  if (stop.aborted && !opts.once) code = EXIT.ok;
  const delivered = await outbox.drain(opts.once ? config.service.report_timeout * 1000 : 5_000);
  if (!delivered) {
    log.warn(`${journal.data.outbox.length} report(s) not delivered yet; they stay in the journal and are sent on the next start`);
    if (code === EXIT.ok) code = EXIT.retryLater;
  }
  await source.stop();
  return code;
}

// A wait computed from a time that has just passed (a clock step) must not spin the loop.
const MIN_WAIT_MS = 1000;

// The longest a check may take before the watchdog calls it stuck: manifests are fetched in
// parallel (headers within connect_timeout, the body within stall_timeout); AWS asks for the
// pending jobs and describes one, each answer within answer_timeout after the broker came up.
function checkBoundMs(config: Config): number {
  const d = config.download;
  return 1000 * Math.max(d.connect_timeout + d.stall_timeout, 4 * config.broker.answer_timeout);
}

// How long a paused job waits: until the update window opens, else retry_interval.
function pauseFor(config: Config, error: OtterError): number {
  if (error instanceof WindowClosed) return Math.max(MIN_WAIT_MS, error.until - Date.now());
  return config.hooks.retry_interval * 1000;
}
