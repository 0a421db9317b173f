// Every failure otter knows, one class each, with a stable `code` callers match on
// (never the message), a `transient` flag (retry later vs give up) and a `cause`.
// One table maps each code to the process exit code and to the job status it reports.
import { printable } from "./printable.ts";

export type ExitCode = 0 | 1 | 2 | 3 | 4 | 5;

/** Exit codes, documented in docs/exit-codes.md. */
export const EXIT = {
  ok: 0, // update done, or nothing to do
  failed: 1, // an update failed (reported as such)
  usage: 2, // bad command line, bad config, lock held by another otter
  retryLater: 3, // postponed: hook asked to retry, waiting for approval/window, source unreachable
  restarting: 4, // restart hook ran; run otter again after the reboot to verify and report
  sourceInvalid: 5, // a source could not be understood (an invalid or refused manifest): needs a person, not a retry
} as const satisfies Record<string, ExitCode>;

/** What each exit code means, in a line (`otter --help`, the man page); a new code does not compile without one. */
export const EXIT_DOC: Record<ExitCode, string> = {
  0: "ok, or nothing to do",
  1: "an update failed (and was reported as failed)",
  2: "usage or config error, or another otter holds the lock",
  3: "retry later: postponed, unreachable, waiting for a window, soak or approval",
  4: "a restart is pending: run otter again after the reboot",
  5: "a source could not be understood (a missing or invalid manifest): a person must fix it",
};

interface Kind {
  transient: boolean;
  exit: ExitCode;
  /** Upparat-style statusDetails.state for a job that fails with this error. */
  state?: string;
  /**
   * A fault of this device or of the moment (a cancel, an interrupted install, an internal
   * error), not of the update: a job that ended with it does not make the version "tried
   * here before", so the policy may offer it again; but only until MAX_LOCAL_FAULTS jobs of
   * the offer ended so (a bug that always throws must not fetch the update at every check).
   */
  local?: true;
  /** a local ending something chose (a cancel, a better offer): never counted against MAX_LOCAL_FAULTS */
  decision?: true;
  /** what it means, for docs/exit-codes.md's table of codes (generated from this table) */
  doc: string;
}

