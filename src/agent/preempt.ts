// A higher-priority offer that arrives while a lower one is still before install preempts
// it (the weekly updater's rule: a higher-priority image always overrides a lower-priority
// run); once install has started the job finishes. While a channel's job runs, the sources
// are asked every check_interval and the policy decides as it would between jobs.
import { Superseded } from "../base/errors.ts";
import { log } from "../base/log.ts";
import { sleep } from "../base/sleep.ts";
import type { Config } from "../config/config.ts";
import type { Offer, Source } from "../sources/source.ts";
import { rank, type Decision } from "../policy/policy.ts";
import type { Journal } from "./journal.ts";
import { cancellable } from "./pipeline.ts";
import { decideNow } from "./policyinput.ts";

/** The offer that should replace the job's, if the decision picks one of a higher-priority channel to start now. */
export function preempting(policy: Config["policy"], job: Offer, d: Decision): Offer | undefined {
  const startsNow = d.kind === "update" || (d.kind === "wait" && d.downloadAllowed);
  if (!startsNow || d.offer.id === job.id || job.channel === undefined || d.offer.channel === undefined) return undefined;
  return rank(policy, d.offer.channel) < rank(policy, job.channel) ? d.offer : undefined;
}

export interface Watch {
  config: Config;
  journal: Journal;
  source: Source;
  /** ends the watch (the job ended) */
  signal: AbortSignal;
  /** the first check after this long (0 for a job found in the journal: offers may have changed while otter was down) */
  firstMs: number;
  /** stop the job, saying why */
  preempt(reason: Superseded): void;
}

/** Ask the sources every check_interval while the job may still be stopped; preempt it once a higher-priority offer is chosen. */
export async function watchForBetter(w: Watch): Promise<void> {
  for (let wait = w.firstMs; ; wait = w.config.service.check_interval * 1000) {
    await sleep(wait, w.signal);
    const job = w.journal.data.job;
    if (w.signal.aborted || !job || !cancellable(job.state)) return;
    try {
      const offers = await w.source.check();
      const { decision } = await decideNow(w.config, w.journal.data.running, offers, Date.now());
      if (w.signal.aborted || !cancellable(job.state)) return;
      const better = preempting(w.config.policy, job.offer, decision);
      if (!better) continue;
      const why = `${job.offer.id} superseded by ${better.id} (${better.channel} ranks above ${job.offer.channel}) during ${job.state}; nothing was installed`;
      w.preempt(new Superseded(why));
      return;
    } catch (err) {
      log.debug(`check during ${job.offer.id} failed; the job goes on`, { error: String(err) });
    }
  }
}
