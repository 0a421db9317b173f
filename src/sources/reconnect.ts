// When an MQTT link tries the broker again, as a pure rule: exponential backoff with full
// jitter, random in [0, min(cap, base·2ⁿ)), so a fleet whose broker restarts comes back spread
// over seconds instead of in one burst. n counts the attempts since the last connection that
// stayed up STABLE_MS: a connection the broker drops at once (a second client with the same
// client id kicks it, a policy refuses it) backs off like a failed attempt instead of
// reconnecting in a loop, as the AWS IoT device SDKs do (30 s of connection reset the delay).
import { backoffSeconds } from "../base/backoff.ts";

/** A connection up this long counts as healthy: the next loss starts the backoff afresh. */
export const STABLE_MS = 30_000;

export interface ReconnectInput {
  /** attempts since the last stable connection, before this one */
  attempts: number;
  /** how long the connection that just ended was up; undefined when the attempt failed */
  upMs?: number;
  baseMs: number;
  capMs: number;
  random?: number;
}

/** The wait before the next attempt, and the attempts count that goes with it. */
export function nextReconnect(r: ReconnectInput): { attempts: number; delayMs: number } {
  const attempts = r.upMs !== undefined && r.upMs >= STABLE_MS ? 0 : r.attempts;
  // backoffSeconds is unit-free: milliseconds in, milliseconds out.
  return { attempts: attempts + 1, delayMs: Math.floor(backoffSeconds(attempts, r.baseMs, r.capMs, r.random)) };
}
