// One MQTT connection for a job source: QoS 1, its own reconnect loop (./reconnect.ts:
// exponential backoff with full jitter, so a fleet does not stampede a restarted broker, and
// no reconnect loop when the broker drops the connection at once), subscriptions made again
// on every connect, and request/answer pairs correlated by clientToken.
// mqtt.js is imported on start() only, so `otter --version` never loads it.
import { readFileSync } from "node:fs";
import type { IClientOptions, MqttClient } from "mqtt";
import { ReportUnacknowledged, SourceUnavailable } from "../base/errors.ts";
import { log } from "../base/log.ts";
import { shown } from "../base/printable.ts";
import { STABLE_MS, nextReconnect } from "./reconnect.ts";

export interface LinkOptions {
  host: string;
  port: number;
  clientId: string;
  keepaliveSeconds: number;
  /** mutual TLS: CA, client certificate and key files */
  tls?: { cafile: string; certfile: string; keyfile: string };
  /** topic filters subscribed (QoS 1) on every connect, before onConnect runs */
  subscriptions: string[];
  /** how long to wait for an answer or for the connection */
  answerTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectCapMs: number;
  /** connected and subscribed (again): time to ask for what was missed */
  onConnect(): void;
  /** a message that is not an answer to one of our requests */
  onMessage(topic: string, body: Record<string, unknown>): void;
}

/** An answer to a request: which topic it came on and its JSON body. */
export interface Answer {
  accepted: boolean;
  body: Record<string, unknown>;
}

/** What the watchdog needs to know of a link (monotonic ms). */
export interface LinkClock {
  /** connected and subscribed */
  ready: boolean;
  /** the last packet from the broker */
  heardAt: number;
  /** when the current (or the next scheduled) connection attempt starts */
  attemptAt: number;
  keepaliveMs: number;
  answerTimeoutMs: number;
}

/**
 * Why a link is stuck at `now`, or undefined. Up, the broker sends something at least every
 * keepalive and a half (mqtt.js pings when it has heard nothing for a keepalive and drops the
 * link when the answer does not come), so silence past twice the keepalive plus
 * answer_timeout means that guard failed too. Down, each attempt ends (connected or failed)
 * within answer_timeout of its start.
 */
export function linkStalled(l: LinkClock, now: number): string | undefined {
  if (l.ready) {
    const silent = now - l.heardAt;
    if (l.keepaliveMs > 0 && silent > 2 * l.keepaliveMs + l.answerTimeoutMs) return `the MQTT broker has sent nothing for ${Math.round(silent / 1000)} s (keepalive ${l.keepaliveMs / 1000} s)`;
    return undefined;
  }
  const late = now - l.attemptAt - l.answerTimeoutMs;
  return late > 0 ? `an MQTT connection attempt has not ended ${Math.round(late / 1000)} s past answer_timeout` : undefined;
}

interface Waiting {
  resolve(a: Answer): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class MqttLink {
  private client?: MqttClient;
  private ready = false;
  private stopped = false;
  /** attempts since the last stable connection */
  private attempts = 0;
  /** when the current connection came up (performance.now()) */
  private upSince?: number;
  /** connections in a row the broker dropped before STABLE_MS */
  private shortLived = 0;
  /** when the pending reconnect attempt was due (epoch ms), for the log */
  private due?: number;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private readonly waiting = new Map<string, Waiting>();
  private readonly readyWaiters = new Set<() => void>();
  private readonly session = Math.random().toString(16).slice(2, 10);
  private counter = 0;
  private heardAt = 0;
  private attemptAt = 0;

  constructor(private readonly o: LinkOptions) {}

  /** Start connecting; never throws for an unreachable broker (it keeps retrying). */
  async start(): Promise<void> {
    const { connect } = await import("mqtt");
    const tls = this.o.tls;
    const options: IClientOptions = {
      host: this.o.host,
      port: this.o.port,
      protocol: tls ? "mqtts" : "mqtt",
      clientId: this.o.clientId,
      keepalive: this.o.keepaliveSeconds,
      clean: true,
      reconnectPeriod: 0, // our own backoff below
      resubscribe: false,
      connectTimeout: this.o.answerTimeoutMs,
      ...(tls && {
        ca: readFileSync(tls.cafile),
        cert: readFileSync(tls.certfile),
        key: readFileSync(tls.keyfile),
        rejectUnauthorized: true,
        // AWS IoT takes MQTT on 443 only with this ALPN protocol.
        ...(this.o.port === 443 && { ALPNProtocols: ["x-amzn-mqtt-ca"] }),
      }),
    };
    this.attemptAt = performance.now();
    const client = connect(options);
    this.client = client;
    client.on("packetreceive", () => (this.heardAt = performance.now()));
    client.on("connect", () => this.connected(client));
    client.on("close", () => this.closed());
    client.on("error", (err) => log.debug("mqtt error", { error: err.message }));
    client.on("message", (topic, payload) => this.received(topic, payload));
  }

  get isConnected(): boolean {
    return this.ready;
  }

  /** Why the link is stuck now (see linkStalled), for the watchdog. */
  stalled(): string | undefined {
    if (this.stopped || !this.client) return undefined;
    const clock = { ready: this.ready, heardAt: this.heardAt, attemptAt: this.attemptAt, keepaliveMs: this.o.keepaliveSeconds * 1000, answerTimeoutMs: this.o.answerTimeoutMs };
    return linkStalled(clock, performance.now());
  }

  /** Publish a request with a fresh clientToken and wait for its accepted/rejected answer. */
  async request(topic: string, body: Record<string, unknown>): Promise<Answer> {
    await this.whenReady();
    const clientToken = `${this.session}-${++this.counter}`;
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(clientToken);
        reject(new ReportUnacknowledged(`no answer on ${topic}/accepted or /rejected within ${this.o.answerTimeoutMs / 1000}s`));
      }, this.o.answerTimeoutMs);
      this.waiting.set(clientToken, { resolve, reject, timer });
      this.client!.publish(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 }, (err) => {
        if (err && this.waiting.delete(clientToken)) {
          clearTimeout(timer);
          reject(new SourceUnavailable(`publish to ${topic} failed: ${err.message}`, { cause: err }));
        }
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.failWaiting("source stopped");
    await this.client?.endAsync(true).catch(() => {});
  }

