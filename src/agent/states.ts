// What each pipeline state does: short glue over hooks, download and verify. A handler
// reports an outcome (an Event); src/agent/pipeline.ts picks the next state.
import { rmSync } from "node:fs";
import { monotonicMs } from "../base/clock.ts";
import { InstallInterrupted, RestartPending, SignatureMissing, VersionMismatch, WindowClosed, describe } from "../base/errors.ts";
import { log } from "../base/log.ts";
import { captureFailure } from "../base/sentry.ts";
import { signaturePolicy, type Config } from "../config/config.ts";
import { credentialOrigins } from "../transfer/credentials.ts";
import { download } from "../transfer/download.ts";
import type { ProgressBar } from "../transfer/progress.ts";
import { fromLocalSource, type Source } from "../sources/source.ts";
import { formatTime, installed, sighted } from "../policy/policy.ts";
import { closedUntil } from "../policy/window.ts";
import { artifactPaths, downloaded, installable, verifyDownload } from "./artifact.ts";
import { appendHistory } from "./history.ts";
import { callHook, type HookCall, type HookName } from "./hookcall.ts";
import type { Journal, JobRecord, Outcome } from "./journal.ts";
import type { Expect } from "./liveness.ts";
import type { Event, State } from "./pipeline.ts";

export interface Ctx {
  config: Config;
  journal: Journal;
  source: Source;
  /** fires when the job is cancelled upstream (only in cancellable states) or otter stops */
  signal: AbortSignal;
  /** deliver queued reports, waiting at most ms (before a restart that may kill otter) */
  flush(ms: number): Promise<void>;
  /** a progress bar on a TTY (--once, otter install) */
  progress?: ProgressBar;
  /** stop the supervised workload before the install hook replaces its image (daemon) */
  stopWorkload?(): Promise<void>;
  /** the job entered its current state (systemd's status line, the watchdog) */
  onState?(): void;
  /** work that shows progress again within a bound, for the watchdog (agent/liveness.ts) */
  expect?: Expect;
  /** a hook's exit 3 pauses the job and otter exits 3, instead of sleeping retry_interval (--once) */
  pauseOnRetry?: boolean;
}

type Handler = (ctx: Ctx, job: JobRecord) => Promise<Event>;


function hook(ctx: Ctx, key: State, name: HookName, extra: string[] = [], more: Pick<HookCall, "onLine" | "env"> = {}) {
  return callHook({ config: ctx.config, journal: ctx.journal, signal: ctx.signal, key, name, extra, expect: ctx.expect, pauseOnRetry: ctx.pauseOnRetry, ...more });
}

/** The phase a rollback hook is told failed, by the state it failed in (only these roll back). */
const FAILED_PHASE: Partial<Record<State, string>> = { install: "install", restart: "restart", confirmVersion: "version", ready: "ready" };

function succeed(job: JobRecord, state: string, message: string): void {
  job.outcome = { status: "SUCCEEDED", state, message };
}

// An Upparat dashboard draws its bar from the first progress report: it goes out after
// FIRST_PROGRESS_MS, then at most one per progress_interval (AWS throttles chatty devices).
const FIRST_PROGRESS_MS = 1000;

function progress(ctx: Ctx, state: string) {
  const interval = ctx.config.service.progress_interval * 1000;
  let next = monotonicMs() + Math.min(FIRST_PROGRESS_MS, interval);
  return (message: string, details?: Record<string, string>) => {
    if (monotonicMs() < next) return;
    next = monotonicMs() + interval;
    ctx.journal.enqueue({ status: "IN_PROGRESS", state, message, details });
    ctx.journal.save();
  };
}

/**
 * The install hook failed when run again after otter was cut off during install. The first
 * run may have completed (a power cut after it, before the journal moved on): when the
 * version hook already names the target version, the install is done and the normal
 * restart, version and ready checks confirm it. Otherwise the failure is the interrupted
 * install's (INSTALL_INTERRUPTED, a local fault): the update may be offered again.
 */
async function rerunFailed(ctx: Ctx, job: JobRecord, err: unknown): Promise<void> {
  const now = await hook(ctx, "confirmVersion", "version").catch((versionErr: unknown) => {
    if (ctx.signal.aborted) throw versionErr;
    return undefined;
  });
  if (now === job.offer.version) {
    log.warn(`install hook failed when run again (${describe(err)}), but version ${now} already runs: the first run completed; going on to restart and checks`, { job: job.offer.id });
    return;
  }
  const runs = now === undefined ? "the version hook cannot tell which version runs" : `version ${now} runs`;
  throw new InstallInterrupted(`${describe(err)} (run again after otter was cut off during install; ${runs})`, { cause: err });
}

