// How each TUF channel's last refresh went, in STATE_DIR/tuf/channels.json: written by the
// check (daemon, --once) and before a TUF install, read by `otter status`, which can then say
// a channel is frozen without loading tuf-js. A freeze's beginning and end go to report_url
// once each (tuffreeze.ts decides when); what is not acknowledged yet stays due in the file.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import { codeOf, describe, isTransient } from "../base/errors.ts";
import { clip } from "../base/printable.ts";
import { log } from "../base/log.ts";
import { boolean, object, optional, record, shortText, time, type Check } from "../base/shape.ts";
import { loadShared } from "../base/statefile.ts";
import type { Config } from "../config/config.ts";
import { postToReportUrl } from "./reporturl.ts";
import { reportMessage, type ChannelResult } from "./source.ts";
import { afterReport, freezeReport, nextFreeze, type Freeze } from "./tuffreeze.ts";

/** How a TUF channel's last refresh went (STATE_DIR/tuf/channels.json). */
export interface ChannelHealth {
  /** ms epoch of the check */
  at: number;
  /** the refusal's code (TUF_EXPIRED: frozen), absent when the metadata verified */
  code?: string;
  message?: string;
  /** ms epoch since when the channel has been refused with this code */
  since?: number;
  /** the freeze report_url knows of (or is to learn of) */
  freeze?: Freeze;
}

const healthFile = (stateDir: string) => join(stateDir, "tuf", "channels.json");
const freezeShape: Check<Freeze> = object<Freeze>({ since: time, reported: boolean, endedAt: optional(time) });
const health: Check<Record<string, ChannelHealth>> = record(object({ at: time, code: optional(shortText), message: optional(shortText), since: optional(time), freeze: optional(freezeShape) }));

/** Each TUF channel's last refresh, as the daemon or --once left it. */
export function readChannelHealth(stateDir: string): Record<string, ChannelHealth> {
  return loadShared("TUF channel health", healthFile(stateDir), health, {});
}

function writeHealth(stateDir: string, all: Record<string, ChannelHealth>): void {
  mkdirSync(dirname(healthFile(stateDir)), { recursive: true, mode: 0o700 });
  writeFileAtomic(healthFile(stateDir), JSON.stringify(all, null, 1));
}

/**
 * Record this check's outcome for the channels it asked (the others configured keep
 * theirs); `since` is kept while the same refusal lasts, and the freeze follows tuffreeze.ts.
 */
export function recordHealth(config: Config, results: Map<string, ChannelResult>): Record<string, ChannelHealth> {
  const dir = config.service.state_dir;
  const before = readChannelHealth(dir);
  const now = Date.now();
  const next = Object.fromEntries(Object.keys(config.channels).flatMap((c) => (before[c] ? [[c, before[c]]] : []))) as Record<string, ChannelHealth>;
  for (const [name, r] of results) {
    const code = "error" in r ? codeOf(r.error) : undefined;
    const freeze = nextFreeze(before[name]?.freeze, code, now);
    if (!("error" in r)) {
      next[name] = { at: now, freeze };
      continue;
    }
    const since = before[name]?.code === code ? (before[name]!.since ?? now) : now;
    next[name] = { at: now, code, message: clip(describe(r.error), 1000, ""), since, freeze };
  }
  writeHealth(dir, next);
  return next;
}

/** Tell report_url of each freeze that began or ended and is not told yet; what fails stays due for the next check. */
export async function reportFreezes(config: Config, all: Record<string, ChannelHealth>): Promise<void> {
  let changed = false;
  for (const [channel, h] of Object.entries(all)) {
    const body = freezeReport(channel, h.freeze, h.message === undefined ? undefined : reportMessage(h.message), Date.now());
    if (!body) continue;
    log.info(`report channel ${channel}: ${body.event}`, { since: body.since });
    try {
      await postToReportUrl(config, { thing: config.broker.thing_name, ...body });
    } catch (err) {
      if (isTransient(err)) {
        log.warn(`report of channel ${channel}'s ${body.event} not delivered; sent again at the next check: ${describe(err)}`);
        continue;
      }
      log.error(`report of channel ${channel}'s ${body.event} rejected and dropped: ${describe(err)}`);
    }
    h.freeze = afterReport(h.freeze!);
    changed = true;
  }
  if (changed) writeHealth(config.service.state_dir, all);
}
