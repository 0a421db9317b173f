// The journal: otter's only memory across crashes and reboots. One small JSON file in
// state_dir, replaced atomically on every change, with a schema version. It holds the
// current job and its phase, the bounded counters, the partial download, the outbox of
// reports not yet acknowledged, the running image, and approvals.
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import type { ErrorCode } from "../base/errors.ts";
import { log } from "../base/log.ts";
import type { ProcessId } from "../base/proc.ts";
import type { DownloadResult, ResumePoint } from "../transfer/request.ts";
import type { JobStatus, Offer, Report } from "../sources/source.ts";
import type { RunningImage } from "../policy/policy.ts";
import type { State } from "./pipeline.ts";

export const SCHEMA_VERSION = 1;

/** Retry bookkeeping of one hook for one job, kept so a crash never resets it. */
export interface HookCount {
  /** ms epoch of the first call (Upparat's $1 is seconds since then) */
  firstCall: number;
  /** runs so far that exited 3 */
  retries: number;
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
  /** the verified file (or unpacked folder) the install hook gets */
  artifact?: string;
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

  /** Open the journal in `dir`: missing → fresh start; corrupt or unknown schema → moved aside, fresh start. */
  static open(dir: string): Journal {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, "journal.json");
    if (!existsSync(path)) return new Journal(dir, empty());
    const problem = readProblem(path);
    if (typeof problem !== "string") return new Journal(dir, problem);
    const aside = `${path}.corrupt-${Date.now()}`;
    renameSync(path, aside);
    log.error(`journal unreadable (${problem}); moved to ${aside} and starting fresh`);
    return new Journal(dir, empty());
  }

  /** Read the journal without changing anything (otter plan): a missing or unreadable one reads as empty. */
  static peek(dir: string): JournalData {
    const path = join(dir, "journal.json");
    const data = existsSync(path) ? readProblem(path) : empty();
    return typeof data === "string" ? empty() : data;
  }

  /** Write the journal durably; call before acting on what it now says. */
  save(): void {
    writeFileAtomic(this.path, JSON.stringify(this.data, null, 1));
  }

  /** Queue a report for the job; it stays in the outbox until acknowledged. */
  enqueue(report: Omit<Report, "seq" | "at" | "jobId">): Report {
    const job = this.data.job;
    if (!job) throw new Error("journal: report without a job");
    const full: Report = { ...report, jobId: job.offer.id, seq: ++job.seq, at: new Date().toISOString() };
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

// The parsed journal, or why it cannot be used.
function readProblem(path: string): JournalData | string {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  const d = data as Partial<JournalData> | null;
  if (!d || typeof d !== "object") return "not an object";
  if (d.schema !== SCHEMA_VERSION) return `schema ${JSON.stringify(d.schema)}, this otter reads ${SCHEMA_VERSION}`;
  if (!Array.isArray(d.outbox) || typeof d.running !== "object") return "missing outbox or running";
  return d as JournalData;
}
