// When a TUF channel's freeze (its signed metadata expired) is told to report_url: once when
// it begins and once when it ends, never at each check. A check that could not tell (the
// repository unreachable, its metadata refused for another reason) neither begins nor ends
// one; only metadata that verifies ends it. A report is due until report_url acknowledged it,
// so an outage of report_url delays it to a later check, and an end whose beginning was never
// told is not told either. The bodies name no job: they are a channel's events. Pure.

/** A channel's freeze, kept in STATE_DIR/tuf/channels.json with its health. */
export interface Freeze {
  /** ms epoch of the first check that found the metadata expired */
  since: number;
  /** report_url acknowledged (or dropped) the report that it began */
  reported: boolean;
  /** ms epoch of the check that found the metadata verified again; the end is still to be told */
  endedAt?: number;
}

export const FROZEN = "TUF_EXPIRED";

/** The freeze after a check at `now` whose outcome was `code` (undefined: the metadata verified). */
export function nextFreeze(prev: Freeze | undefined, code: string | undefined, now: number): Freeze | undefined {
  if (code === FROZEN) {
    if (!prev) return { since: now, reported: false };
    // Frozen again before its end was told: the same freeze, as report_url knows it.
    return prev.endedAt === undefined ? prev : { since: prev.since, reported: true };
  }
  if (code !== undefined || !prev) return prev;
  if (!prev.reported) return undefined;
  return { ...prev, endedAt: prev.endedAt ?? now };
}

/** The freeze once its due report was acknowledged. */
export function afterReport(f: Freeze): Freeze | undefined {
  return f.endedAt === undefined ? { ...f, reported: true } : undefined;
}

/** What report_url gets now for `channel`'s freeze, if anything is due. */
export function freezeReport(channel: string, f: Freeze | undefined, message: string | undefined, now: number): Record<string, unknown> | undefined {
  if (!f) return undefined;
  const iso = (ms: number) => new Date(ms).toISOString();
  if (f.endedAt !== undefined) return { event: "channel_unfrozen", channel, since: iso(f.since), until: iso(f.endedAt), at: iso(now) };
  if (f.reported) return undefined;
  return { event: "channel_frozen", channel, code: FROZEN, message: message ?? "signed metadata expired", since: iso(f.since), at: iso(now) };
}
