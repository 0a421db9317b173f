// The AWS IoT Jobs source: pending work, job documents and status reports over MQTT, as
// AWS documents the device API (names in ./jobsapi.ts) and as Upparat uses it.
//
// - Subscriptions, fixed and made again on every connect (so nothing per job to remove):
//   notify, notify-next, get/+, +/get/+ and +/update/+ under $aws/things/{thing}/jobs/.
// - Job ids: only AWS's own form (jobsapi.ts isJobId) ever names a topic; a listed id of
//   another form ("+", "#", "/" would get otter disconnected or its answer lost) is logged
//   once and skipped, and the other jobs go on.
// - check(): `get`; jobs whose id lacks [broker] job_prefix are not ours and ignored. More
//   than one IN_PROGRESS → each FAILED `error_multiple_in_progress` (like Upparat); then the
//   single IN_PROGRESS one, else the oldest QUEUED, is described (`{jobId}/get`) and its
//   document validated. An invalid document or wrong action is REJECTED here, by the source,
//   with state `job_invalid` and the one-line reason, and never offered; the next one is tried.
// - report(): `{jobId}/update` at QoS 1 with a clientToken; "acknowledged" on accepted.
//   InvalidStateTransition, TerminalStateReached and ResourceNotFound mean the execution has
//   already ended (or is gone) upstream: "already-terminal", and for a non-final report the
//   job counts as cancelled. RequestThrottled, InternalError, no answer or a lost connection:
//   a transient error (the pipeline retries with backoff). Anything else: SourceRejected.
// - Cancellation: a job offered and not yet finished that vanishes from notify (or that
//   notify-next shows is no longer first/pending) → events.cancelled(jobId).
import { isDeepStrictEqual } from "node:util";
import { monotonicMs } from "../base/clock.ts";
import { Cancelled, JobInvalid, ReportUnacknowledged, SourceRejected, SourceUnavailable, describe } from "../base/errors.ts";
import { log } from "../base/log.ts";
import { shown } from "../base/printable.ts";
import { sleep } from "../base/sleep.ts";
import type { Config } from "../config/config.ts";
import { offerFromJob } from "./jobdoc.ts";
import { TERMINAL, isJobId, jobsTopic, type Execution, type ExecutionState, type ExecutionSummary } from "./jobsapi.ts";
import { MqttLink, type Answer } from "./mqttlink.ts";
import { reportMessage, type Delivery, type Offer, type Report, type Source, type SourceEvents } from "./source.ts";
import { sanitize } from "./statusdetails.ts";

export interface AwsJobsOptions {
  /** wait this long for an answer (or for the broker) before a transient failure */
  answerTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectCapMs?: number;
  /** least time between two IN_PROGRESS updates of one job (AWS throttles chatty devices) */
  minProgressIntervalMs?: number;
}

type UpdateBody = { status: string; statusDetails: Record<string, string> } & Record<string, unknown>;

/** Whether an execution already has the status and statusDetails an update would give it. */
// (The broker's executionState is unchecked: statusDetails may be missing or null.)
function shows(state: ExecutionState, update: UpdateBody): boolean {
  return state.status === update.status && isDeepStrictEqual(state.statusDetails ?? {}, update.statusDetails);
}

function summaries(v: unknown): ExecutionSummary[] {
  return Array.isArray(v) ? v.filter((s) => typeof s?.jobId === "string") : [];
}

const DEFAULTS: Omit<Required<AwsJobsOptions>, "answerTimeoutMs" | "reconnectCapMs"> = { reconnectBaseMs: 1_000, minProgressIntervalMs: 1_000 };
/** A ListNotification carries at most 15 executions: a longer list may leave ours out. */
const NOTIFY_LIMIT = 15;

export function createAwsJobsSource(config: Config, opts: AwsJobsOptions = {}): Source {
  const b = config.broker;
  return new AwsJobsSource(config, { ...DEFAULTS, answerTimeoutMs: b.answer_timeout * 1000, reconnectCapMs: b.reconnect_cap * 1000, ...opts });
}

