// otter as a Type=notify service (examples/systemd/otter.service): READY=1 once the config
// is read, the journal open and the source started; STATUS= one line on each change (idle,
// the job's phase and progress, what it waits for); STOPPING=1 on SIGTERM; RELOADING=1 then
// READY=1 around a SIGHUP; WATCHDOG=1 every WATCHDOG_USEC/2, but only while
// agent/liveness.ts says otter moves. Without NOTIFY_SOCKET nothing is sent.
import { log } from "../base/log.ts";
import { openNotifier, type Notifier } from "../base/notify.ts";
import { oneLine } from "../base/sdnotify.ts";
import { sleep } from "../base/sleep.ts";
import type { Config } from "../config/config.ts";
import { formatBytes, type ProgressBar } from "../transfer/progress.ts";
import type { JobRecord } from "./journal.ts";
import { Liveness } from "./liveness.ts";

const FLUSH_MS = 2000;

/** "1.2.0 (release:1.2.0:9f86d081884c)": the job in a status line. */
function jobName(job: JobRecord): string {
  return `${job.offer.version} (${job.offer.id})`;
}

export class SystemdService {
  readonly liveness: Liveness;
  private line = "";
  private timer?: ReturnType<typeof setInterval>;
  /** the last ping was held back (logged once, not at every tick) */
  private withheld = false;

  private constructor(private readonly notifier?: Notifier) {
    const ping = notifier?.watchdogMs;
    this.liveness = new Liveness(ping ? 2 * ping : 0);
  }

  /** The service for the socket systemd gave (or a silent one). */
  static async open(): Promise<SystemdService> {
    return new SystemdService(await openNotifier());
  }

  /** Started: the config read, the journal open, the source started. */
  ready(): void {
    this.notifier?.send({ READY: "1", STATUS: this.line || "started" });
    const ping = this.notifier?.watchdogMs;
    if (ping && !this.timer) {
      this.ping();
      this.timer = setInterval(() => this.ping(), ping);
      this.timer.unref?.();
    }
  }

  /** What otter does now, for `systemctl status`; sent only when it changed. */
  status(line: string): void {
    const text = oneLine(line);
    if (text === this.line) return;
    this.line = text;
    this.notifier?.send({ STATUS: text });
  }

  /** SIGTERM or SIGINT: otter is stopping (no more pings: systemd now times the stop). */
  stopping(): void {
    this.stopPings();
    this.line = "stopping";
    this.notifier?.send({ STOPPING: "1", STATUS: "stopping" });
  }

  /** SIGHUP received: the config is being read again. MONOTONIC_USEC is what Type=notify-reload (systemd 253) asks for. */
  reloading(): void {
    const usec = process.hrtime.bigint() / 1000n;
    this.notifier?.send({ RELOADING: "1", MONOTONIC_USEC: String(usec) });
  }

  /** The reload is done (applied, waiting for the job to end, or refused): `line` says which. */
  reloaded(line: string): void {
    this.line = oneLine(line);
    this.notifier?.send({ READY: "1", STATUS: this.line });
  }

  /** The job entered its current state. A download shows its first byte within connect_timeout + stall_timeout. */
  jobState(job: JobRecord, config: Config): void {
    this.status(`updating to ${jobName(job)}: ${job.state}`);
    const d = config.download;
    this.liveness.doing(job.state, job.state === "download" ? (d.connect_timeout + d.stall_timeout) * 1000 : undefined);
  }

  /** The job's download progress: the status line shows it, and growing bytes are the download's sign of life. */
  downloadProgress(job: JobRecord, bar?: ProgressBar): ProgressBar {
    let bytes = -1;
    return {
      update: (p) => {
        bar?.update(p);
        if (p.bytes > bytes) this.liveness.doing("download", 0);
        bytes = p.bytes;
        const of = p.total ? `${Math.floor((100 * p.bytes) / p.total)}% of ${formatBytes(p.total)}` : formatBytes(p.bytes);
        this.status(`updating to ${jobName(job)}: download ${of}`);
      },
      done: () => bar?.done(),
    };
  }

  /** otter ends: no more pings, and what was sent is out (STOPPING=1 before the exit), 2 s at most. */
  async close(): Promise<void> {
    this.stopPings();
    const done = new AbortController();
    await Promise.race([this.notifier?.flush(), sleep(FLUSH_MS, done.signal)]);
    done.abort();
  }

  private stopPings(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private ping(): void {
    const why = this.liveness.stuck();
    if (why === undefined) {
      if (this.withheld) log.info("watchdog: otter moves again; pinging systemd");
      this.withheld = false;
      this.notifier!.send({ WATCHDOG: "1" });
      return;
    }
    // systemd kills and restarts otter one watchdog period after the last ping; say why first.
    if (!this.withheld) log.warn(`watchdog: not telling systemd otter is alive: ${why}`);
    this.withheld = true;
  }
}