const KINDS = {
  USAGE: { transient: false, exit: EXIT.usage, doc: "bad command line" },
  CONFIG_INVALID: { transient: false, exit: EXIT.usage, doc: "bad config value, or a config otter cannot work with" },
  LOCK_HELD: { transient: false, exit: EXIT.usage, doc: "another otter holds state_dir's lock" },
  UNSAFE_PATH: { transient: false, exit: EXIT.usage, doc: "state_dir or download_location is not otter's own (another user's, writable by others, or under such a folder)" },
  JOURNAL_CORRUPT: { transient: false, exit: EXIT.failed, doc: "the journal cannot be used" },
  JOB_INVALID: { transient: false, exit: EXIT.failed, state: "job_invalid", doc: "an AWS job document otter cannot run (a field is missing or wrong)" },
  MANIFEST_INVALID: { transient: false, exit: EXIT.sourceInvalid, state: "manifest_invalid", doc: "a channel's manifest is missing (HTTP 404) or not valid, or names a URL that is refused (http:// without allow_http)" },
  BOARD_MISMATCH: { transient: false, exit: EXIT.failed, state: "board_mismatch", doc: "the offer names boards and this device's board is not one of them" },
  DENIED: { transient: false, exit: EXIT.failed, state: "denied", doc: "refused with `otter deny`" },
  DOWNGRADE_REFUSED: { transient: false, exit: EXIT.failed, state: "downgrade_refused", doc: "anti-rollback: the offer is older than the running version (or than the newest this device accepted from its channel) and no operator forced it" },
  TUF_EXPIRED: { transient: true, exit: EXIT.retryLater, doc: "a TUF channel's signed metadata has expired (a freeze, or the repository stopped signing): nothing from it installs until fresh metadata comes" },
  TUF_REFUSED: { transient: false, exit: EXIT.failed, state: "verification_failed", doc: "a TUF channel's metadata was refused (bad or too few signatures, a rollback, mix-and-match, a revoked key), or its target is not one otter can use; before install: the channel no longer signs the downloaded target as offered" },
  HOOK_FAILED: { transient: false, exit: EXIT.failed, doc: "a hook exited non-zero (not 3), was killed, or could not be started" },
  HOOK_TIMEOUT: { transient: false, exit: EXIT.failed, doc: "a hook ran past its timeout; its process group was killed" },
  HOOK_RETRIES_EXHAUSTED: { transient: false, exit: EXIT.failed, doc: "a hook kept exiting 3 (retry later) for max_retries runs" },
  HOOK_POSTPONED: { transient: true, exit: EXIT.retryLater, doc: "a hook exited 3: the job waits and calls it again (not a failure)" },
  INSTALL_INTERRUPTED: {
    transient: false, exit: EXIT.failed, state: "installation_hook_failed", local: true,
    doc: "the install hook failed when run again after otter was cut off during install, and the old version still runs",
  },
  SUPERSEDED: {
    transient: false, exit: EXIT.failed, state: "superseded", local: true, decision: true,
    doc: "a higher-priority offer came before install: this job was stopped (REJECTED), nothing was installed",
  },
  VERSION_MISMATCH: { transient: false, exit: EXIT.failed, state: "version_mismatch", doc: "after install and restart the version hook names another version" },
  LOOP_DETECTED: { transient: false, exit: EXIT.failed, state: "loop_detected", doc: "a state was started max_starts times without finishing (a reboot loop)" },
  CANCELLED: { transient: false, exit: EXIT.failed, state: "cancelled", local: true, decision: true, doc: "cancelled upstream or denied before install; nothing was installed" },
  DOWNLOAD_NETWORK: { transient: true, exit: EXIT.retryLater, state: "download_failed", doc: "network error while downloading (retried)" },
  DOWNLOAD_STALLED: { transient: true, exit: EXIT.retryLater, state: "download_failed", doc: "no byte (or too few) for stall_timeout (retried)" },
  DOWNLOAD_HTTP: { transient: false, exit: EXIT.failed, state: "download_failed", doc: "the server answered with an error that retrying does not fix (404, 403 in manifest mode), or a refused URL" },
  DOWNLOAD_HTTP_TRANSIENT: { transient: true, exit: EXIT.retryLater, state: "download_failed", doc: "5xx, 429 or 408 (retried)" },
  DOWNLOAD_URL_EXPIRED: { transient: true, exit: EXIT.retryLater, state: "download_failed", doc: "a presigned URL expired (AWS: refreshed)" },
  DOWNLOAD_TOO_LARGE: { transient: false, exit: EXIT.failed, state: "download_too_large", doc: "the file is larger than max_file_size or than the offer's size" },
  DOWNLOAD_BUDGET: { transient: false, exit: EXIT.failed, state: "download_budget_exceeded", doc: "bytes fetched for the job passed budget_factor times its size" },
  DOWNLOAD_NO_SPACE: { transient: true, exit: EXIT.retryLater, state: "download_failed", doc: "the download folder is full (retried later)" },
  STORAGE_UNAVAILABLE: { transient: true, exit: EXIT.retryLater, local: true, doc: "otter's own storage (state_dir, download_location) is full or read-only: the job waits and retries, no download attempt spent" },
  DOWNLOAD_RETRIES_EXHAUSTED: { transient: false, exit: EXIT.failed, state: "download_failed", doc: "max_attempts connection attempts without progress" },
  DIGEST_MISMATCH: { transient: false, exit: EXIT.failed, state: "verification_failed", doc: "the file's sha256 (or size) is not the offer's" },
  DIGEST_MISSING: { transient: false, exit: EXIT.failed, state: "verification_failed", doc: "require_sha256 and the offer names no sha256" },
  SIGNATURE_INVALID: { transient: false, exit: EXIT.failed, state: "verification_failed", doc: "the detached signature does not verify" },
  SIGNATURE_MISSING: { transient: false, exit: EXIT.failed, state: "verification_failed", doc: "a signature is required (require_signature, or a [verify] public_key or ca set) and the offer has none" },
  CERT_INVALID: { transient: false, exit: EXIT.failed, state: "verification_failed", doc: "the signer's certificate does not chain to [verify] ca" },
  ARCHIVE_UNSAFE: { transient: false, exit: EXIT.failed, state: "archive_rejected", doc: "an archive is not what it claims, unpacks to nothing, or breaks a size, ratio, entry or path rule" },
  ARTIFACT_LOST: { transient: false, exit: EXIT.failed, state: "download_failed", local: true, doc: "the downloaded file vanished or changed on disk before install again and again (it is downloaded again up to 3 times)" },
  RESTART_PENDING: { transient: true, exit: EXIT.restarting, doc: "the restart hook returned and the old version still runs: waiting for the reboot" },
  WINDOW_CLOSED: { transient: true, exit: EXIT.retryLater, doc: "outside the update window: the install waits" },
  SOURCE_UNAVAILABLE: { transient: true, exit: EXIT.retryLater, doc: "a source (manifest, broker, report_url) could not be reached" },
  SOURCE_REJECTED: { transient: false, exit: EXIT.failed, doc: "the source refused a request (e.g. report_url answered 4xx)" },
  REPORT_UNACKNOWLEDGED: { transient: true, exit: EXIT.retryLater, doc: "a report was not acknowledged in time (sent again)" },
  INTERNAL: { transient: false, exit: EXIT.failed, local: true, doc: "an error otter has no class for (a bug, or a local file error); the message says more" },
} as const satisfies Record<string, Kind>;

