// The update policy: which offer, if any, replaces the running image, and why. Pure: the
// journal's view of the device, the offers, the clock and the config come in as values.
//
// Order of the checks, each leaving a Reason per offer it allowed or blocked:
//   board    offer.boards given and this board not in it (or unknown) → rejected, never downloaded
//   denied   an id given to `otter deny` is never chosen, approvals on or off → rejected
//   failed   an offer id that failed on this device before is not taken again
//   downgrade anti-rollback: never older than the running version, nor than the newest
//            accepted from the offer's channel, unless an operator forced it (an AWS job
//            with force; `otter install` has no policy) or allow_downgrade is set
//   rules    explicit offers (no channel: AWS jobs, `otter install`) pass; otherwise
//            nothing installed → any; 1 workload died / ready failed → any (at most
//            max_reflashes times in a row, then the other rules);
//            "newer" (or force) required, then 2 test_period, 3 priority / same_channel.
//            Unknown is the safe side: an image of unknown install time soaks from when
//            otter first saw it (meet()), one of unknown channel ranks above every channel.
//   choice   explicit offers first (source order), then highest priority, then newest
//   min_soak rules 2–3 wait until the running image has run min_soak
//   approval with approvals on, the chosen offer waits for its id to be approved
//   window   outside the window the install waits for it to open (download maybe allowed)
import { createHash } from "node:crypto";
import type { ProcessId } from "../base/proc.ts";
import type { Config } from "../config/config.ts";
import { parseWindow } from "../config/window.ts";
import type { Offer } from "../sources/source.ts";
import { compareVersions } from "./version.ts";
import { describeOpen, isOpen, nextOpen } from "./window.ts";

export { compareVersions };
/** The image the device runs, as far as otter knows (the journal keeps it as `running`). */
export interface RunningImage {
  version?: string;
  channel?: string;
  /** ms epoch of its install by otter (its ready check passed) */
  installedAt?: number;
  /**
   * ms epoch otter first saw this image, when it does not know its install time (a device
   * migrated from Upparat, a journal moved aside): soak and test period count from here.
   */
  seenAt?: number;
  /** the ready check of the last install failed (policy rule 1) */
  readyFailed?: boolean;
  /** the supervised workload died on its own (policy rule 1) */
  workloadDied?: boolean;
  /** installs in a row that rule 1 allowed (a reflash after a death); policy.max_reflashes bounds them */
  reflashes?: number;
  /** channel → the newest version this device accepted from it (installed, ready passed): anti-rollback's floor */
  accepted?: Record<string, string>;
  /** the workload should run: started after a good ready, restarted when otter restarts */
  workloadRunning?: boolean;
  /** the workload's /bin/sh leader (= its process group), to end a group a killed otter left */
  workloadProcess?: ProcessId;
}

/** Approval ids as `otter approve/deny` left them in state_dir/approvals.json. */
export interface ApprovalState {
  approved: string[];
  denied: string[];
  /** approval id → ms when it first became pending */
  pendingSince: Record<string, number>;
}

export interface PolicyInput {
  running: RunningImage;
  offers: Offer[];
  /** ms epoch */
  now: number;
  policy: Config["policy"];
  /** this device's board, when known */
  board?: string;
  approvals: ApprovalState;
  /** offer id → how it ended here before (history); such an offer is not taken again */
  failed?: Record<string, string>;
}

export type Rule =
  | "board" | "failed" | "downgrade" | "explicit" | "newer" | "workload" | "test_period" | "priority" | "same_channel"
  | "choice" | "min_soak" | "approval" | "window";

export interface Reason {
  offerId: string;
  rule: Rule;
  allowed: boolean;
  /** one human sentence */
  text: string;
}

/** An offer refused for good: the pipeline REJECTS it (AWS job) and never downloads it. */
export interface Rejected {
  offer: Offer;
  rule: "board" | "approval" | "downgrade";
  reason: string;
}

interface Explained {
  reasons: Reason[];
  rejected: Rejected[];
}

