// What the agent does with one check's offers: ask the policy (decideNow), deal with the
// offers it refused, note a pending approval, and say which offer to start a job for or
// how long to wait. The agent runs the job; this decides nothing itself.
import { EXIT, type ErrorCode, type ExitCode } from "../base/errors.ts";
import { log } from "../base/log.ts";
import type { Config } from "../config/config.ts";
import type { Offer, Report } from "../sources/source.ts";
import { updateApprovals } from "../policy/approvalfile.ts";
import { notePending } from "../policy/approvals.ts";
import { verdict } from "../policy/explain.ts";
import type { Decision, Rejected, RunningImage } from "../policy/policy.ts";
import type { Journal, JobRecord } from "./journal.ts";
import { decideNow } from "./policyinput.ts";

export interface Step {
  /** start a job for this offer now */
  offer?: Offer;
  /** otherwise decide again at this time at the latest (ms epoch) */
  until?: number;
  code: ExitCode;
  /** one line for --once's stdout */
  summary: string;
}

/** The REJECTED outcome an AWS job gets for an offer the policy refused. */
export function rejection(r: Rejected): JobRecord["outcome"] {
  const [state, code] = REJECTIONS[r.rule];
  return { status: "REJECTED", state, message: r.reason, code };
}

const REJECTIONS = {
  board: ["board_mismatch", "BOARD_MISMATCH"], approval: ["denied", "DENIED"], downgrade: ["downgrade_refused", "DOWNGRADE_REFUSED"],
} as const satisfies Record<Rejected["rule"], [string, ErrorCode]>;

/**
 * Offers whose job ended here while its final report still waits in the outbox (the broker
 * was down, AWS throttled it): the source lists them until that report gets through, and
 * they are no new work. Taken again, each would end "already installed" at once and queue
 * one more report, in a loop, for as long as the first stays undelivered.
 */
export function stillReporting(outbox: readonly Report[], offers: readonly Offer[]): Set<string> {
  return new Set(offers.filter((o) => outbox.some((r) => r.jobId === o.id && r.status !== "IN_PROGRESS")).map((o) => o.id));
}

// A reflash of the version that runs (rule 1) must not stop at "already installed": force it.
function jobOffer(offer: Offer, running: RunningImage): Offer {
  const reflash = (running.workloadDied || running.readyFailed) && offer.version === running.version;
  return reflash ? { ...offer, force: true } : offer;
}

// The line explaining "nothing": the last reason that blocked something, if any.
function nothing(d: Decision): string {
  const last = [...d.reasons].reverse().find((r) => !r.allowed);
  return `nothing to do: ${last ? `${last.offerId}: ${last.text}` : d.reasons.length ? "no offer applies" : "no offers"}`;
}

export class Decider {
  private lastBoardError?: string;
  /** offers refused for their board at the last check (warned about then) */
  private boardWarned = new Set<string>();

  constructor(
    private readonly config: Config,
    private readonly journal: Journal,
    /** end an AWS job the policy refused with REJECTED (through the outbox) */
    private readonly reject: (offer: Offer, outcome: JobRecord["outcome"]) => Promise<void>,
  ) {}

  /** Decide on `offers` for the device as the journal's running image describes it. */
  async step(listed: Offer[], now: number): Promise<Step> {
    const reporting = stillReporting(this.journal.data.outbox, listed);
    for (const id of reporting) log.debug(`${id} ended here; its final report is still queued, so it is not taken again`);
    const offers = listed.filter((o) => !reporting.has(o.id));
    const { decision: d, board, running } = await decideNow(this.config, this.journal.data.running, offers, now);
    // When otter first saw the image, and its channel once an offer names it: kept for the next decisions.
    if (JSON.stringify(running) !== JSON.stringify(this.journal.data.running)) {
      this.journal.data.running = running;
      this.journal.save();
    }
    if (board.error && board.error !== this.lastBoardError) log.warn(`${board.error}; offers that name boards are refused`);
    this.lastBoardError = board.error;
    for (const r of d.reasons) log.debug(`policy: ${r.allowed ? "+" : "-"} ${r.offerId} ${r.rule}: ${r.text}`);
    // A board mismatch is why such a device never updates: a WARNING, once per offer.
    const warned = new Set<string>();
    for (const r of d.rejected) {
      if (r.rule === "board") warned.add(r.offer.id);
      const line = `refused ${r.offer.id}: ${r.reason}`;
      if (r.rule !== "board") log.info(line);
      else if (this.boardWarned.has(r.offer.id)) log.debug(line);
      else log.warn(line);
      if (r.offer.source === "aws") await this.reject(r.offer, rejection(r));
    }
    this.boardWarned = warned;
    switch (d.kind) {
      case "update":
        log.info(`policy: ${verdict(d)}`);
        return { offer: jobOffer(d.offer, running), code: EXIT.ok, summary: verdict(d) };
      case "wait":
        log.info(`policy: ${verdict(d)}`);
        // With the window closed but downloads allowed, the job runs now and waits in install.
        if (d.downloadAllowed) return { offer: d.offer, code: EXIT.ok, summary: verdict(d) };
        return { until: d.until, code: EXIT.retryLater, summary: verdict(d) };
      case "approval": {
        const after = await updateApprovals(this.config.service.state_dir, (s) => notePending(s, d, now));
        const line = `${d.offer.id} waits for approval: otter approve ${d.approvalId} (or otter deny ${d.approvalId})`;
        if (after.pendingSince[d.approvalId] === now) log.warn(line);
        else log.info(line);
        return { until: d.autoApproveAt, code: EXIT.retryLater, summary: verdict(d) };
      }
      case "nothing":
        log.info(`policy: ${nothing(d)}`);
        return { code: EXIT.ok, summary: nothing(d) };
    }
  }
}
