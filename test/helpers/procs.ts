// Looks at live processes through /proc, for tests that must prove what survived.
import { readFileSync, readdirSync } from "node:fs";

/** A boot id that is not this boot's: what a record made before a power cut names. */
export const OTHER_BOOT = "00000000-0000-4000-8000-000000000000";

interface Stat {
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
}

/** Fields of /proc/PID/stat, or undefined when the process is gone. */
export function procStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp session ..." — comm may contain spaces and parentheses.
  const [state, ppid, pgid, sid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: state!, ppid: Number(ppid), pgid: Number(pgid), sid: Number(sid) };
}

/**
 * Whether a process still runs. A zombie counts as dead: it runs no code, and in some
 * sandboxes PID 1 never reaps orphans, so `kill -0` keeps succeeding on them.
 */
export function isAlive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** Pids of the running (non-zombie) processes in a process group. */
export function groupMembers(pgid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => procStat(pid)?.pgid === pgid && isAlive(pid));
}

/**
 * Whether a process is dead, or dies within `ms`. A process that got SIGKILL runs no more
 * code, but closes its pipes a moment before /proc shows it as a zombie; this waits that out.
 */
export async function diesWithin(pid: number, ms = 5000): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (isAlive(pid)) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** A process's resident memory in KiB (VmRSS), 0 when it is gone. */
export function residentKiB(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
