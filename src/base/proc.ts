// Processes and process groups otter starts (hooks, the workload): their identity across
// otter restarts (a pid alone may be reused, after a reboot surely, so a pid is only "the
// same process" with the same boot id and start time), and ending a whole group.
import { readdirSync, readFileSync } from "node:fs";
import { sleep } from "./sleep.ts";

export interface ProcessId {
  pid: number;
  /** process start time, clock ticks since boot (field 22 of /proc/PID/stat) */
  startTicks: string;
  bootId: string;
}

/** The start time of a live process, or undefined when there is none (zombies count as gone). */
export function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" that ends the (possibly spaced) command name: state is first, start time 20th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

let boot: string | undefined;

/** This boot's id ("" where /proc does not say). Read once: it cannot change while otter runs,
 * and each download checkpoint records it. */
export function bootId(): string {
  if (boot === undefined) {
    try {
      boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      boot = "";
    }
  }
  return boot;
}

export function identify(pid: number): ProcessId {
  return { pid, startTicks: startTicks(pid) ?? "", bootId: bootId() };
}

/** Whether the process recorded in `id` is still the one running under that pid. */
export function stillRunning(id: ProcessId): boolean {
  return id.bootId === bootId() && startTicks(id.pid) === id.startTicks;
}

/**
 * Whether a process of the group still runs. Zombies do not count: an init that reaps
 * orphans slowly (or never, in some sandboxes) must not make every stop wait out its grace.
 */
export function groupRunning(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // it exited while we looked
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") return true;
  }
  return false;
}

/** Signal every process in a group; false when no process is left in it. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

const POLL_MS = 50;
const KILL_WAIT_MS = 5000;

// Wait until no process of the group runs, or ms have passed; true when none does.
async function groupGone(pgid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += POLL_MS) {
    if (!groupRunning(pgid)) return true;
    await sleep(POLL_MS);
  }
  return !groupRunning(pgid);
}

/** TERM a process group, then KILL what is left after graceMs (also for an orphaned group).
 *  Resolves once no process of it runs: a killed process holds its files and locks until
 *  it has exited, which under load can be well after the kill() (waits 5 s at most). */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, "SIGTERM")) return;
  if (await groupGone(pgid, graceMs)) return;
  signalGroup(pgid, "SIGKILL");
  await groupGone(pgid, KILL_WAIT_MS);
}