export type Decision =
  | (Explained & { kind: "update"; offer: Offer })
  | (Explained & {
      kind: "wait";
      offer: Offer;
      /** ms epoch to decide again */
      until: number;
      waitingFor: "min_soak" | "window";
      /** the file may be fetched now and installed at `until` (window + download_outside_window) */
      downloadAllowed: boolean;
    })
  | (Explained & { kind: "approval"; offer: Offer; approvalId: string; autoApproveAt?: number })
  | (Explained & { kind: "nothing" });

/**
 * The short id `otter approve` takes: 8 hex of sha256(channel, version, digest). Without a
 * digest the offer id stands in (an AWS job id), never the URL, which is re-signed per check.
 */
export function approvalId(offer: Offer): string {
  const digest = offer.sha256 ?? offer.id;
  return createHash("sha256").update(`${offer.channel ?? ""}\0${offer.version}\0${digest}`).digest("hex").slice(0, 8);
}

/** "45m", "10h 30m", "30h", "3d 2h", "7d": durations in reasons (hours up to 72). */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 72) return minutes % 60 ? `${hours}h ${minutes % 60}m` : `${hours}h`;
  return hours % 24 ? `${Math.floor(hours / 24)}d ${hours % 24}h` : `${hours / 24}d`;
}

/** ms epoch as "2026-11-25T08:00Z" (UTC). */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/:\d\d\.\d+Z$/, "Z");
}

/**
 * What the journal records as the running image once `offer` has installed and passed ready;
 * `before` is the image it replaced, whose anti-rollback floors carry over (raised for the
 * offer's channel, never lowered).
 */
export function installed(offer: Offer, now: number, before: RunningImage = {}): RunningImage {
  const accepted = { ...before.accepted };
  const floor = offer.channel === undefined ? undefined : accepted[offer.channel];
  if (offer.channel !== undefined && (floor === undefined || compareVersions(offer.version, floor) > 0)) accepted[offer.channel] = offer.version;
  return { version: offer.version, channel: offer.channel, installedAt: now, ...(Object.keys(accepted).length ? { accepted } : {}) };
}

/**
 * The version hook says the device runs `version`. When that is not the image the journal
 * knows (it was changed outside otter, or otter never knew it), what the journal knew of the
 * old image goes; only the supervised workload's bookkeeping stays. Empty: nothing installed.
 */
export function sighted(r: RunningImage, version: string): RunningImage {
  if (!version || r.version === version) return r;
  const { workloadRunning, workloadProcess, accepted } = r;
  return { version, ...(workloadRunning === undefined ? {} : { workloadRunning }), ...(workloadProcess ? { workloadProcess } : {}), ...(accepted ? { accepted } : {}) };
}

/**
 * The running image as the policy counts it at `now`, for the agent to journal: an unknown
 * install time counts from the first time otter sees the image (seenAt); an install time
 * in the future (the wall clock stepped back) counts as now, so a step back delays an
 * update by at most the soak, not by the step; an image of unknown channel takes the
 * highest-priority channel offering its very version. Pure.
 */
export function meet(r: RunningImage, offers: Offer[], now: number, policy: Config["policy"]): RunningImage {
  if (r.version === undefined) return r;
  const met = { ...r };
  if (met.installedAt === undefined) met.seenAt = Math.min(met.seenAt ?? now, now);
  else if (met.installedAt > now) met.installedAt = now;
  if (met.channel === undefined) {
    const same = offers.filter((o) => o.channel !== undefined && o.version === r.version);
    met.channel = same.sort((a, b) => rank(policy, a.channel) - rank(policy, b.channel))[0]?.channel;
    if (met.channel === undefined) delete met.channel;
  }
  return met;
}

// When the running image's soak and test period started: its install time, else when otter
// first saw it; never later than now.
function sinceOf(r: RunningImage, now: number): number {
  return Math.min(r.installedAt ?? r.seenAt ?? now, now);
}

// "the running release 1.0 has run 10h" (+ why it counts from when otter first saw it).
function ranFor(r: RunningImage, now: number): string {
  const unknown = r.installedAt === undefined ? " since otter first saw it (its install time is unknown)" : "";
  return `${runningLabel(r)} has run ${formatDuration(now - sinceOf(r, now))}${unknown}`;
}