export type ErrorCode = keyof typeof KINDS;

export interface ErrorOptions {
  cause?: unknown;
  /** seconds the server asked to wait before the next try (Retry-After) */
  retryAfter?: number;
}

export class OtterError extends Error {
  readonly code: ErrorCode;
  readonly transient: boolean;
  readonly retryAfter?: number;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.transient = KINDS[code].transient;
    this.name = new.target.name;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

// A class per failure, so `instanceof` and `code` both work and each is one line.
function kind<C extends ErrorCode>(code: C) {
  return class extends OtterError {
    declare readonly code: C;
    constructor(message: string, options?: ErrorOptions) {
      super(code, message, options);
    }
  };
}

export class UsageError extends kind("USAGE") {}
export class ConfigError extends kind("CONFIG_INVALID") {}
export class LockHeld extends kind("LOCK_HELD") {}
/** A folder or file otter must own is someone else's, or a link. */
export class UnsafePath extends kind("UNSAFE_PATH") {}
export class JournalCorrupt extends kind("JOURNAL_CORRUPT") {}
export class JobInvalid extends kind("JOB_INVALID") {}
export class ManifestInvalid extends kind("MANIFEST_INVALID") {}
export class BoardMismatch extends kind("BOARD_MISMATCH") {}
/** A TUF channel's metadata has expired: a freeze; nothing from the channel installs. */
export class TufExpired extends kind("TUF_EXPIRED") {}
/** A TUF channel's metadata was refused by the TUF client workflow, or names no usable target. */
export class TufRefused extends kind("TUF_REFUSED") {}
export class HookFailed extends kind("HOOK_FAILED") {}
export class HookTimeout extends kind("HOOK_TIMEOUT") {}
export class HookRetriesExhausted extends kind("HOOK_RETRIES_EXHAUSTED") {}
export class HookPostponed extends kind("HOOK_POSTPONED") {}
export class InstallInterrupted extends kind("INSTALL_INTERRUPTED") {}
export class VersionMismatch extends kind("VERSION_MISMATCH") {}
export class LoopDetected extends kind("LOOP_DETECTED") {}
export class Cancelled extends kind("CANCELLED") {}
export class Superseded extends kind("SUPERSEDED") {}
export class DownloadNetwork extends kind("DOWNLOAD_NETWORK") {}
export class DownloadStalled extends kind("DOWNLOAD_STALLED") {}
export class DownloadHttp extends kind("DOWNLOAD_HTTP") {}
export class DownloadHttpTransient extends kind("DOWNLOAD_HTTP_TRANSIENT") {}
export class DownloadUrlExpired extends kind("DOWNLOAD_URL_EXPIRED") {}
export class DownloadTooLarge extends kind("DOWNLOAD_TOO_LARGE") {}
export class DownloadBudget extends kind("DOWNLOAD_BUDGET") {}
export class DownloadNoSpace extends kind("DOWNLOAD_NO_SPACE") {}
/** otter's own storage (state_dir, download_location) is full or read-only: a pause, never a network failure. */
export class StorageUnavailable extends kind("STORAGE_UNAVAILABLE") {}
export class DownloadRetriesExhausted extends kind("DOWNLOAD_RETRIES_EXHAUSTED") {}
export class DigestMismatch extends kind("DIGEST_MISMATCH") {}
export class DigestMissing extends kind("DIGEST_MISSING") {}
export class SignatureInvalid extends kind("SIGNATURE_INVALID") {}
export class SignatureMissing extends kind("SIGNATURE_MISSING") {}
export class CertInvalid extends kind("CERT_INVALID") {}
export class ArchiveUnsafe extends kind("ARCHIVE_UNSAFE") {}
/** The downloaded file vanished or changed on disk again and again: the storage is at fault. */
export class ArtifactLost extends kind("ARTIFACT_LOST") {}
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

/** Jobs of one offer that may end in a local fault (not a decision) before the offer counts as tried here. */
export const MAX_LOCAL_FAULTS = 3;

/** Every code with what it means, for docs/exit-codes.md's table. */
export function errorCodes(): { code: ErrorCode; state?: string; transient: boolean; local: boolean; decision: boolean; exit: ExitCode; doc: string }[] {
  return Object.entries(KINDS).map(([code, k]: [string, Kind]) => ({
    code: code as ErrorCode, state: k.state, transient: k.transient, local: k.local === true, decision: k.decision === true, exit: k.exit, doc: k.doc,
  }));
}

/** The stable code of any thrown value: an OtterError's own, INTERNAL for anything else. */
export function codeOf(err: unknown): ErrorCode {
  return err instanceof OtterError ? err.code : "INTERNAL";
}

/** Whether a job that ended with this code failed only because of a local fault (see Kind.local). */
export function isLocalFault(code: string | undefined): boolean {
  return code !== undefined && code in KINDS && (KINDS[code as ErrorCode] as Kind).local === true;
}

/** Whether such an ending counts against MAX_LOCAL_FAULTS: a local fault nobody chose. */
export function countsAsLocalFault(code: string | undefined): boolean {
  return isLocalFault(code) && (KINDS[code as ErrorCode] as Kind).decision !== true;
}

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

const STORAGE_CODES: Record<string, string> = { ENOSPC: "no space left", EDQUOT: "disk quota exceeded", EROFS: "read-only file system" };

/** A local storage failure (ENOSPC, EDQUOT, EROFS) as StorageUnavailable naming the path; undefined for any other error. */
export function storageError(err: unknown, path: string): StorageUnavailable | undefined {
  if (err instanceof StorageUnavailable) return err;
  const code = (err as { code?: unknown }).code;
  const why = typeof code === "string" ? STORAGE_CODES[code] : undefined;
  if (!why) return undefined;
  return new StorageUnavailable(`cannot write ${path}: ${why} (${code})`, { cause: err });
}

/** Whether retrying later may succeed, by code. */
export function isTransientCode(code: ErrorCode): boolean {
  return KINDS[code].transient;
}

/** A one-line description of any thrown value, fit to print and report (URL credentials masked). */
export function describe(err: unknown): string {
  return printable(err instanceof Error ? (err.message.split("\n")[0] ?? String(err)) : String(err));
}
