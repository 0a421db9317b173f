// How each TUF channel's last refresh went, in STATE_DIR/tuf/channels.json: written by the
// check (daemon, --once), read by `otter status`, which can then say a channel is frozen
// without loading tuf-js.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import { OtterError, describe } from "../base/errors.ts";
import { object, optional, record, shortText, time, type Check } from "../base/shape.ts";
import { loadShared } from "../base/statefile.ts";
import type { ChannelResult } from "./source.ts";

/** How a TUF channel's last refresh went (STATE_DIR/tuf/channels.json). */
export interface ChannelHealth {
  /** ms epoch of the check */
  at: number;
  /** the refusal's code (TUF_EXPIRED: frozen), absent when the metadata verified */
  code?: string;
  message?: string;
  /** ms epoch since when the channel has been refused with this code */
  since?: number;
}

const healthFile = (stateDir: string) => join(stateDir, "tuf", "channels.json");
const health: Check<Record<string, ChannelHealth>> = record(object({ at: time, code: optional(shortText), message: optional(shortText), since: optional(time) }));

/** Each TUF channel's last refresh, as the daemon or --once left it. */
export function readChannelHealth(stateDir: string): Record<string, ChannelHealth> {
  return loadShared("TUF channel health", healthFile(stateDir), health, {});
}

/** Record this check's outcome per channel; `since` is kept while the same refusal lasts. */
export function recordHealth(stateDir: string, results: Map<string, ChannelResult>): void {
  const before = readChannelHealth(stateDir);
  const now = Date.now();
  const next: Record<string, ChannelHealth> = {};
  for (const [name, r] of results) {
    if (!("error" in r)) {
      next[name] = { at: now };
      continue;
    }
    const code = r.error instanceof OtterError ? r.error.code : "INTERNAL";
    const since = before[name]?.code === code ? (before[name]!.since ?? now) : now;
    next[name] = { at: now, code, message: describe(r.error).slice(0, 1000), since };
  }
  mkdirSync(dirname(healthFile(stateDir)), { recursive: true, mode: 0o700 });
  writeFileAtomic(healthFile(stateDir), JSON.stringify(next, null, 1));
}
