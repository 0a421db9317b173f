// Pure retry timing, one rule for downloads, manifests and report deliveries:
// - the server's Retry-After wins (up to the cap);
// - after an attempt that made progress, retry almost at once: QUICK_RETRY_S plus up to as
//   much jitter (1–2 s), so a dropped connection costs seconds, not half a backoff;
// - attempts without progress in a row back off exponentially with full jitter up to the cap.

/** The first retry after progress: this many seconds plus up to as much jitter. */
export const QUICK_RETRY_S = 1;

/** Seconds to wait before retry number `n` (0-based): random in [0, min(cap, base·2ⁿ)). */
export function backoffSeconds(n: number, base: number, cap: number, random: number = Math.random()): number {
  return random * Math.min(cap, base * 2 ** Math.min(n, 52));
}

/** Seconds a Retry-After header asks for (delta-seconds or HTTP-date), undefined if absent or bad. */
export function retryAfterSeconds(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - nowMs) / 1000);
}

export interface RetryInput {
  /** the failed attempt moved things on (bytes of the file, a delivered report) */
  progressed: boolean;
  /** failed attempts without progress in a row, this one included (0 when progressed) */
  failures: number;
  base: number;
  cap: number;
  /** seconds, from the server's Retry-After */
  retryAfter?: number;
  random?: number;
}

/** The wait in seconds before the next attempt (see the rule above). */
export function retryDelaySeconds(r: RetryInput): number {
  const random = r.random ?? Math.random();
  if (r.retryAfter !== undefined) return Math.min(r.cap, r.retryAfter);
  if (r.progressed) return Math.min(r.cap, QUICK_RETRY_S * (1 + random));
  return backoffSeconds(Math.max(0, r.failures - 1), r.base, r.cap, random);
}

/** Parse "bytes START-END/TOTAL" (TOTAL may be "*"). */
export function parseContentRange(value: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value?.trim() ?? "");
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return undefined;
  return { start, end, total: m[3] === "*" ? undefined : Number(m[3]) };
}
