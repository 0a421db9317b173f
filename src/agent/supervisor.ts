// The daemon's side of the supervised workload ([policy] workload): start it when the
// running image is good, journal its process so a SIGKILLed otter's leftover group is
// ended before a new start, stop it before an install, and on its own death log it at
// WARNING, record it in the history and open policy rule 1 (running.workloadDied).
import { log } from "../base/log.ts";
import { identify, stillRunning, stopGroup } from "../base/proc.ts";
import type { Config } from "../config/config.ts";
import { appendHistory } from "./history.ts";
import type { Journal } from "./journal.ts";
import { startWorkload, type Workload, type WorkloadExit } from "./workload.ts";

// States in which an install has begun: the old image may be half replaced, no workload runs.
const INSTALLING = new Set(["restart", "confirmVersion", "ready", "rollback"]);

function how(exit: WorkloadExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

export class Supervisor {
  private current?: Workload;

  constructor(
    private config: Config,
    private readonly journal: Journal,
    /** called after the workload died on its own: check for a reflash at once */
    private readonly died: () => void,
  ) {}

  private get graceMs(): number {
    return this.config.hooks.kill_grace * 1000;
  }

  /** Whether the job in the journal has begun installing (then nothing is started). */
  private installing(): boolean {
    const job = this.journal.data.job;
    return !!job && (INSTALLING.has(job.state) || (job.state === "install" && job.hooks.install !== undefined));
  }

  /** Start the workload if it should run and does not: configured, wanted, not dead, no install under way. */
  async ensure(): Promise<void> {
    const command = this.config.policy.workload;
    const running = this.journal.data.running;
    if (!command || this.current || !running.workloadRunning || running.workloadDied || this.installing()) return;
    await this.endLeftover();
    const w = startWorkload(command, (exit) => this.onDeath(w, exit), { graceMs: this.graceMs });
    this.current = w;
    running.workloadProcess = identify(w.pid);
    this.journal.save();
    log.info(`workload started (pid ${w.pid}): ${command}`);
  }

  /** End the group a SIGKILLed otter left behind: only that very process (same boot, same start time). */
  private async endLeftover(): Promise<void> {
    const left = this.journal.data.running.workloadProcess;
    if (!left) return;
    if (stillRunning(left)) {
      log.warn(`ending the workload left running by an otter that was killed (pid ${left.pid})`);
      await stopGroup(left.pid, this.graceMs);
    }
    delete this.journal.data.running.workloadProcess;
    this.journal.save();
  }

  /** A reloaded config: a changed workload command restarts the workload (ensure() starts the new one). */
  async reconfigure(config: Config): Promise<void> {
    const changed = config.policy.workload !== this.config.policy.workload;
    if (changed && this.current) await this.stop(true);
    this.config = config;
  }

  /** Stop the workload (before an install, or when otter stops); `wanted` says whether it should run again. */
  async stop(wanted: boolean): Promise<void> {
    const w = this.current;
    const running = this.journal.data.running;
    if (w) {
      log.info(`stopping the workload (pid ${w.pid})`);
      await w.stop();
      this.current = undefined;
    } else await this.endLeftover();
    delete running.workloadProcess;
    if (!wanted) running.workloadRunning = false;
    this.journal.save();
  }

  private onDeath(w: Workload, exit: WorkloadExit): void {
    if (this.current !== w) return;
    this.current = undefined;
    const running = this.journal.data.running;
    const message = `the workload of version ${running.version ?? "unknown"} ${how(exit)}`;
    log.warn(`${message}; an update may now replace it at once (policy rule 1)`);
    Object.assign(running, { workloadDied: true, workloadRunning: false });
    delete running.workloadProcess;
    this.journal.save();
    const at = new Date().toISOString();
    appendHistory(this.config.service.state_dir, {
      id: `workload:${running.version ?? "unknown"}:${at}`, version: running.version ?? "unknown", channel: running.channel,
      status: "DIED", state: "workload_died", message, startedAt: at, endedAt: at,
    }, this.config.service.history_size);
    this.died();
  }
}