function label(offer: Offer): string {
  return offer.channel ? `${offer.channel} ${offer.version}` : offer.version;
}

function runningLabel(r: RunningImage): string {
  return r.channel ? `the running ${r.channel} ${r.version}` : `the running ${r.version}`;
}

// The collector every step writes its reasons into.
class Explain {
  reasons: Reason[] = [];
  rejected: Rejected[] = [];
  say(offer: Offer, rule: Rule, allowed: boolean, text: string): boolean {
    this.reasons.push({ offerId: offer.id, rule, allowed, text });
    return allowed;
  }
  reject(offer: Offer, rule: Rejected["rule"], text: string): false {
    this.rejected.push({ offer, rule, reason: text });
    return this.say(offer, rule, false, text) as false;
  }
}

// Board filter: an offer that names boards must name this one.
function boardFits(offer: Offer, board: string | undefined, ex: Explain): boolean {
  if (!offer.boards?.length) return true;
  const list = offer.boards.join(", ");
  if (board === undefined) return ex.reject(offer, "board", `${label(offer)} is for boards ${list} and this device's board is unknown; set [policy] board`);
  if (!offer.boards.includes(board)) return ex.reject(offer, "board", `${label(offer)} is for boards ${list}, not this device's ${board}`);
  return ex.say(offer, "board", true, `${label(offer)} is for this device's board ${board}`);
}

// Anti-rollback: an offer older than the running version, or than the newest version this
// device accepted from the offer's channel, never installs unless an operator forced it: an
// AWS job with force (one without is REJECTED), or [policy] allow_downgrade. A manifest's or
// a TUF target's own `force` is the publisher's word, not the operator's: it reinstalls the
// same version, never an older one.
function notDowngrade(offer: Offer, input: PolicyInput, ex: Explain): boolean {
  const { running: r, policy: p } = input;
  const operator = offer.channel === undefined && offer.force;
  const floors: [string, string][] = [];
  if (r.version !== undefined && compareVersions(offer.version, r.version) < 0) floors.push([r.version, runningLabel(r)]);
  const accepted = offer.channel === undefined ? undefined : r.accepted?.[offer.channel];
  if (accepted !== undefined && compareVersions(offer.version, accepted) < 0) floors.push([accepted, `${offer.channel} ${accepted}, the newest this device accepted from ${offer.channel}`]);
  if (!floors.length) return true;
  const older = `${label(offer)} is older than ${floors.map(([, what]) => what).join(" and ")}`;
  if (operator) return ex.say(offer, "downgrade", true, `${older}, but an operator forced it`);
  if (p.allow_downgrade) return ex.say(offer, "downgrade", true, `${older}; [policy] allow_downgrade = true lets it install`);
  const text = `${older}: anti-rollback refuses it (an operator may force it: otter install, an AWS job with force, or [policy] allow_downgrade = true)`;
  return offer.channel === undefined ? ex.reject(offer, "downgrade", text) : ex.say(offer, "downgrade", false, text);
}

// Rank of a channel, 0 the highest: its index in priority, unlisted ones below all. An
// unknown channel (the running image's, until an offer of its version names one) ranks
// above all: unknown is the safe side.
export function rank(policy: Config["policy"], channel: string | undefined): number {
  if (channel === undefined) return -1;
  const i = policy.priority.indexOf(channel);
  return i < 0 ? policy.priority.length : i;
}

interface Allowed {
  offer: Offer;
  /** rules 2–3: waits for min_soak */
  soaks: boolean;
}

