// A local stand-in for the AWS IoT Jobs service on top of a real MQTT broker: it answers the
// device API (get, start-next, {jobId}/get incl. $next, {jobId}/update) with accepted/rejected
// as AWS documents them (see src/sources/jobsapi.ts), publishes notify and notify-next, and
// keeps executions with versions, step timers and AWS's state-transition rules. What a fleet
// run needs from AWS too: a job's rollout in waves (jobExecutionsRolloutConfig
// maximumPerMinute) and RequestThrottled beyond an UpdateJobExecution rate (limitUpdates).
// One connection per client id (a second one kicks the first) is the broker's own rule:
// mosquitto keeps it as AWS does, and test/helpers/mosquitto.ts reads the kicks from its log.
// Tests import JobsEmulator; people run `bun scripts/jobs-emulator.ts --broker mqtt://…`
// and drive it over a small HTTP control API (scripts/jobs-emulator-http.ts).
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { TERMINAL, epochSeconds, isJobId, jobsTopic, type ErrorCode, type Execution, type ExecutionStatus, type ExecutionSummary } from "../src/sources/jobsapi.ts";
import { RateLimit, badRequest, cannotUpdate, presign, rejected, rolloutWaves, stateOf, summaryOf, type Answer, type Exec, type UpdateRecord } from "./jobs-emulator-rules.ts";

export type { UpdateRecord } from "./jobs-emulator-rules.ts";

export type ExecutionView = Omit<Exec, "timers">;

export interface JobSpec {
  jobId: string;
  document: unknown;
  things?: string[];
  groups?: string[];
  /** AWS timeoutConfig.inProgressTimeoutInMinutes */
  inProgressTimeoutMinutes?: number;
  /** AWS's staged rollout: at most maximumPerMinute things get their execution per minute */
  jobExecutionsRolloutConfig?: { maximumPerMinute?: number; exponentialRate?: unknown };
}

export type Operation = "get" | "start-next" | "describe" | "update";

export interface EmulatorOptions {
  /** mqtt://host:port of the broker */
  broker: string;
  clientId?: string;
  /** how long a "minute" of step timeouts and rollouts lasts, so tests can run them quickly */
  minuteMs?: number;
  mqtt?: IClientOptions;
}

export class JobsEmulator {
  private client?: MqttClient;
  private readonly jobs = new Map<string, JobSpec & { things: string[] }>();
  private readonly execs = new Map<string, Map<string, Exec>>(); // thing → jobId → execution
  private readonly groups = new Map<string, string[]>();
  private readonly counts = new Map<string, { received: number; sent: number }>();
  private readonly faults: { thing: string; op: Operation; code: ErrorCode; count: number }[] = [];
  private readonly waiters = new Set<() => void>();
  /** jobs still rolling out: the timer of their next wave */
  private readonly rollouts = new Map<string, ReturnType<typeof setInterval>>();
  private updateLimit?: RateLimit;
  private throttled = 0;
  private signatures = 0;
  private serving = false;
  private readonly minuteMs: number;

  constructor(private readonly opts: EmulatorOptions) {
    this.minuteMs = opts.minuteMs ?? 60_000;
  }

  /** Connect as the service and serve every thing's jobs topics. */
  async start(): Promise<void> {
    const client = mqtt.connect(this.opts.broker, { clientId: this.opts.clientId ?? `jobs-emulator-${process.pid}`, reconnectPeriod: 200, ...this.opts.mqtt });
    this.client = client;
    let subscribed!: () => void;
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    client.on("message", (topic, payload) => this.onMessage(topic, payload));
    client.on("connect", () => {
      client.subscribeAsync("$aws/things/+/jobs/#", { qos: 1 }).then(() => ((this.serving = true), subscribed(), this.changed()), () => {});
    });
    client.on("close", () => ((this.serving = false), this.changed()));
    client.on("error", () => {}); // reconnects on its own; tests restart the broker on purpose
    await ready;
  }

  async stop(): Promise<void> {
    for (const e of this.allExecs()) this.clearTimers(e);
    for (const handle of this.rollouts.values()) clearInterval(handle);
    await this.client?.endAsync(true);
  }

