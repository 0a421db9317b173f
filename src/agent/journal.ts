// The journal: otter's only memory across crashes and reboots. One small JSON file in
// state_dir, replaced atomically on every change, with a schema version. It holds the
// current job and its phase, the bounded counters, the partial download, the outbox of
// reports not yet acknowledged, the running image, and approvals.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import type { Span } from "../base/clock.ts";
import { errorCodes, type ErrorCode } from "../base/errors.ts";
import type { ProcessId } from "../base/proc.ts";
import { printable, shown } from "../base/printable.ts";
import { array, boolean, count, longText, object, oneOf, optional, record, shortText, ShapeError, time, type Check } from "../base/shape.ts";
import { loadOwned, loadShared } from "../base/statefile.ts";
import type { SignatureSpec } from "../transfer/verify.ts";
import type { DownloadResult, ResumePoint } from "../transfer/request.ts";
import { ARCHIVES, JOB_STATUSES, type JobStatus, type Offer, type Report } from "../sources/source.ts";
import type { RunningImage } from "../policy/policy.ts";
import { STATES, type State } from "./pipeline.ts";

export const SCHEMA_VERSION = 1;

/** Retry bookkeeping of one hook for one job, kept so a crash never resets it. */
export interface HookCount {
  /** ms epoch of the first call */
  firstCall: number;
  /** runs so far that exited 3 */
  retries: number;
  /** time since the first call on the monotonic clock (Upparat's $1); absent in older journals */
  span?: Span;
  /** a run was spawned and had not ended: found at a start, that run was cut off (otter killed, a power cut) */
  running?: boolean;
}

/** How a job ended (or will end, once reported). */
export interface Outcome {
  status: Exclude<JobStatus, "IN_PROGRESS">;
  state: string;
  message: string;
  /** a failure's or rejection's stable code (errors.ts ErrorCode), in reports, history and Sentry */
  code?: ErrorCode;
}

export interface JobRecord {
  offer: Offer;
  state: State;
  startedAt: string;
  /** times otter started (or resumed) in each state: the reboot-loop guard */
  starts: Partial<Record<State, number>>;
  hooks: Record<string, HookCount>;
  /** the partial download and what is known to be on disk */
  download?: { partPath: string; resume?: ResumePoint; result?: DownloadResult };
  /** the verified file (or unpacked folder) the install hook got; informational (the rollback hook's argument) */
  artifact?: string;
  /** downloads started again because the file was lost or changed on disk (bounded) */
  refetches?: number;
  /** installed version before this job, to tell "reboot still pending" from a mismatch */
  previousVersion?: string;
  outcome?: Outcome;
  /** the state the job failed in (the rollback hook is told) */
  failedIn?: State;
  /** the version hook's answer after install (confirmVersion) */
  confirmedVersion?: string;
  /** the state the job paused in (retry later): the next start there is not a crash */
  pausedIn?: State;
  /** the restart hook returned 0 (otter outlived it: a service restart or a scheduled reboot) */
  restartReturned?: boolean;
  /** confirmations that found the old version after a restart hook that returned */
  restartWaits?: number;
  /** reports made for this job so far */
  seq: number;
  /** the hook running now: a SIGKILLed otter leaves it behind, the next start ends it */
  hookProcess?: ProcessId;
}

export interface JournalData {
  schema: typeof SCHEMA_VERSION;
  job?: JobRecord;
  outbox: Report[];
  running: RunningImage;
}

/** A finished job, for `otter status`. */
export interface HistoryEntry {
  id: string;
  version: string;
  channel?: string;
  status: string;
  state: string;
  message: string;
  /** the failure's code (errors.ts), absent on success and in entries older than codes */
  code?: string;
  /** jobs of this offer that ended in a local fault counted against MAX_LOCAL_FAULTS, this one included; absent for none */
  localFaults?: number;
  startedAt: string;
  endedAt: string;
}

const empty = (): JournalData => ({ schema: SCHEMA_VERSION, outbox: [], running: {} });

export class Journal {
  readonly path: string;
  data: JournalData;
  /** called after a report is queued (the outbox delivers it) */
  onEnqueue: () => void = () => {};

  private constructor(readonly dir: string, data: JournalData) {
    this.path = join(dir, "journal.json");
    this.data = data;
  }

  /** Open the journal in `dir` (its owner, under otter.lock): missing → fresh start; not JSON, of
   *  another schema or of the wrong shape → moved aside with one log string, fresh start. */
  static open(dir: string): Journal {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new Journal(dir, loadOwned("journal", join(dir, "journal.json"), journalData, empty()));
  }