  private connected(client: MqttClient): void {
    this.upSince = performance.now();
    // After a loss: which attempt got through, and when its jittered wait had it due.
    const again = this.due === undefined ? {} : { attempt: this.attempts, reconnect_due: new Date(this.due).toISOString() };
    log.info("mqtt connected", { host: this.o.host, port: this.o.port, client_id: this.o.clientId, ...again });
    client.subscribe(this.o.subscriptions, { qos: 1 }, (err, granted) => {
      if (err) return log.warn("mqtt subscribe failed", { error: err.message });
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length) log.warn("mqtt subscriptions refused by the broker", { topics: refused.join(" ") });
      this.ready = true;
      for (const w of [...this.readyWaiters]) w();
      this.o.onConnect();
    });
  }

  private closed(): void {
    const upMs = this.upSince === undefined ? undefined : performance.now() - this.upSince;
    this.upSince = undefined;
    const wasReady = this.ready;
    this.ready = false;
    this.failWaiting("connection lost");
    if (this.stopped || this.reconnectTimer) return;
    const next = nextReconnect({ attempts: this.attempts, upMs, baseMs: this.o.reconnectBaseMs, capMs: this.o.reconnectCapMs });
    this.attempts = next.attempts;
    this.due = Date.now() + next.delayMs;
    this.attemptAt = performance.now() + next.delayMs;
    if (upMs !== undefined) this.lost(upMs, wasReady, next.delayMs);
    else log.debug("mqtt reconnect scheduled", { in_ms: next.delayMs, attempt: this.attempts });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) this.client?.reconnect();
    }, next.delayMs);
  }

  /** Say a connection was lost; twice in a row soon after connecting, say what usually does that. */
  private lost(upMs: number, wasReady: boolean, delayMs: number): void {
    this.shortLived = upMs < STABLE_MS ? this.shortLived + 1 : 0;
    const fields = { host: this.o.host, port: this.o.port, up_s: Math.round(upMs / 100) / 10, reconnect_in_ms: delayMs };
    if (this.shortLived < 2) return log[wasReady ? "warn" : "debug"]("mqtt connection lost", fields);
    log.warn(`mqtt connection dropped ${this.shortLived} times in a row within ${STABLE_MS / 1000} s of connecting: does another client use client id ${shown(this.o.clientId)}? A broker (AWS IoT too) keeps one connection per client id; give each device its own [broker] client_id`, fields);
  }

  private received(topic: string, payload: Buffer): void {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString("utf8"));
    } catch {
      return log.warn("mqtt message is not JSON; ignored", { topic });
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return;
    const b = body as Record<string, unknown>;
    const answer = /\/(accepted|rejected)$/.exec(topic);
    const w = answer && typeof b.clientToken === "string" ? this.waiting.get(b.clientToken) : undefined;
    if (answer && w) {
      this.waiting.delete(b.clientToken as string);
      clearTimeout(w.timer);
      return w.resolve({ accepted: answer[1] === "accepted", body: b });
    }
    if (!answer) this.o.onMessage(topic, b);
  }

  private failWaiting(why: string): void {
    for (const [token, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new SourceUnavailable(`MQTT ${why} before an answer came`));
      this.waiting.delete(token);
    }
  }

  private whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.stopped) return Promise.reject(new SourceUnavailable("source stopped"));
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.readyWaiters.delete(done);
        reject(new SourceUnavailable(`MQTT broker ${this.o.host}:${this.o.port} not reachable (waited ${this.o.answerTimeoutMs / 1000}s); retrying in the background`));
      }, this.o.answerTimeoutMs);
      this.readyWaiters.add(done);
    });
  }
}