class AwsJobsSource implements Source {
  readonly name = "aws";
  private link?: MqttLink;
  private events?: SourceEvents;
  private readonly thing: string;
  private readonly prefix: string;
  /** jobs offered and not yet finished, with the status last seen upstream */
  private readonly active = new Map<string, "QUEUED" | "IN_PROGRESS">();
  private readonly versions = new Map<string, number>();
  /** per job: when the last IN_PROGRESS update was answered, and its state */
  private readonly lastProgress = new Map<string, { at: number; state: string }>();
  /** ids listed upstream that are no AWS job id, each logged once */
  private readonly badIds = new Set<string>();

  constructor(private readonly config: Config, private readonly o: Required<AwsJobsOptions>) {
    this.thing = config.broker.thing_name;
    this.prefix = config.broker.job_prefix;
  }

  /** A job for us: its id has [broker] job_prefix and can name a topic (another is logged once and skipped). */
  private ours(jobId: string): boolean {
    if (!jobId.startsWith(this.prefix)) return false;
    if (isJobId(jobId)) return true;
    if (!this.badIds.has(jobId)) {
      this.badIds.add(jobId);
      log.warn(`job ${shown(jobId)} skipped: not an AWS job id (1-64 of [a-zA-Z0-9_-]), so it cannot name an MQTT topic; other jobs go on`);
    }
    return false;
  }

  /** A topic of one job; throws (not transient) for an id that is not an AWS job id, e.g. one from an edited journal. */
  private jobTopic(jobId: string, op: "get" | "update"): string {
    if (!isJobId(jobId)) throw new SourceRejected(`job ${shown(jobId)}: not an AWS job id (1-64 of [a-zA-Z0-9_-]); nothing is sent for it`);
    return jobsTopic(this.thing, jobId, op);
  }

  async start(events: SourceEvents): Promise<void> {
    this.events = events;
    const b = this.config.broker;
    this.link = new MqttLink({
      host: b.host,
      port: b.port ?? (b.cafile ? 8883 : 1883),
      clientId: b.client_id ?? b.thing_name,
      keepaliveSeconds: b.keepalive,
      tls: b.cafile && b.certfile && b.keyfile ? { cafile: b.cafile, certfile: b.certfile, keyfile: b.keyfile } : undefined,
      subscriptions: ["notify", "notify-next", "get/+", "+/get/+", "+/update/+"].map((t) => jobsTopic(this.thing, t)),
      answerTimeoutMs: this.o.answerTimeoutMs,
      reconnectBaseMs: this.o.reconnectBaseMs,
      reconnectCapMs: this.o.reconnectCapMs,
      // Notifications are not replayed after a reconnect: ask for pending work every time.
      onConnect: () => events.wake(),
      onMessage: (topic, body) => this.notified(topic, body),
    });
    await this.link.start();
  }

  async stop(): Promise<void> {
    await this.link?.stop();
  }

  stalled(): string | undefined {
    return this.link?.stalled();
  }

  async check(opts: { dryRun?: boolean } = {}): Promise<Offer[]> {
    const a = await this.request(jobsTopic(this.thing, "get"), {});
    if (!a.accepted) throw this.failure(a, "asking for pending jobs");
    let inProgress = summaries(a.body.inProgressJobs).filter((s) => this.ours(s.jobId));
    const queued = summaries(a.body.queuedJobs).filter((s) => this.ours(s.jobId));
    queued.sort((x, y) => (x.queuedAt ?? 0) - (y.queuedAt ?? 0));
    if (inProgress.length > 1) {
      if (opts.dryRun) log.warn(`would fail ${inProgress.length} jobs IN_PROGRESS at once (error_multiple_in_progress)`);
      else await this.failAll(inProgress.map((s) => s.jobId));
      inProgress = [];
    }
    for (const s of [...inProgress, ...queued]) {
      const offer = await this.offer(s.jobId, opts.dryRun);
      if (offer) return [offer];
    }
    return [];
  }

  async refresh(offer: Offer): Promise<Offer> {
    const exec = await this.execution(offer.id);
    if (!exec) {
      this.cancelled(offer.id, true);
      throw new Cancelled(`job ${offer.id} is no longer pending on AWS (canceled, removed or ended)`);
    }
    return { ...offer, url: offerFromJob(offer.id, exec.jobDocument, this.prefix).url };
  }