// Rules 1–3 for one offer; undefined when they block it.
function allowedByRules(offer: Offer, input: PolicyInput, ex: Explain): Allowed | undefined {
  const { running: r, policy: p } = input;
  const free = { offer, soaks: false };
  if (!offer.channel) return ex.say(offer, "explicit", true, `${label(offer)} has no channel: an operator's command, so soak and priority do not apply`) ? free : undefined;
  if (r.version === undefined) return ex.say(offer, "newer", true, `nothing is installed yet, so ${label(offer)} may install`) ? free : undefined;
  if (r.workloadDied || r.readyFailed) {
    const what = r.workloadDied ? "workload died" : "ready check failed";
    const done = r.reflashes ?? 0;
    if (done < p.max_reflashes) return ex.say(offer, "workload", true, `${runningLabel(r)}'s ${what}, so ${label(offer)} may install now`) ? free : undefined;
    ex.say(offer, "workload", false, `${runningLabel(r)}'s ${what} after ${done} reflashes in a row (max_reflashes ${p.max_reflashes}); only the other rules may replace it`);
  }
  const cmp = compareVersions(offer.version, r.version);
  if (cmp <= 0 && !offer.force) return void ex.say(offer, "newer", false, `${label(offer)} is not newer than ${runningLabel(r)}`);
  ex.say(offer, "newer", true, cmp > 0 ? `${label(offer)} is newer than ${runningLabel(r)}` : `${label(offer)} is not newer than ${runningLabel(r)} but the offer is forced`);
  const soaking = { offer, soaks: true };
  const age = input.now - sinceOf(r, input.now);
  const period = p.test_period * 1000;
  if (age >= period) {
    return ex.say(offer, "test_period", true, `${ranFor(r, input.now)}, past test_period ${formatDuration(period)}; any newer offer may replace it`) ? soaking : undefined;
  }
  const left = `test_period ends in ${formatDuration(period - age)}`;
  const [mine, theirs] = [rank(p, offer.channel), rank(p, r.channel)];
  if (mine < theirs) return ex.say(offer, "priority", true, `${offer.channel} ranks above ${r.channel}, so it may override before test_period`) ? soaking : undefined;
  if (r.channel === undefined) {
    return void ex.say(offer, "priority", false, `${runningLabel(r)} is of unknown channel, which ranks above every channel until a channel offers version ${r.version}; ${offer.channel} waits for the test period (${left})`);
  }
  if (mine > theirs) return void ex.say(offer, "priority", false, `${offer.channel} ranks below ${r.channel}; it waits for the test period (${left})`);
  if (offer.channel !== r.channel) return void ex.say(offer, "priority", false, `${offer.channel} and ${r.channel} rank the same (both unlisted); neither overrides the other before test_period (${left})`);
  if (p.new_overrides_old.includes(offer.channel)) return ex.say(offer, "same_channel", true, `${offer.channel} is in new_overrides_old, so a newer ${offer.channel} may replace it`) ? soaking : undefined;
  return void ex.say(offer, "same_channel", false, `a newer ${offer.channel} does not replace ${runningLabel(r)} before test_period (${left}); list ${offer.channel} in new_overrides_old to allow it`);
}

// Explicit offers first (source order), then highest priority, then newest.
function order(policy: Config["policy"], a: Allowed, b: Allowed): number {
  const ea = a.offer.channel === undefined;
  const eb = b.offer.channel === undefined;
  if (ea || eb) return ea === eb ? 0 : ea ? -1 : 1;
  return rank(policy, a.offer.channel) - rank(policy, b.offer.channel) || compareVersions(b.offer.version, a.offer.version);
}

// Approved by hand, or automatically after auto_approve_after; else when it would be.
function approval(offer: Offer, input: PolicyInput, ex: Explain): { approved: boolean; id: string; autoAt?: number } {
  const id = approvalId(offer);
  if (input.approvals.approved.includes(id)) return { approved: ex.say(offer, "approval", true, `${id} was approved`), id };
  const after = input.policy.auto_approve_after;
  // A pending time in the future (the wall clock stepped back) counts as now.
  const since = Math.min(input.approvals.pendingSince[id] ?? input.now, input.now);
  const autoAt = after === undefined ? undefined : since + after * 1000;
  if (autoAt !== undefined && input.now >= autoAt) {
    return { approved: ex.say(offer, "approval", true, `${id} was auto-approved: pending for auto_approve_after ${formatDuration(after! * 1000)} without a deny`), id };
  }
  const auto = autoAt === undefined ? "" : `; auto-approved at ${formatTime(autoAt)} unless denied`;
  ex.say(offer, "approval", false, `${label(offer)} waits for \`otter approve ${id}\` (or \`otter deny ${id}\`)${auto}`);
  return { approved: false, id, autoAt };
}

