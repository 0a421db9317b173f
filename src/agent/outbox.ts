// Delivers the journal's outbox to the source, oldest first, one at a time, so reports
// arrive in order. A report leaves the outbox only once the source acknowledged it (or
// said the job is already terminal); transient failures retry forever, timed by the rule
// downloads use (base/backoff.ts): 1-2 s after a delivery, then backoff, Retry-After first.
import { retryDelaySeconds } from "../base/backoff.ts";
import { OtterError, StorageUnavailable, describe, isTransient } from "../base/errors.ts";
import { log } from "../base/log.ts";
import { sleep } from "../base/sleep.ts";
import type { Report, Source } from "../sources/source.ts";
import type { Journal } from "./journal.ts";

// Reports are small and a device's only voice: retried at least once a minute.
const BACKOFF_BASE_S = 2;
const BACKOFF_CAP_S = 60;

export class Outbox {
  private wakeUp = () => {};
  private backoffCut = new AbortController();
  private idle: (() => void)[] = [];
  private running?: Promise<void>;

  constructor(
    private readonly journal: Journal,
    private source: Source,
    private readonly stop: AbortSignal,
  ) {}

  /** Deliver through `source` from now on (a reloaded config's); a backoff the old one caused ends. */
  use(source: Source): void {
    this.source = source;
    this.retryNow();
  }

  /** Start the delivery loop (once). */
  start(): void {
    this.running ??= this.loop();
  }

  /** Something was queued: deliver it now. */
  kick(): void {
    this.wakeUp();
  }

  /** The upstream is reachable again (a reconnect): end any backoff and deliver now. */
  retryNow(): void {
    this.backoffCut.abort();
    this.backoffCut = new AbortController();
    this.wakeUp();
  }

  /** Wait until the outbox is empty, or ms passed; true when it is empty. */
  async drain(ms: number): Promise<boolean> {
    if (!this.journal.data.outbox.length) return true;
    this.kick();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((r) => this.idle.push(r)),
      new Promise<void>((r) => (timer = setTimeout(r, ms))),
    ]);
    clearTimeout(timer);
    return this.journal.data.outbox.length === 0;
  }

  private async loop(): Promise<void> {
    let failures = 0; // in a row, since the last delivery
    while (!this.stop.aborted) {
      const report = this.journal.data.outbox[0];
      if (!report) {
        this.idle.splice(0).forEach((r) => r());
        await new Promise<void>((r) => {
          this.wakeUp = r;
          this.stop.addEventListener("abort", () => r(), { once: true });
        });
        continue;
      }
      try {
        const delivery = await this.source.report(report);
        if (delivery === "already-terminal") log.warn(`report dropped: job ${report.jobId} is already terminal upstream`, { state: report.state });
        this.remove(report);
        failures = 0;
      } catch (err) {
        if (!isTransient(err)) {
          log.error(`report rejected and dropped: ${describe(err)}`, { job: report.jobId, state: report.state });
          this.remove(report);
          continue;
        }
        // The first failure after a delivery retries at once (1-2 s); then full-jitter backoff,
        // so a fleet coming back online does not report in lockstep.
        failures++;
        const retryAfter = err instanceof OtterError ? err.retryAfter : undefined;
        const wait = retryDelaySeconds({ progressed: failures === 1, failures: failures - 1, base: BACKOFF_BASE_S, cap: BACKOFF_CAP_S, retryAfter });
        log.warn(`report not delivered, retrying in ${wait.toFixed(1)} s: ${describe(err)}`, { job: report.jobId });
        await sleep(wait * 1000, AbortSignal.any([this.stop, this.backoffCut.signal]));
      }
    }
  }

  // Remove by identity of job and seq: a progress report may have been replaced meanwhile.
  private remove(report: Report): void {
    const box = this.journal.data.outbox;
    const i = box.findIndex((r) => r.jobId === report.jobId && r.seq === report.seq);
    if (i >= 0) box.splice(i, 1);
    try {
      this.journal.save();
    } catch (err) {
      // state_dir full or read-only: the report went out; the next save records that
      if (!(err instanceof StorageUnavailable)) throw err;
      log.warn(`report delivered, but ${describe(err)}`, { job: report.jobId });
    }
  }
}
