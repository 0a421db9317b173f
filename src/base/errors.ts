// Every failure otter knows, one class each, with a stable `code` callers match on
// (never the message), a `transient` flag (retry later vs give up) and a `cause`.
// One table maps each code to the process exit code and to the job status it reports.

export type ExitCode = 0 | 1 | 2 | 3 | 4;

/** Exit codes, documented in README. */
export const EXIT = {
  ok: 0, // update done, or nothing to do
  failed: 1, // an update failed (reported as such)
  usage: 2, // bad command line, bad config, lock held by another otter
  retryLater: 3, // postponed: hook asked to retry, waiting for approval/window, source unreachable
  restarting: 4, // restart hook ran; run otter again after the reboot to verify and report
} as const satisfies Record<string, ExitCode>;

interface Kind {
  transient: boolean;
  exit: ExitCode;
  /** Upparat-style statusDetails.state for a job that fails with this error. */
  state?: string;
}

const KINDS = {
  USAGE: { transient: false, exit: EXIT.usage },
  CONFIG_INVALID: { transient: false, exit: EXIT.usage },
  LOCK_HELD: { transient: false, exit: EXIT.usage },
  JOURNAL_CORRUPT: { transient: false, exit: EXIT.failed },
  JOB_INVALID: { transient: false, exit: EXIT.failed, state: "job_invalid" },
  MANIFEST_INVALID: { transient: false, exit: EXIT.failed, state: "manifest_invalid" },
  BOARD_MISMATCH: { transient: false, exit: EXIT.failed, state: "board_mismatch" },
  HOOK_FAILED: { transient: false, exit: EXIT.failed },
  HOOK_TIMEOUT: { transient: false, exit: EXIT.failed },
  HOOK_RETRIES_EXHAUSTED: { transient: false, exit: EXIT.failed },
  HOOK_POSTPONED: { transient: true, exit: EXIT.retryLater },
  VERSION_MISMATCH: { transient: false, exit: EXIT.failed, state: "version_mismatch" },
  LOOP_DETECTED: { transient: false, exit: EXIT.failed, state: "loop_detected" },
  CANCELLED: { transient: false, exit: EXIT.failed, state: "cancelled" },
  DOWNLOAD_NETWORK: { transient: true, exit: EXIT.retryLater, state: "download_failed" },
  DOWNLOAD_STALLED: { transient: true, exit: EXIT.retryLater, state: "download_failed" },
  DOWNLOAD_HTTP: { transient: false, exit: EXIT.failed, state: "download_failed" },
  DOWNLOAD_HTTP_TRANSIENT: { transient: true, exit: EXIT.retryLater, state: "download_failed" },
  DOWNLOAD_URL_EXPIRED: { transient: true, exit: EXIT.retryLater, state: "download_failed" },
  DOWNLOAD_TOO_LARGE: { transient: false, exit: EXIT.failed, state: "download_failed" },
  DOWNLOAD_BUDGET: { transient: false, exit: EXIT.failed, state: "download_failed" },
  DOWNLOAD_NO_SPACE: { transient: true, exit: EXIT.retryLater, state: "download_failed" },
  DOWNLOAD_RETRIES_EXHAUSTED: { transient: false, exit: EXIT.failed, state: "download_failed" },
  DIGEST_MISMATCH: { transient: false, exit: EXIT.failed, state: "verification_failed" },
  SIGNATURE_INVALID: { transient: false, exit: EXIT.failed, state: "verification_failed" },
  SIGNATURE_MISSING: { transient: false, exit: EXIT.failed, state: "verification_failed" },
  CERT_INVALID: { transient: false, exit: EXIT.failed, state: "verification_failed" },
  ARCHIVE_UNSAFE: { transient: false, exit: EXIT.failed, state: "archive_rejected" },
  RESTART_PENDING: { transient: true, exit: EXIT.restarting },
  WINDOW_CLOSED: { transient: true, exit: EXIT.retryLater },
  SOURCE_UNAVAILABLE: { transient: true, exit: EXIT.retryLater },
  SOURCE_REJECTED: { transient: false, exit: EXIT.failed },
  REPORT_UNACKNOWLEDGED: { transient: true, exit: EXIT.retryLater },
} as const satisfies Record<string, Kind>;

