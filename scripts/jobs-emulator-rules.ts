// The AWS IoT Jobs rules the emulator applies to one request, as pure functions: request
// validation (InvalidRequest), which updates an execution refuses (ResourceNotFound,
// InvalidStateTransition, VersionMismatch), answer shapes, presigned-URL signing, the
// request rate beyond which AWS answers RequestThrottled, and a rollout's waves.
import {
  DEVICE_STATUSES, TERMINAL,
  type ErrorCode, type ExecutionState, type ExecutionStatus, type ExecutionSummary,
} from "../src/sources/jobsapi.ts";
import { problemOf } from "../src/sources/statusdetails.ts";

/** One update request as received, with what the emulator answered. */
export interface UpdateRecord {
  at: number;
  status: unknown;
  statusDetails?: Record<string, string>;
  clientToken?: string;
  outcome: "accepted" | ErrorCode;
}

export interface Exec {
  jobId: string;
  thingName: string;
  status: ExecutionStatus;
  statusDetails?: Record<string, string>;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  versionNumber: number;
  executionNumber: number;
  /** the step timer (stepTimeoutInMinutes) and the job's in-progress timer */
  timers: Partial<Record<"step" | "job", { handle: ReturnType<typeof setTimeout>; deadline: number }>>;
  updates: UpdateRecord[];
}

export type Answer = { accepted: Record<string, unknown> } | { rejected: { code: ErrorCode; message: string; executionState?: ExecutionState } };

const PRESIGN = /\$\{aws:iot:s3-presigned-url:([^}]+)\}/g;

/** A rejected answer; executionState comes along when AWS sends it. */
export function rejected(code: ErrorCode, message: string, exec?: Exec): Answer {
  return { rejected: { code, message, ...(exec ? { executionState: stateOf(exec) } : {}) } };
}

/** The JobExecutionState of an execution. */
export function stateOf(e: Exec): ExecutionState {
  return { status: e.status, ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}), versionNumber: e.versionNumber };
}

/** The JobExecutionSummary AWS lists in get and notify. */
export function summaryOf(e: Exec): ExecutionSummary {
  const { jobId, queuedAt, startedAt, lastUpdatedAt, versionNumber, executionNumber } = e;
  return { jobId, queuedAt, ...(startedAt ? { startedAt } : {}), lastUpdatedAt, versionNumber, executionNumber };
}

/** stepTimeoutInMinutes: 1-10080 minutes, or -1 to clear the step timer. */
function stepTimeout(v: unknown): number | undefined | "bad" {
  if (v === undefined) return undefined;
  return v === -1 || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 10080) ? (v as number) : "bad";
}

/** InvalidRequest for a malformed start-next (or, with `update`, update) request; else undefined. */
export function badRequest(req: Record<string, unknown>, update: boolean): Answer | undefined {
  if (update && !DEVICE_STATUSES.includes(req.status as ExecutionStatus)) {
    return rejected("InvalidRequest", `status must be one of ${DEVICE_STATUSES.join(", ")}, got ${JSON.stringify(req.status)}`);
  }
  const problem = req.statusDetails !== undefined ? problemOf(req.statusDetails) : undefined;
  if (problem) return rejected("InvalidRequest", problem);
  if (stepTimeout(req.stepTimeoutInMinutes) === "bad") return rejected("InvalidRequest", "stepTimeoutInMinutes must be 1-10080 or -1");
  return undefined;
}

/** Why this execution refuses a well-formed update, or undefined when it takes it. */
export function cannotUpdate(req: Record<string, unknown>, e: Exec | undefined, what: string): Answer | undefined {
  if (!e) return rejected("ResourceNotFound", `no execution of ${what}`);
  if (req.executionNumber !== undefined && req.executionNumber !== e.executionNumber) return rejected("ResourceNotFound", `no execution number ${req.executionNumber}`);
  if (TERMINAL.includes(e.status)) return rejected("InvalidStateTransition", `execution of ${what} is already ${e.status}`, e);
  if (req.expectedVersion !== undefined && req.expectedVersion !== e.versionNumber) {
    return rejected("VersionMismatch", `expected version ${req.expectedVersion}, current is ${e.versionNumber}`, e);
  }
  return undefined;
}

/** The document with every ${aws:iot:s3-presigned-url:URL} replaced by URL plus a new signature. */
export function presign(doc: unknown, nextSignature: () => number): unknown {
  const sign = (v: unknown): unknown => {
    if (typeof v === "string") return v.replace(PRESIGN, (_, url: string) => `${url}${url.includes("?") ? "&" : "?"}sig=${nextSignature()}`);
    if (Array.isArray(v)) return v.map(sign);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sign(x)]));
    return v;
  };
  return sign(doc);
}

/**
 * A request rate limit as AWS applies one per account and API: `perSecond` requests a second,
 * bursts up to one second's worth; `take` says whether a request at `nowMs` is let through.
 */
export class RateLimit {
  private tokens: number;
  private at: number;

  constructor(readonly perSecond: number, nowMs: number) {
    this.tokens = perSecond;
    this.at = nowMs;
  }

  take(nowMs: number): boolean {
    this.tokens = Math.min(this.perSecond, this.tokens + ((nowMs - this.at) / 1000) * this.perSecond);
    this.at = nowMs;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

/**
 * The things a job reaches in each minute of its rollout (jobExecutionsRolloutConfig
 * maximumPerMinute: "the maximum number of things that will be notified of a pending job,
 * per minute"): waves of that many, in target order; one wave without a limit.
 */
export function rolloutWaves(things: string[], maximumPerMinute?: number): string[][] {
  if (!maximumPerMinute) return [things];
  const waves: string[][] = [];
  for (let i = 0; i < things.length; i += maximumPerMinute) waves.push(things.slice(i, i + maximumPerMinute));
  return waves;
}