  /** Whether the emulator is connected and subscribed (it reconnects after a broker restart). */
  get connected(): boolean {
    return this.serving;
  }

  defineGroup(name: string, things: string[]): void {
    this.groups.set(name, [...things]);
  }

  /**
   * Queue an execution of a new job for each target thing (things and members of groups), all
   * at once or, with a rollout's maximumPerMinute, that many now and as many each minute after.
   * `unchecked` lets an id AWS would refuse through, as a hostile or broken service might send it.
   */
  createJob(spec: JobSpec, opts: { unchecked?: boolean } = {}): void {
    if (!opts.unchecked && !isJobId(spec.jobId)) throw new Error(`job id "${spec.jobId}" must be 1-64 of [a-zA-Z0-9_-]`);
    if (this.jobs.has(spec.jobId)) throw new Error(`job ${spec.jobId} already exists`);
    const things = [...new Set([...(spec.things ?? []), ...(spec.groups ?? []).flatMap((g) => this.groups.get(g) ?? [])])];
    if (!things.length) throw new Error(`job ${spec.jobId} has no targets`);
    const rollout = spec.jobExecutionsRolloutConfig;
    if (rollout?.exponentialRate !== undefined) throw new Error("jobExecutionsRolloutConfig.exponentialRate is not emulated; use maximumPerMinute");
    const perMinute = rollout?.maximumPerMinute;
    if (perMinute !== undefined && !(Number.isInteger(perMinute) && perMinute >= 1)) throw new Error(`maximumPerMinute must be an integer of at least 1, got ${JSON.stringify(perMinute)}`);
    this.jobs.set(spec.jobId, { ...spec, things });
    const waves = rolloutWaves(things, perMinute);
    this.queue(spec.jobId, waves.shift()!);
    if (!waves.length) return;
    const handle = setInterval(() => {
      this.queue(spec.jobId, waves.shift()!);
      if (!waves.length) this.endRollout(spec.jobId);
    }, this.minuteMs);
    this.rollouts.set(spec.jobId, handle);
  }

  /** CancelJob: QUEUED executions become CANCELED (and things not yet reached get none); with force, IN_PROGRESS ones too. */
  cancelJob(jobId: string, opts: { force?: boolean } = {}): void {
    this.endRollout(jobId);
    for (const e of this.execsOf(jobId)) {
      if (e.status === "QUEUED" || (opts.force && e.status === "IN_PROGRESS")) this.change(e.thingName, () => this.finish(e, "CANCELED"));
    }
  }

  /** A thing left the target group of a continuous job: its pending execution becomes REMOVED. */
  removeFromJob(jobId: string, thing: string): void {
    const e = this.execs.get(thing)?.get(jobId);
    if (e && !TERMINAL.includes(e.status)) this.change(thing, () => this.finish(e, "REMOVED"));
  }

  /** DeleteJobExecution: the execution disappears (an IN_PROGRESS one only with force). */
  deleteExecution(jobId: string, thing: string, opts: { force?: boolean } = {}): void {
    const e = this.execs.get(thing)?.get(jobId);
    if (!e) throw new Error(`no execution of ${jobId} on ${thing}`);
    if (e.status === "IN_PROGRESS" && !opts.force) throw new Error(`execution of ${jobId} on ${thing} is IN_PROGRESS; delete it with force`);
    this.change(thing, () => {
      this.clearTimers(e);
      this.execs.get(thing)!.delete(jobId);
    });
  }

  /** Every execution of a job: status, statusDetails, versions and the updates received, in order. */
  listExecutions(jobId: string): ExecutionView[] {
    return this.execsOf(jobId).map((e) => this.view(e));
  }

  execution(jobId: string, thing: string): ExecutionView | undefined {
    const e = this.execs.get(thing)?.get(jobId);
    return e && this.view(e);
  }

  /** Messages the service received from and sent to one thing. */
  messages(thing: string): { received: number; sent: number } {
    return { ...(this.counts.get(thing) ?? { received: 0, sent: 0 }) };
  }