  async report(r: Report): Promise<Delivery> {
    const final = r.status !== "IN_PROGRESS";
    if (final) this.active.delete(r.jobId);
    else await this.pace(r);
    const pairs: Record<string, string> = { state: r.state, message: r.message, ...(r.code ? { code: r.code } : {}) };
    for (const [k, v] of Object.entries(r.details ?? {})) if (!(k in pairs)) pairs[k] = v;
    const statusDetails = sanitize(pairs);
    statusDetails.message = reportMessage(statusDetails.message!);
    const step = this.config.broker.step_timeout;
    const body: UpdateBody = {
      status: r.status,
      statusDetails,
      includeJobExecutionState: true,
      ...(!final && step ? { stepTimeoutInMinutes: step } : {}),
    };
    try {
      return await this.update(r, body, true);
    } finally {
      // Spacing counts from the answer, so two updates never reach AWS closer than the interval.
      if (!final) this.lastProgress.set(r.jobId, { at: monotonicMs(), state: r.state });
    }
  }

  private async update(r: Report, body: UpdateBody, mayRetry: boolean): Promise<Delivery> {
    const version = this.versions.get(r.jobId);
    const a = await this.request(this.jobTopic(r.jobId, "update"), { ...body, ...(version ? { expectedVersion: version } : {}) });
    const state = a.body.executionState as ExecutionState | undefined;
    if (a.accepted) return this.acknowledged(r, state);
    const code = a.body.code;
    const ended = code === "InvalidStateTransition" || code === "TerminalStateReached" || code === "ResourceNotFound" || (state && TERMINAL.includes(state.status));
    if (ended) {
      log.info("job already ended on AWS; report dropped", { job: r.jobId, status: r.status, state: r.state, aws: code, now: state?.status });
      if (r.status === "IN_PROGRESS") this.cancelled(r.jobId, true);
      this.forget(r.jobId);
      return "already-terminal";
    }
    if (code === "VersionMismatch" && state?.versionNumber && shows(state, body)) {
      // An earlier copy of this very update got through and only its answer was lost (the
      // broker went down in between): sent again, it would be recorded twice.
      log.info("update already recorded on AWS (its answer was lost); not sent again", { job: r.jobId, state: r.state });
      return this.acknowledged(r, state);
    }
    if (code === "VersionMismatch" && state?.versionNumber) {
      // The execution moved on without us seeing it: another agent with this thing name, or
      // an earlier update whose answer was lost and that a later one replaced. Say so, take
      // the current version and send once more.
      log.warn("job execution version moved on (a lost answer, or another agent on this thing?)", { job: r.jobId, expected: version, current: state.versionNumber });
      this.versions.set(r.jobId, state.versionNumber);
      if (mayRetry) return this.update(r, body, false);
    }
    throw this.failure(a, `the ${r.status} update of job ${r.jobId}`);
  }

  private acknowledged(r: Report, state: ExecutionState | undefined): Delivery {
    if (state?.versionNumber) this.versions.set(r.jobId, state.versionNumber);
    // A job resumed from the journal after a restart was never offered here: watch it now.
    if (r.status === "IN_PROGRESS") this.active.set(r.jobId, "IN_PROGRESS");
    if (r.status !== "IN_PROGRESS") this.forget(r.jobId);
    return "acknowledged";
  }

  /** Repeated IN_PROGRESS updates of one state (progress) wait out the interval after the last answer. */
  private async pace(r: Report): Promise<void> {
    const last = this.lastProgress.get(r.jobId);
    if (!last || last.state !== r.state) return; // a new phase goes at once; repeats are what floods
    const wait = last.at + this.o.minProgressIntervalMs - monotonicMs();
    if (wait > 0) await sleep(wait);
  }

  private forget(jobId: string): void {
    this.active.delete(jobId);
    this.versions.delete(jobId);
    this.lastProgress.delete(jobId);
  }

  /** Describe one execution; undefined when it is gone or already ended. */
  private async execution(jobId: string): Promise<Execution | undefined> {
    const a = await this.request(this.jobTopic(jobId, "get"), { includeJobDocument: true });
    if (!a.accepted) {
      if (a.body.code === "ResourceNotFound" || a.body.code === "TerminalStateReached") return undefined;
      throw this.failure(a, `describing job ${jobId}`);
    }
    const exec = a.body.execution as Execution | undefined;
    if (!exec || TERMINAL.includes(exec.status)) return undefined;
    if (exec.versionNumber) this.versions.set(jobId, exec.versionNumber);
    return exec;
  }