export const handlers: { [S in Exclude<State, "done">]: Handler } = {
  async versionCheck(ctx, job) {
    const installed = await hook(ctx, "versionCheck", "version");
    if (installed === undefined) return "ok";
    job.previousVersion = installed;
    ctx.journal.data.running = sighted(ctx.journal.data.running, installed);
    if (installed === job.offer.version && !job.offer.force) {
      succeed(job, "version_already_installed", `version ${installed} is already installed`);
      return "skip";
    }
    return "ok";
  },

  async downloadHook(ctx, job) {
    // Upparat skips the download hook (which may postpone) for a forced job.
    if (!job.offer.force) await hook(ctx, "downloadHook", "download");
    return "ok";
  },

  async download(ctx, job) {
    // Bytes on a metered link cost money: an offer verify would refuse is refused before any.
    const signatures = signaturePolicy(ctx.config.verify);
    if (signatures.required && !job.offer.signature) throw new SignatureMissing(`the update is not signed; ${signatures.why}; nothing was fetched`);
    const { part } = artifactPaths(ctx.config, job);
    if (job.download && job.download.partPath !== part) {
      log.warn(`journal names part file ${JSON.stringify(job.download.partPath)}, not a part file in download_location; downloading afresh`);
      job.download = undefined;
    }
    if (!job.download) {
      job.download = { partPath: part };
      ctx.journal.enqueue({ status: "IN_PROGRESS", state: "download_start", message: `downloading version ${job.offer.version}` });
      ctx.journal.save();
    }
    const dl = job.download;
    const report = progress(ctx, "download_progress");
    const refresh = ctx.source.refresh;
    try {
      dl.result = await download({
        url: job.offer.url,
        allowLocal: fromLocalSource(ctx.config, job.offer),
        partPath: dl.partPath,
        expectedSize: job.offer.size,
        sha256: job.offer.sha256,
        resume: dl.resume,
        signal: ctx.signal,
        refreshUrl: refresh && (async () => {
          job.offer.url = (await refresh.call(ctx.source, job.offer)).url;
          ctx.journal.save();
          return job.offer.url;
        }),
        onProgress: (p) => {
          ctx.progress?.update(p);
          report(JSON.stringify({ downloaded_bytes: p.bytes }), {
            bytes: String(p.bytes), ...(p.total ? { percent: String(Math.floor((100 * p.bytes) / p.total)) } : {}),
          });
        },
        onCheckpoint: (r) => {
          dl.resume = r;
          ctx.journal.save();
        },
        onRetry: (waitMs) => ctx.expect?.("download: waiting to retry", waitMs + (ctx.config.download.connect_timeout + ctx.config.download.stall_timeout) * 1000),
        options: ctx.config.download,
        credentialOrigins: credentialOrigins(ctx.config),
      });
    } finally {
      ctx.progress?.done();
    }
    downloaded(dl.result);
    ctx.journal.save();
    return "ok";
  },

  async verify(ctx, job) {
    const event = await verifyDownload(ctx.config, job);
    ctx.journal.save();
    return event;
  },

  async install(ctx, job) {
    // Outside the update window the job waits here, downloaded and verified (a pause, not a
    // failure). An install a killed otter had begun is finished whatever the time; an
    // operator's `otter install` is not held.
    const opensAt = job.hooks.install || job.offer.source === "manual" ? undefined : closedUntil(ctx.config.policy.window, Date.now());
    if (opensAt !== undefined) {
      throw new WindowClosed(`outside the update window "${ctx.config.policy.window}"; the install waits until ${formatTime(opensAt)}`, opensAt);
    }
    // A TUF target installs only while its channel, refreshed now, still signs it: the
    // metadata the download began with may have expired since (sources/tuf.ts). Not once the
    // hook has run: an install begun is finished.
    if (job.offer.source === "tuf" && !job.hooks.install) await (await import("../sources/tuf.ts")).recheckTufOffer(ctx.config, job.offer);
    // Verified by this process, whatever a killed one left on disk.
    const artifact = await installable(ctx.config, job);
    if (artifact === "lost") return "lost";
    await ctx.stopWorkload?.();
    ctx.journal.enqueue({ status: "IN_PROGRESS", state: "installation_start", message: `installing version ${job.offer.version}` });
    ctx.journal.save();
    const report = progress(ctx, "installation_progress");
    // A run of the hook began and never ended (journaled at its spawn): this one is a rerun.
    // Only that: a download made again before install, or a pause, is no run of the hook.
    const rerun = job.hooks.install?.running === true;
    try {
      await hook(ctx, "install", "install", [artifact], {
        onLine: (stream, line) => {
          if (stream === "stdout" && line.trim()) report(line.trim());
        },
      });
    } catch (err) {
      if (ctx.signal.aborted || !rerun) throw err;
      await rerunFailed(ctx, job, err);
    }
    return "ok";
  },

  async restart(ctx, job) {
    if (!ctx.config.hooks.restart) return "ok";
    ctx.journal.enqueue({ status: "IN_PROGRESS", state: "reboot_start", message: `restarting into version ${job.offer.version}` });
    ctx.journal.save();
    // The restart may take otter down with it: get the report out first.
    await ctx.flush(10_000);
    await hook(ctx, "restart", "restart", [job.offer.force ? "True" : ""]);
    job.restartReturned = true;
    ctx.journal.save();
    return "ok";
  },

  async confirmVersion(ctx, job) {
    if (!ctx.config.hooks.version) return "ok";
    const now = await hook(ctx, "confirmVersion", "version");
    job.confirmedVersion = now;
    if (now === job.offer.version) return "ok";
    if (now === job.previousVersion && ctx.config.hooks.restart) {
      // Killed before the restart hook returned (or even started): the restart never happened.
      if (!job.restartReturned) return "notRestarted";
      // It returned, yet the old version runs: a reboot it scheduled is still pending. Wait
      // for it (retry_interval apart), but no more than max_retries times.
      job.restartWaits = (job.restartWaits ?? 0) + 1;
      ctx.journal.save();
      if (job.restartWaits <= ctx.config.hooks.max_retries) {
        throw new RestartPending(`version is still ${now} after the restart hook; waiting for the restart to take effect`);
      }
      throw new VersionMismatch(`version is still ${now} after the restart hook and ${job.restartWaits - 1} waits; the restart did not take effect`);
    }
    throw new VersionMismatch(`version hook says "${now}", the job installs "${job.offer.version}"`);
  },

  async ready(ctx, job) {
    const { version, ready } = ctx.config.hooks;
    const running = ctx.journal.data.running;
    try {
      if (ready) await hook(ctx, "ready", "ready");
    } catch (err) {
      // Recorded here, where it is known to be the ready check: it opens policy rule 1. A
      // stop (SIGTERM) is not a failed check: the hook runs again on the next start.
      if (!ctx.signal.aborted) {
        running.readyFailed = true;
        ctx.journal.save();
      }
      throw err;
    }
    const state = !version ? "complete_no_version_check" : ready ? "complete_ready" : "complete_no_ready_check";
    succeed(job, state, `version ${job.offer.version} installed${version ? ", version confirmed" : ""}${ready ? ", ready check passed" : ""}`);
    // The new image is good: its install time starts the soak, and its workload (if any) runs.
    // A channel's install while the old image was failing is a rule-1 reflash: count the run
    // of them. An operator's offer (no channel) starts the count afresh.
    const reflash = job.offer.channel !== undefined && (running.workloadDied || running.readyFailed);
    const reflashes = reflash ? (running.reflashes ?? 0) + 1 : 0;
    Object.assign(running, installed(job.offer, Date.now(), running), { readyFailed: false, workloadDied: false, reflashes });
    if (ctx.config.policy.workload) running.workloadRunning = true;
    ctx.journal.save();
    return "ok";
  },

  async rollback(ctx, job) {
    const outcome = job.outcome!;
    if (!ctx.config.hooks.rollback) return "ok";
    const phase = FAILED_PHASE[job.failedIn!] ?? "";
    try {
      await hook(ctx, "rollback", "rollback", [job.artifact ?? "", phase], { env: { OTTER_FAILED_PHASE: phase, OTTER_FAILED_CODE: outcome.code ?? "" } });
      outcome.message = `${outcome.message}; rolled back`;
      return "ok";
    } catch (err) {
      outcome.message = `${outcome.message}; rollback failed: ${(err as Error).message}`;
      return "failed";
    }
  },

  async report(ctx, job) {
    const outcome: Outcome = job.outcome ?? { status: "FAILED", state: "internal_error", message: "job ended without an outcome", code: "INTERNAL" };
    const { config, journal } = ctx;
    appendHistory(config.service.state_dir, {
      id: job.offer.id, version: job.offer.version, channel: job.offer.channel, status: outcome.status, state: outcome.state,
      message: outcome.message, code: outcome.code, startedAt: job.startedAt, endedAt: new Date().toISOString(),
    }, config.service.history_size);
    for (const p of Object.values(artifactPaths(config, job))) rmSync(p, { recursive: true, force: true });
    journal.enqueue({ status: outcome.status, state: outcome.state, message: outcome.message, code: outcome.code, details: { version: job.offer.version } });
    journal.data.job = undefined;
    journal.save();
    // After the save: a report step resumed after a crash does not send the failure twice.
    captureFailure({ jobId: job.offer.id, version: job.offer.version, channel: job.offer.channel, ...outcome });
    log.info(`job ${job.offer.id} ${outcome.status}`, { state: outcome.state, message: outcome.message });
    return "ok";
  },
};