export type ErrorCode = keyof typeof KINDS;

export class OtterError extends Error {
  readonly code: ErrorCode;
  readonly transient: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.transient = KINDS[code].transient;
    this.name = new.target.name;
  }
}

// A class per failure, so `instanceof` and `code` both work and each is one line.
function kind<C extends ErrorCode>(code: C) {
  return class extends OtterError {
    declare readonly code: C;
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
    }
  };
}

export class UsageError extends kind("USAGE") {}
export class ConfigError extends kind("CONFIG_INVALID") {}
export class LockHeld extends kind("LOCK_HELD") {}
export class JournalCorrupt extends kind("JOURNAL_CORRUPT") {}
export class JobInvalid extends kind("JOB_INVALID") {}
export class ManifestInvalid extends kind("MANIFEST_INVALID") {}
export class BoardMismatch extends kind("BOARD_MISMATCH") {}
export class HookFailed extends kind("HOOK_FAILED") {}
export class HookTimeout extends kind("HOOK_TIMEOUT") {}
export class HookRetriesExhausted extends kind("HOOK_RETRIES_EXHAUSTED") {}
export class HookPostponed extends kind("HOOK_POSTPONED") {}
export class VersionMismatch extends kind("VERSION_MISMATCH") {}
export class LoopDetected extends kind("LOOP_DETECTED") {}
export class Cancelled extends kind("CANCELLED") {}
export class DownloadNetwork extends kind("DOWNLOAD_NETWORK") {}
export class DownloadStalled extends kind("DOWNLOAD_STALLED") {}
export class DownloadHttp extends kind("DOWNLOAD_HTTP") {}
export class DownloadHttpTransient extends kind("DOWNLOAD_HTTP_TRANSIENT") {}
export class DownloadUrlExpired extends kind("DOWNLOAD_URL_EXPIRED") {}
export class DownloadTooLarge extends kind("DOWNLOAD_TOO_LARGE") {}
export class DownloadBudget extends kind("DOWNLOAD_BUDGET") {}
export class DownloadNoSpace extends kind("DOWNLOAD_NO_SPACE") {}
export class DownloadRetriesExhausted extends kind("DOWNLOAD_RETRIES_EXHAUSTED") {}
export class DigestMismatch extends kind("DIGEST_MISMATCH") {}
export class SignatureInvalid extends kind("SIGNATURE_INVALID") {}
export class SignatureMissing extends kind("SIGNATURE_MISSING") {}
export class CertInvalid extends kind("CERT_INVALID") {}
export class ArchiveUnsafe extends kind("ARCHIVE_UNSAFE") {}
export class RestartPending extends kind("RESTART_PENDING") {}
/** The install waits for the update window; `until` is when it opens (ms epoch). */
export class WindowClosed extends kind("WINDOW_CLOSED") {
  constructor(message: string, readonly until: number) {
    super(message);
  }
}
export class SourceUnavailable extends kind("SOURCE_UNAVAILABLE") {}
export class SourceRejected extends kind("SOURCE_REJECTED") {}
export class ReportUnacknowledged extends kind("REPORT_UNACKNOWLEDGED") {}

/** The process exit code for an error (unknown errors are failures). */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof OtterError ? KINDS[err.code].exit : EXIT.failed;
}

/** The statusDetails.state a job reports when it fails with this error, if the error has one. */
export function failureStateOf(err: unknown): string | undefined {
  return err instanceof OtterError ? (KINDS[err.code] as Kind).state : undefined;
}

/** Whether retrying later may succeed. */
export function isTransient(err: unknown): boolean {
  return err instanceof OtterError && err.transient;
}

/** A one-line description of any thrown value. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split("\n")[0] ?? String(err);
  return String(err);
}