  /** The offer for one pending job, or undefined after rejecting a bad document upstream (unless dryRun). */
  private async offer(jobId: string, dryRun = false): Promise<Offer | undefined> {
    const exec = await this.execution(jobId);
    if (!exec) return undefined;
    let offer: Offer;
    try {
      offer = offerFromJob(jobId, exec.jobDocument, this.prefix);
      if (!offer.sha256 && this.config.verify.require_sha256) {
        throw new JobInvalid(`job ${jobId}: document field "sha256": expected 64 hex digits, got nothing; [verify] require_sha256 is set, so a job must name its file's digest`);
      }
    } catch (err) {
      if (!(err instanceof JobInvalid)) throw err;
      log.warn(dryRun ? "job would be rejected" : "job rejected", { job: jobId, reason: err.message });
      if (!dryRun) await this.report({ jobId, seq: 0, status: "REJECTED", state: "job_invalid", message: describe(err), code: err.code, at: new Date().toISOString() });
      return undefined;
    }
    if (exec.status === "IN_PROGRESS") offer.inProgressState = exec.statusDetails?.state ?? "";
    if (!dryRun) this.active.set(jobId, exec.status === "IN_PROGRESS" ? "IN_PROGRESS" : "QUEUED");
    return offer;
  }

  private async failAll(jobIds: string[]): Promise<void> {
    const message = `More than one job IN_PROGRESS: ${jobIds.join(", ")}`;
    log.error(message);
    for (const jobId of jobIds) {
      await this.report({ jobId, seq: 0, status: "FAILED", state: "error_multiple_in_progress", message, at: new Date().toISOString() });
    }
  }

  private request(topic: string, body: Record<string, unknown>): Promise<Answer> {
    if (!this.link) throw new SourceUnavailable("AWS jobs source not started");
    return this.link.request(topic, body);
  }

  /** The error for a rejected request: retry later for throttling and AWS-side errors only. */
  private failure(a: Answer, what: string): Error {
    const code = String(a.body.code ?? "unknown");
    const text = `AWS rejected ${what}: ${code}: ${String(a.body.message ?? "")}`.trim();
    if (code === "RequestThrottled" || code === "InternalError") return new ReportUnacknowledged(`${text}; retrying later`);
    return new SourceRejected(text);
  }

  /** Tell the pipeline a job ended upstream: a watched one on a notification, any one when AWS said so. */
  private cancelled(jobId: string, certain = false): void {
    if (!this.active.has(jobId) && !certain) return;
    this.active.delete(jobId);
    log.warn("job canceled or removed on AWS", { job: jobId });
    this.events?.cancelled(jobId);
  }

  private notified(topic: string, body: Record<string, unknown>): void {
    try {
      if (topic === jobsTopic(this.thing, "notify")) this.onList(body);
      else if (topic === jobsTopic(this.thing, "notify-next")) this.onNext(body);
    } catch (err) {
      log.warn("bad jobs notification ignored", { topic, error: describe(err) });
    }
  }

  private onList(body: Record<string, unknown>): void {
    const jobs = (body.jobs ?? {}) as Record<string, unknown>;
    const listed = [...summaries(jobs.IN_PROGRESS), ...summaries(jobs.QUEUED)].map((s) => s.jobId);
    if (listed.length < NOTIFY_LIMIT) for (const id of [...this.active.keys()]) if (!listed.includes(id)) this.cancelled(id);
    if (listed.some((id) => this.ours(id) && !this.active.has(id))) this.events?.wake();
  }

  private onNext(body: Record<string, unknown>): void {
    const next = body.execution as Execution | undefined;
    // Nothing pending at all, or a QUEUED job first: no job of ours is IN_PROGRESS any more.
    for (const [id, status] of [...this.active]) {
      if (id !== next?.jobId && (!next || (next.status === "QUEUED" && status === "IN_PROGRESS"))) this.cancelled(id);
    }
    if (typeof next?.jobId === "string" && this.ours(next.jobId) && !this.active.has(next.jobId)) this.events?.wake();
  }
}
