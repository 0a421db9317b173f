// "Is otter still moving?", for systemd's watchdog. Each piece of work says how long it may
// go before its next sign of progress: a sleep until it ends, a hook until its timeout, a
// download until bytes arrive again, a retry until its wait is over. A grace of one watchdog
// period is added to every bound. The watchdog is pinged only while no piece is past its
// bound, so an otter wedged on something its own timeouts did not end is restarted by
// systemd, and one that is merely slow (a long install, a sleep of hours) is not.

/** One piece of work: what it is, since when and by when (monotonic ms) it must show progress again. */
export interface Work {
  what: string;
  since: number;
  /** undefined: it moves as long as the event loop turns (the watchdog timer fires at all) */
  until?: number;
}

/** Why `work` counts as stuck at `now` (past its bound), or undefined while it moves. */
export function overdue(work: Work, now: number): string | undefined {
  if (work.until === undefined || now <= work.until) return undefined;
  return `${work.what}: no progress for ${Math.round((now - work.since) / 1000)} s`;
}

/** What the job's pipeline tells the watchdog (passed down to states and hooks). */
export interface Expect {
  /** `what` starts now and shows progress again within `withinMs` (none: while the event loop turns) */
  (what: string, withinMs?: number): void;
}

export class Liveness {
  private current: Work;
  private readonly others: (() => string | undefined)[] = [];

  constructor(
    /** the watchdog period (WATCHDOG_USEC), added to every bound as grace */
    private readonly graceMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.current = { what: "starting", since: clock() };
  }

  /** The agent's main work is now `what` (see Expect). */
  readonly doing: Expect = (what, withinMs) => {
    const now = this.clock();
    this.current = { what, since: now, until: withinMs === undefined ? undefined : now + withinMs + this.graceMs };
  };

  /** Also watch something beside the main work that can say why it is stuck (the source's link). */
  watch(check: () => string | undefined): void {
    this.others.push(check);
  }

  /** Why otter is stuck now, or undefined while everything moves. */
  stuck(): string | undefined {
    return overdue(this.current, this.clock()) ?? this.others.map((check) => check()).find((why) => why !== undefined);
  }
}
