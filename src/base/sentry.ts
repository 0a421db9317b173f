// Errors to Sentry when [service] sentry (sentry_dsn) is set. @sentry/node is imported only
// then, so a device without a DSN never loads it. What is sent:
//   - events: an uncaught error or unhandled rejection; the error that ends `run`/`install`
//     with exit 1 (a bug or a broken journal; usage, config and lock errors are not sent,
//     nor are transient ones); a job that ends FAILED or REJECTED (captureFailure).
//   - breadcrumbs, not events: every log line at INFO and up (log.error included), so an
//     event carries what led to it; a daemon logging an error on each retry sends nothing.
// Sentry failing (a bad DSN, a runtime it cannot load in) costs one warning line, never a run.
import { describe } from "./errors.ts";
import { LEVELS, log, onLog, type Fields, type Level } from "./log.ts";
import { printable } from "./printable.ts";

type SentryModule = typeof import("@sentry/node");

let sentry: SentryModule | undefined;

export interface SentryOptions {
  dsn: string;
  /** otter's version */
  release: string;
  /** the thing name, so events say which device */
  serverName: string;
}

/** A finished job, as the report step knows it. */
export interface JobFailure {
  jobId: string;
  version: string;
  channel?: string;
  status: string;
  /** statusDetails.state, e.g. download_failed */
  state: string;
  message: string;
  /** the OtterError code, when the failure came from one */
  code?: string;
}

const BREADCRUMB_LEVEL: Record<Level, "debug" | "info" | "warning" | "error"> = {
  DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error",
};

/** Start sending errors to Sentry. Never throws: a failure is one warning line. */
export async function startSentry(opts: SentryOptions): Promise<boolean> {
  if (sentry) return true;
  if (!/^https?:\/\/[^@/]+@[^/]+\/.+$/.test(opts.dsn)) {
    log.warn("sentry: DSN is not of the form https://KEY@HOST/PROJECT; errors are not sent");
    return false;
  }
  try {
    const mod = await import("@sentry/node");
    mod.initWithoutDefaultIntegrations({
      dsn: opts.dsn,
      release: opts.release,
      serverName: opts.serverName,
      skipOpenTelemetrySetup: true,
      // What leaves the device is printable() like every log line: no URL credentials.
      beforeSend(event) {
        if (event.message) event.message = printable(event.message);
        for (const e of event.exception?.values ?? []) if (e.value) e.value = printable(e.value);
        return event;
      },
      integrations: [mod.inboundFiltersIntegration(), mod.functionToStringIntegration(), mod.linkedErrorsIntegration(), mod.dedupeIntegration(), mod.nodeContextIntegration()],
    });
    sentry = mod;
  } catch (err) {
    log.warn(`sentry: cannot start (${describe(err)}); errors are not sent`);
    return false;
  }
  onLog(breadcrumb);
  process.on("uncaughtException", fatal).on("unhandledRejection", fatal);
  return true;
}

function breadcrumb(level: Level, msg: string, fields: Fields): void {
  if (LEVELS.indexOf(level) < LEVELS.indexOf("INFO")) return;
  sentry?.addBreadcrumb({ category: "log", level: BREADCRUMB_LEVEL[level], message: msg, data: fields });
}

// What Node does by default (print, exit 1), after sending the error.
function fatal(err: unknown): void {
  log.error(`uncaught error: ${describe(err)}`, { stack: err instanceof Error ? err.stack : undefined });
  captureError(err, "fatal");
  void stopSentry().finally(() => process.exit(1));
}

/** Send an error that ends otter (or would have, uncaught). */
export function captureError(err: unknown, level: "error" | "fatal" = "error"): void {
  if (!sentry) return;
  const code = (err as { code?: unknown }).code;
  sentry.captureException(err, { level, tags: typeof code === "string" ? { code } : undefined });
}

/** Send a job that ended FAILED or REJECTED as a message; other outcomes (and cancellations) are not sent. */
export function captureFailure(job: JobFailure): void {
  if (!sentry || (job.status !== "FAILED" && job.status !== "REJECTED") || job.state === "cancelled" || job.state === "superseded") return;
  sentry.captureMessage(`job ${job.status}: ${job.state}: ${job.message}`, {
    level: "error",
    tags: defined({ job_id: job.jobId, job_state: job.state, job_status: job.status, code: job.code, version: job.version, channel: job.channel }),
    fingerprint: ["job-failure", job.state, job.code ?? ""],
  });
}

const defined = (tags: Record<string, string | undefined>) => Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== undefined));

/** Deliver what is queued (at most `timeoutMs`), before otter exits. */
export async function stopSentry(timeoutMs = 2000): Promise<void> {
  if (!sentry) return;
  const mod = sentry;
  sentry = undefined;
  await mod.close(timeoutMs).catch(() => false);
}