  /** Read the journal without changing anything (otter plan, otter status): a missing or
   *  unusable one reads as empty (an unusable one with a warning). */
  static peek(dir: string): JournalData {
    return loadShared("journal", join(dir, "journal.json"), journalData, empty());
  }

  /** Write the journal durably; call before acting on what it now says. */
  save(): void {
    writeFileAtomic(this.path, JSON.stringify(this.data, null, 1));
  }

  /** Queue a report for the job; it stays in the outbox until acknowledged. */
  enqueue(report: Omit<Report, "seq" | "at" | "jobId">): Report {
    const job = this.data.job;
    if (!job) throw new Error("journal: report without a job");
    // Reports leave the device: no URL credentials, nothing a dashboard would render wrong.
    const full: Report = { ...report, message: printable(report.message), jobId: job.offer.id, seq: ++job.seq, at: new Date().toISOString() };
    // A newer progress report replaces an undelivered older one: no backlog on a slow link.
    const last = this.data.outbox.at(-1);
    if (last && last.jobId === full.jobId && last.status === "IN_PROGRESS" && last.state === full.state && full.state.endsWith("_progress")) {
      this.data.outbox.pop();
    }
    this.data.outbox.push(full);
    this.onEnqueue();
    return full;
  }
}

// The journal's shape, field by field: what a start would otherwise trip over later (a string
// job, an unknown state, `running: null`, a job without a url, a time no Date can hold, a
// megabyte-long version printed by status). The bounds are above anything otter writes
// itself. The part file's path is only checked to be text here; whether it lies inside
// download_location is for the code that opens it (states.ts, with the config at hand).
const processId: Check<ProcessId> = object({ pid: count, startTicks: shortText, bootId: shortText });
const signature: Check<SignatureSpec> = object({ value: longText, algorithm: optional(shortText), certificate: optional(longText) });
const offer: Check<Offer> = object({
  id: shortText, source: shortText, channel: optional(shortText), version: shortText, url: longText,
  size: optional(count), sha256: optional(shortText), signature: optional(signature), boards: optional(array(shortText)),
  meta: longText, force: boolean, archive: optional(oneOf(ARCHIVES)), inProgressState: optional(longText),
});
const report: Check<Report> = object({
  jobId: shortText, seq: count, status: oneOf(JOB_STATUSES), state: shortText, message: longText, code: optional(shortText), details: optional(record(longText)), at: shortText,
});
const resumePoint: Check<ResumePoint> = object({
  bytes: count, etag: optional(longText), lastModified: optional(longText), fetched: count, attempts: count, boot: optional(shortText),
});
const downloadResult: Check<DownloadResult> = object({ path: shortText, size: count, sha256: shortText, fetched: count });
const outcome: Check<Outcome> = object({ status: oneOf<Outcome["status"]>(["SUCCEEDED", "FAILED", "REJECTED"]), state: shortText, message: longText, code: optional(oneOf(errorCodes().map((c) => c.code))) });
const state = oneOf(STATES);
const jobFields: Check<JobRecord> = object({
  offer, state, startedAt: shortText, starts: record(count, state), hooks: record(object({ firstCall: time, retries: count, span: optional(object<Span>({ boot: shortText, origin: time, elapsed: count })), running: optional(boolean) })),
  download: optional(object({ partPath: shortText, resume: optional(resumePoint), result: optional(downloadResult) })),
  artifact: optional(shortText), refetches: optional(count), previousVersion: optional(shortText), outcome: optional(outcome), failedIn: optional(state), confirmedVersion: optional(shortText),
  pausedIn: optional(state), restartReturned: optional(boolean), restartWaits: optional(count), seq: count, hookProcess: optional(processId),
});
// The install hook is handed the verified artifact: a job in install without one is not a job otter wrote.
const jobRecord: Check<JobRecord> = (v, at) => {
  const job = jobFields(v, at);
  if (job.state === "install" && job.artifact === undefined) throw new ShapeError(`${at}.artifact: expected the verified file a job in install hands to its hook, got nothing`);
  return job;
};
const runningImage: Check<RunningImage> = object({
  version: optional(shortText), channel: optional(shortText), installedAt: optional(time), seenAt: optional(time), readyFailed: optional(boolean), workloadDied: optional(boolean),
  reflashes: optional(count), accepted: optional(record(shortText)), workloadRunning: optional(boolean), workloadProcess: optional(processId),
});
const schema: Check<typeof SCHEMA_VERSION> = (v) => {
  if (v !== SCHEMA_VERSION) throw new ShapeError(`schema ${shown(v)}, this otter reads ${SCHEMA_VERSION}`);
  return SCHEMA_VERSION;
};
const journalData: Check<JournalData> = object({ schema, job: optional(jobRecord), outbox: array(report), running: runningImage });
