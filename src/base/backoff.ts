// Pure retry timing: exponential backoff with full jitter (downloads, reports), Retry-After.

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

/** The wait before the next try: the server's Retry-After when given (within cap), else backoff. */
export function retryDelaySeconds(n: number, base: number, cap: number, retryAfter?: number, random?: number): number {
  if (retryAfter !== undefined) return Math.min(cap, retryAfter);
  return backoffSeconds(n, base, cap, random);
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
