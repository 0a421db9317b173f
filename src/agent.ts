// The agent's loop: take the lock, resume the journal's job if there is one, otherwise
// ask the source for work and let the policy pick, run the job through the pipeline,
// deliver reports, and (as a daemon) sleep until the next check or a notification.
import { mkdirSync } from "node:fs";
import type { Config } from "./config.ts";
import { EXIT, describe, exitCodeOf, type ExitCode } from "./errors.ts";
import { readHistory } from "./history.ts";
import { Journal, type JobRecord } from "./journal.ts";
import { acquireLock } from "./lock.ts";
import { log } from "./log.ts";
import { Outbox } from "./outbox.ts";
import type { ProgressBar } from "./progress.ts";
import { chooseOffer } from "./choose.ts";
import { cancellable, type State } from "./pipeline.ts";
import { runJob, type RunResult } from "./runner.ts";
import { sleep } from "./sleep.ts";
import { createSource } from "./sources/index.ts";
import type { Offer, Source } from "./sources/source.ts";

export interface AgentOptions {
  once: boolean;
  /** a source given by the caller (otter install) instead of the configured one */
  source?: Source;
  /** print a one-line summary of each job to stdout */
  summary?: (line: string) => void;
  /** a download progress bar (on a TTY) */
  progress?: ProgressBar;
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
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync(config.service.download_location, { recursive: true, mode: 0o700 });
  const release = acquireLock(dir, opts.once ? "otter --once" : "otter run");
  const stop = new AbortController();
  const onSignal = (sig: string) => {
    log.info(`${sig}: stopping`);
    stop.abort();
  };
  process.on("SIGTERM", onSignal).on("SIGINT", onSignal);
  try {
    return await loop(config, opts, stop.signal);
  } finally {
    process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
    release();
  }
}

async function loop(config: Config, opts: AgentOptions, stop: AbortSignal): Promise<ExitCode> {
  const journal = Journal.open(config.service.state_dir);
  const source = opts.source ?? (await createSource(config));
  let wake = new AbortController();
  let cancel = new AbortController();
  const outbox = new Outbox(journal, source, stop);
  journal.onEnqueue = () => outbox.kick();
  await source.start({
    wake: () => {
      wake.abort();
      outbox.retryNow(); // reconnected: queued reports need not wait out their backoff
    },
    cancelled: (jobId) => {
      const job = journal.data.job;
      if (job?.offer.id !== jobId) return;
      if (cancellable(job.state)) cancel.abort();
      else log.warn(`job ${jobId} was cancelled upstream during ${job.state}; finishing it and reporting`);
    },
  });
  outbox.start();
  let code: ExitCode = EXIT.ok;
  // A job found in the journal at start is a resume (a crash, a reboot): the loop guard counts it.
  let resumed = journal.data.job !== undefined;
  while (!stop.aborted) {
    // A fresh wake signal before asking: a notification that arrives while the check or the
    // job runs must still cut the sleep below short (it was lost when made after the check).
    wake = new AbortController();
    let wait = config.service.check_interval * 1000 + Math.random() * config.service.check_jitter * 1000;
    if (!journal.data.job) {
      try {
        const offers = await source.check();
        const choice = chooseOffer(journal.data.running, offers, readHistory(config.service.state_dir));
        for (const line of choice.reasons) log.info(line);
        if (choice.offer) {
          journal.data.job = newJob(choice.offer);
          journal.save();
        } else {
          opts.summary?.(`nothing to do: ${choice.reasons.at(-1) ?? "no offers"}`);
        }
      } catch (err) {
        log.warn(`check failed: ${describe(err)}`);
        code = exitCodeOf(err);
      }
    }
    if (journal.data.job) {
      cancel = new AbortController();
      const signal = AbortSignal.any([stop, cancel.signal]);
      const result = await runJob({ config, journal, source, signal, flush: (ms) => outbox.drain(ms).then(() => {}), progress: opts.progress }, stop, resumed);
      resumed = false;
      code = exitFor(result);
      opts.summary?.(describeResult(result));
      if (result.kind === "paused") wait = config.hooks.retry_interval * 1000;
      else if (result.kind === "done" && !opts.once) continue; // look for the next job at once
    }
    if (opts.once) break;
    await sleep(wait, AbortSignal.any([stop, wake.signal]));
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
