// Durations otter measures itself (a hook's ELAPSED, progress and checkpoint spacing, stall
// windows) run on the monotonic clock, so a step of the wall clock (NTP correcting a device
// that booted with a wrong time, `date -s`) changes none of them. A Span keeps one duration
// across restarts in the journal: within a boot it runs from its monotonic origin; after a
// reboot it goes on from what had elapsed when it was last read, so the time the device was
// off is not counted and the span never goes back.
import { readFileSync } from "node:fs";
import { bootId } from "./proc.ts";

let origin: { uptime: number; perf: number } | undefined;

/**
 * Whole ms since boot, never stepped: /proc/uptime (the kernel's count, read once per
 * process) plus the process's own monotonic clock since. Bun's process.hrtime starts at
 * the process's start, so it cannot carry a span from one otter to the next.
 */
export function monotonicMs(): number {
  origin ??= { uptime: uptimeMs(), perf: performance.now() };
  return Math.floor(origin.uptime + (performance.now() - origin.perf));
}

function uptimeMs(): number {
  try {
    return Math.round(parseFloat(readFileSync("/proc/uptime", "utf8")) * 1000);
  } catch {
    return 0; // no /proc: spans then restart with each process, never going back
  }
}

/** A duration that survives restarts; plain data, kept in the journal. */
export interface Span {
  /** the boot `origin` belongs to */
  boot: string;
  /** monotonic ms at which the span would have begun had it run in this boot only */
  origin: number;
  /** ms elapsed when last read */
  elapsed: number;
}

/** A span that has run `elapsed` ms so far. */
export function startSpan(elapsed = 0): Span {
  return { boot: bootId(), origin: monotonicMs() - elapsed, elapsed };
}

/** ms the span has run; brings it into this boot and records the reading (journal it after). */
export function readSpan(span: Span): number {
  if (span.boot !== bootId()) Object.assign(span, startSpan(span.elapsed));
  span.elapsed = Math.max(span.elapsed, monotonicMs() - span.origin);
  return span.elapsed;
}
