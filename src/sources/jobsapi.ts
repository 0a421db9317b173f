/**
 * The AWS IoT Jobs device MQTT API, as AWS documents it ("Jobs device MQTT API operations",
 * "Jobs notifications"), shared by the AWS source and the local jobs emulator.
 *
 * Topics, all under `$aws/things/{thingName}/jobs/`; each request answers on
 * `<request topic>/accepted` or `<request topic>/rejected`:
 * - `get` (GetPendingJobExecutions) `{clientToken?}` →
 *   `{inProgressJobs: [JobExecutionSummary], queuedJobs: [JobExecutionSummary], timestamp, clientToken}`
 * - `start-next` (StartNextPendingJobExecution) `{statusDetails?, stepTimeoutInMinutes?, clientToken?}` →
 *   `{execution?: JobExecution, timestamp, clientToken}`
 * - `{jobId}/get` (DescribeJobExecution; jobId may be `$next`)
 *   `{executionNumber?, includeJobDocument? (default true), clientToken?}` → `{execution, timestamp, clientToken}`
 * - `{jobId}/update` (UpdateJobExecution) `{status, statusDetails?, expectedVersion?, executionNumber?,
 *   includeJobExecutionState?, includeJobDocument?, stepTimeoutInMinutes?, clientToken?}` →
 *   `{executionState?: JobExecutionState, jobDocument?, timestamp, clientToken}`
 * - `notify` (ListNotification, when an execution is queued, changes to a non-terminal status or
 *   ends) `{timestamp, jobs: {IN_PROGRESS?: [summary], QUEUED?: [summary]}}`
 * - `notify-next` (NextNotification, when the first pending execution changes) `{timestamp, execution?}`
 * Rejected: `{code, message, clientToken?, timestamp, executionState?}` with code one of ERROR_CODES;
 * executionState comes with InvalidStateTransition and VersionMismatch.
 * JobExecution: jobId, thingName, jobDocument, status, statusDetails, queuedAt, startedAt,
 * lastUpdatedAt, versionNumber, executionNumber, approximateSecondsBeforeTimedOut.
 * JobExecutionSummary: jobId, queuedAt, startedAt, lastUpdatedAt, versionNumber, executionNumber.
 * Times are seconds since the epoch. A device may set IN_PROGRESS, SUCCEEDED, FAILED, REJECTED.
 */

export const STATUSES = ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"] as const;
export type ExecutionStatus = (typeof STATUSES)[number];
export const TERMINAL: readonly ExecutionStatus[] = ["SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"];
export const DEVICE_STATUSES: readonly ExecutionStatus[] = ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"];

export const ERROR_CODES = [
  "InvalidTopic", "InvalidJson", "InvalidRequest", "InvalidStateTransition", "ResourceNotFound",
  "VersionMismatch", "InternalError", "RequestThrottled", "TerminalStateReached",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ExecutionSummary {
  jobId: string;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  versionNumber: number;
  executionNumber: number;
}

export interface ExecutionState {
  status: ExecutionStatus;
  statusDetails?: Record<string, string>;
  versionNumber: number;
}

export interface Execution extends ExecutionSummary {
  thingName: string;
  status: ExecutionStatus;
  statusDetails?: Record<string, string>;
  jobDocument?: unknown;
  approximateSecondsBeforeTimedOut?: number;
}

export interface Rejection {
  code: ErrorCode;
  message: string;
  clientToken?: string;
  timestamp: number;
  executionState?: ExecutionState;
}

/**
 * AWS's own job id: 1-64 characters of [a-zA-Z0-9_-] (API reference, JobExecutionSummary.jobId).
 * A job id becomes a topic level, so nothing else may get there: "+" and "#" are MQTT
 * wildcards (a broker drops a client that publishes them), "/" adds levels.
 */
export function isJobId(id: unknown): id is string {
  return typeof id === "string" && /^[a-zA-Z0-9_-]{1,64}$/.test(id);
}

/** The topic prefix of one thing. */
export function jobsTopic(thing: string, ...rest: string[]): string {
  return [`$aws/things/${thing}/jobs`, ...rest].join("/");
}

/** Seconds since the epoch, as AWS stamps its messages. */
export function epochSeconds(ms: number = Date.now()): number {
  return Math.floor(ms / 1000);
}