  /** Answer UpdateJobExecution requests beyond `perSecond` (all things together) with RequestThrottled; undefined lifts the limit. */
  limitUpdates(perSecond: number | undefined): void {
    this.updateLimit = perSecond ? new RateLimit(perSecond, Date.now()) : undefined;
  }

  /** How many update requests the rate limit has refused. */
  get throttledUpdates(): number {
    return this.throttled;
  }

  /** Answer the next `count` requests of `op` from `thing` with a rejection, changing nothing. */
  injectFault(thing: string, code: ErrorCode, opts: { op?: Operation; count?: number } = {}): void {
    this.faults.push({ thing, op: opts.op ?? "update", code, count: opts.count ?? 1 });
  }

  /** Resolves once `ready()` holds; re-checked after every request and change. */
  until<T>(ready: () => T | undefined | false): Promise<T> {
    return new Promise((resolve) => {
      const check = () => {
        const v = ready();
        if (v) {
          this.waiters.delete(check);
          resolve(v);
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** One wave of a job's rollout: a QUEUED execution for each of these things. */
  private queue(jobId: string, things: string[]): void {
    const now = epochSeconds();
    for (const thing of things) {
      this.change(thing, () => {
        const e: Exec = { jobId, thingName: thing, status: "QUEUED", queuedAt: now, lastUpdatedAt: now, versionNumber: 1, executionNumber: 1, timers: {}, updates: [] };
        this.thingExecs(thing).set(jobId, e);
      });
    }
  }

  private endRollout(jobId: string): void {
    clearInterval(this.rollouts.get(jobId));
    this.rollouts.delete(jobId);
  }

  private changed(): void {
    for (const w of [...this.waiters]) w();
  }

  private view(e: Exec): ExecutionView {
    const { timers: _t, ...rest } = e;
    return structuredClone(rest);
  }

  private thingExecs(thing: string): Map<string, Exec> {
    let m = this.execs.get(thing);
    if (!m) this.execs.set(thing, (m = new Map()));
    return m;
  }

  private allExecs(): Exec[] {
    return [...this.execs.values()].flatMap((m) => [...m.values()]);
  }

  private execsOf(jobId: string): Exec[] {
    return this.allExecs().filter((e) => e.jobId === jobId);
  }

  private count(thing: string, what: "received" | "sent"): void {
    const c = this.counts.get(thing) ?? { received: 0, sent: 0 };
    c[what]++;
    this.counts.set(thing, c);
  }

  /** Pending executions in AWS's order: IN_PROGRESS first, then by queuedAt (then creation). */
  private pending(thing: string): Exec[] {
    const list = [...(this.execs.get(thing)?.values() ?? [])].filter((e) => e.status === "QUEUED" || e.status === "IN_PROGRESS");
    const rank = (e: Exec) => (e.status === "IN_PROGRESS" ? 0 : 1);
    return list.sort((a, b) => rank(a) - rank(b) || a.queuedAt - b.queuedAt);
  }

  /** The job document as the device sees it: presigned-URL placeholders signed afresh. */
  private documentOf(jobId: string): unknown {
    return presign(this.jobs.get(jobId)?.document, () => ++this.signatures);
  }

  private executionOf(e: Exec, withDocument = true): Execution {
    const out: Execution = { ...summaryOf(e), thingName: e.thingName, status: e.status, ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}) };
    if (withDocument) out.jobDocument = this.documentOf(e.jobId);
    const deadlines = Object.values(e.timers).map((t) => t.deadline);
    if (deadlines.length) out.approximateSecondsBeforeTimedOut = Math.max(0, Math.round((Math.min(...deadlines) - Date.now()) / 1000));
    return out;
  }

  /** Run a mutation for one thing and publish notify / notify-next when what is pending changed. */
  private change(thing: string, mutate: () => void, answer?: () => void): void {
    const before = this.pending(thing);
    mutate();
    answer?.(); // the requester hears its answer before the notifications it caused
    const after = this.pending(thing);
    const key = (l: Exec[]) => l.map((e) => `${e.jobId}:${e.status}`).join(",");
    const timestamp = epochSeconds();
    if (key(before) !== key(after)) {
      const jobs: Record<string, ExecutionSummary[]> = {};
      for (const e of after) (jobs[e.status] ??= []).push(summaryOf(e));
      this.publish(thing, jobsTopic(thing, "notify"), { timestamp, jobs });
    }
    if (before[0]?.jobId !== after[0]?.jobId) {
      this.publish(thing, jobsTopic(thing, "notify-next"), { timestamp, ...(after[0] ? { execution: this.executionOf(after[0]) } : {}) });
    }
    this.changed();
  }

  private publish(thing: string, topic: string, body: unknown): void {
    this.count(thing, "sent");
    this.client?.publish(topic, JSON.stringify(body), { qos: 1 });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parts = topic.split("/");
    if (parts.length < 5 || parts[0] !== "$aws" || parts[1] !== "things" || parts[3] !== "jobs") return;
    const thing = parts[2]!;
    const rest = parts.slice(4);
    const last = rest[rest.length - 1];
    if (last === "accepted" || last === "rejected" || (rest.length === 1 && (last === "notify" || last === "notify-next"))) return;
    this.count(thing, "received");
    let req: Record<string, unknown> = {};
    try {
      const text = payload.toString("utf8");
      req = text.trim() ? JSON.parse(text) : {};
      if (typeof req !== "object" || req === null || Array.isArray(req)) throw new Error("not an object");
    } catch {
      return this.answer(thing, topic, undefined, rejected("InvalidJson", "the request is not a JSON object"));
    }
    const token = typeof req.clientToken === "string" ? req.clientToken : undefined;
    const op: Operation | undefined =
      rest.length === 1 && rest[0] === "get" ? "get"
      : rest.length === 1 && rest[0] === "start-next" ? "start-next"
      : rest.length === 2 && rest[1] === "get" ? "describe"
      : rest.length === 2 && rest[1] === "update" ? "update"
      : undefined;
    if (!op) return this.answer(thing, topic, token, rejected("InvalidTopic", `${topic} is not a jobs API topic`));
    const fault = this.faults.find((f) => f.thing === thing && f.op === op && f.count > 0);
    if (fault) {
      fault.count--;
      if (op === "update") this.record(thing, rest[0]!, req, token, fault.code);
      return this.answer(thing, topic, token, rejected(fault.code, `injected ${fault.code}`));
    }
    if (op === "update" && this.updateLimit && !this.updateLimit.take(Date.now())) {
      this.throttled++;
      this.record(thing, rest[0]!, req, token, "RequestThrottled");
      return this.answer(thing, topic, token, rejected("RequestThrottled", `more than ${this.updateLimit.perSecond} UpdateJobExecution requests a second`));
    }
    let answer: Answer | undefined;
    this.change(thing, () => {
      if (op === "get") answer = this.getPending(thing);
      else if (op === "start-next") answer = this.startNext(thing, req);
      else if (op === "describe") answer = this.describe(thing, rest[0]!, req);
      else answer = this.update(thing, rest[0]!, req, token);
    }, () => this.answer(thing, topic, token, answer!));
  }

  private answer(thing: string, topic: string, clientToken: string | undefined, a: Answer): void {
    const extra = { timestamp: epochSeconds(), ...(clientToken !== undefined ? { clientToken } : {}) };
    if ("accepted" in a) this.publish(thing, `${topic}/accepted`, { ...a.accepted, ...extra });
    else this.publish(thing, `${topic}/rejected`, { ...a.rejected, ...extra });
    this.changed();
  }

  private getPending(thing: string): Answer {
    const list = this.pending(thing);
    return {
      accepted: {
        inProgressJobs: list.filter((e) => e.status === "IN_PROGRESS").map(summaryOf),
        queuedJobs: list.filter((e) => e.status === "QUEUED").map(summaryOf),
      },
    };
  }

  private startNext(thing: string, req: Record<string, unknown>): Answer {
    const bad = badRequest(req, false);
    if (bad) return bad;
    const step = req.stepTimeoutInMinutes as number | undefined;
    const e = this.pending(thing)[0];
    if (!e) return { accepted: {} };
    if (e.status === "QUEUED") this.apply(e, "IN_PROGRESS", req.statusDetails as Record<string, string> | undefined, step);
    return { accepted: { execution: this.executionOf(e) } };
  }

  private describe(thing: string, jobId: string, req: Record<string, unknown>): Answer {
    const e = jobId === "$next" ? this.pending(thing)[0] : this.execs.get(thing)?.get(jobId);
    if (!e) return jobId === "$next" ? { accepted: {} } : rejected("ResourceNotFound", `no execution of ${jobId} for ${thing}`);
    if (req.executionNumber !== undefined && req.executionNumber !== e.executionNumber) return rejected("ResourceNotFound", `no execution number ${req.executionNumber}`);
    if (TERMINAL.includes(e.status)) return rejected("TerminalStateReached", `execution of ${jobId} is ${e.status}`);
    return { accepted: { execution: this.executionOf(e, req.includeJobDocument !== false) } };
  }

  private update(thing: string, jobId: string, req: Record<string, unknown>, token?: string): Answer {
    const outcome = this.tryUpdate(thing, jobId, req);
    const code = "rejected" in outcome ? outcome.rejected.code : "accepted";
    this.record(thing, jobId, req, token, code);
    return outcome;
  }

  private tryUpdate(thing: string, jobId: string, req: Record<string, unknown>): Answer {
    const e = this.execs.get(thing)?.get(jobId);
    const bad = badRequest(req, true) ?? cannotUpdate(req, e, `${jobId} for ${thing}`);
    if (bad || !e) return bad!;
    this.apply(e, req.status as ExecutionStatus, req.statusDetails as Record<string, string> | undefined, req.stepTimeoutInMinutes as number | undefined);
    return {
      accepted: {
        ...(req.includeJobExecutionState === true ? { executionState: stateOf(e) } : {}),
        ...(req.includeJobDocument === true ? { jobDocument: this.documentOf(jobId) } : {}),
      },
    };
  }

  private record(thing: string, jobId: string, req: Record<string, unknown>, token: string | undefined, outcome: UpdateRecord["outcome"]): void {
    const e = this.execs.get(thing)?.get(jobId);
    const details = req.statusDetails as Record<string, string> | undefined;
    e?.updates.push({ at: Date.now(), status: req.status, ...(details ? { statusDetails: structuredClone(details) } : {}), ...(token ? { clientToken: token } : {}), outcome });
  }

  private apply(e: Exec, status: ExecutionStatus, details: Record<string, string> | undefined, step: number | undefined): void {
    const now = epochSeconds();
    if (e.status === "QUEUED" && status === "IN_PROGRESS") {
      e.startedAt = now;
      const minutes = this.jobs.get(e.jobId)?.inProgressTimeoutMinutes;
      if (minutes) this.arm(e, "job", minutes);
    }
    e.status = status;
    if (details) e.statusDetails = { ...details };
    e.versionNumber++;
    e.lastUpdatedAt = now;
    if (TERMINAL.includes(status)) return this.clearTimers(e);
    if (step !== undefined) {
      clearTimeout(e.timers.step?.handle);
      delete e.timers.step;
      if (step !== -1) this.arm(e, "step", step);
    }
  }

  private finish(e: Exec, status: ExecutionStatus): void {
    e.status = status;
    e.versionNumber++;
    e.lastUpdatedAt = epochSeconds();
    this.clearTimers(e);
  }

  private arm(e: Exec, which: "step" | "job", minutes: number): void {
    const handle = setTimeout(() => {
      if (e.status === "IN_PROGRESS" || e.status === "QUEUED") this.change(e.thingName, () => this.finish(e, "TIMED_OUT"));
    }, minutes * this.minuteMs);
    handle.unref?.();
    e.timers[which] = { handle, deadline: Date.now() + minutes * this.minuteMs };
  }

  private clearTimers(e: Exec): void {
    for (const t of Object.values(e.timers)) clearTimeout(t.handle);
    e.timers = {};
  }
}

if (import.meta.main) {
  const { main } = await import("./jobs-emulator-http.ts");
  await main(process.argv.slice(2));
}