type Without<K extends Decision["kind"]> = Omit<Extract<Decision, { kind: K }>, keyof Explained>;
/** What holds the chosen offer back, if anything. */
type Hold = Without<"wait"> | Without<"approval">;

// Rule 4: what rules 2–3 allowed waits until the running image has run min_soak.
function soakHold(chosen: Allowed, input: PolicyInput, ex: Explain): Hold | undefined {
  const { running: r, policy: p, now } = input;
  if (!chosen.soaks) return undefined;
  const until = sinceOf(r, now) + p.min_soak * 1000;
  if (now >= until) return void ex.say(chosen.offer, "min_soak", true, `${ranFor(r, now)}, at least min_soak ${formatDuration(p.min_soak * 1000)}`);
  ex.say(chosen.offer, "min_soak", false, `${ranFor(r, now)}; it soaks for min_soak ${formatDuration(p.min_soak * 1000)}, until ${formatTime(until)}`);
  return { kind: "wait", offer: chosen.offer, until, waitingFor: "min_soak", downloadAllowed: false };
}

// With approvals on, the offer waits until its id is approved (by hand or by time).
function approvalHold(offer: Offer, input: PolicyInput, ex: Explain): Hold | undefined {
  if (!input.policy.approvals) return undefined;
  const a = approval(offer, input, ex);
  if (a.approved) return undefined;
  return { kind: "approval", offer, approvalId: a.id, ...(a.autoAt === undefined ? {} : { autoApproveAt: a.autoAt }) };
}

// Outside the window nothing starts; the download may (download_outside_window).
function windowHold(offer: Offer, input: PolicyInput, ex: Explain): Hold | undefined {
  const window = parseWindow(input.policy.window);
  if (!window.spans.length) return undefined;
  const date = new Date(input.now);
  if (isOpen(window, date)) return void ex.say(offer, "window", true, `inside the update window "${window.text}"`);
  const until = nextOpen(window, date).getTime();
  const downloadAllowed = input.policy.download_outside_window;
  ex.say(offer, "window", false, `outside the update window "${window.text}"; installs when it opens ${describeOpen(new Date(until))} local${downloadAllowed ? "; it may download now" : ""}`);
  return { kind: "wait", offer, until, waitingFor: "window", downloadAllowed };
}

/** Decide what to do with the offers now. Pure; throws ConfigError only for a bad window. */
export function decide(input: PolicyInput): Decision {
  const ex = new Explain();
  const { approvals, failed } = input;
  parseWindow(input.policy.window); // a bad window fails every decision, not only some
  const candidates = input.offers
    .filter((o) => boardFits(o, input.board, ex))
    .filter((o) => !approvals.denied.includes(approvalId(o)) || ex.reject(o, "approval", `${approvalId(o)} was denied with otter deny`))
    .filter((o) => failed?.[o.id] === undefined || ex.say(o, "failed", false, `${label(o)} was tried here before and is not taken again: ${failed[o.id]}`))
    .filter((o) => notDowngrade(o, input, ex))
    .map((o) => allowedByRules(o, input, ex))
    .filter((a): a is Allowed => a !== undefined)
    .sort((a, b) => order(input.policy, a, b));
  const explained: Explained = { reasons: ex.reasons, rejected: ex.rejected };
  const [chosen, ...others] = candidates;
  if (!chosen) return { kind: "nothing", ...explained };
  for (const o of others) ex.say(o.offer, "choice", false, `${label(chosen.offer)} goes first`);
  // Each hold is asked only when the ones before it let the offer through.
  const hold = soakHold(chosen, input, ex) ?? approvalHold(chosen.offer, input, ex) ?? windowHold(chosen.offer, input, ex);
  return { ...(hold ?? { kind: "update", offer: chosen.offer }), ...explained };
}
