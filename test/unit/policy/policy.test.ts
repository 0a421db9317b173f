import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { parseConfig, type Config } from "../../../src/config/config.ts";
import type { Offer } from "../../../src/sources/source.ts";
import { approvalId, decide, formatDuration, installed, meet, sighted, type ApprovalState, type Decision, type PolicyInput, type RunningImage, type Rule } from "../../../src/policy/policy.ts";

const H = 3_600_000;
// Tuesday 2026-11-24 12:00 local time (windows are local).
const NOW = new Date(2026, 10, 24, 12, 0).getTime();

/** [policy] from INI text, so defaults and units are the real ones (hours → seconds). */
function policy(ini = ""): Config["policy"] {
  return parseConfig(`[policy]\n${ini}`, "test.ini", { env: {} }).policy;
}

function offer(channel: string | undefined, version: string, extra: Partial<Offer> = {}): Offer {
  const id = `${channel ?? "job"}:${version}`;
  const sha256 = createHash("sha256").update(id).digest("hex");
  return { id, source: channel ? "manifest" : "aws", channel, version, url: `https://u.example/${id}`, sha256, meta: "", force: false, ...extra };
}

/** An image of `channel` `version` installed `ranHours` ago. */
function running(channel: string | undefined, version: string, ranHours: number, extra: Partial<RunningImage> = {}): RunningImage {
  return { channel, version, installedAt: NOW - ranHours * H, workloadDied: false, readyFailed: false, ...extra };
}

const NONE: RunningImage = { workloadDied: false, readyFailed: false };
const noApprovals = (): ApprovalState => ({ approved: [], denied: [], pendingSince: {} });

const nightly = (v: string, x?: Partial<Offer>) => offer("nightly", v, x);
const weekly = (v: string, x?: Partial<Offer>) => offer("weekly", v, x);
const release = (v: string, x?: Partial<Offer>) => offer("release", v, x);

interface Row {
  name: string;
  running: RunningImage;
  offers: Offer[];
  ini?: string;
  board?: string;
  approvals?: Partial<ApprovalState>;
  failed?: Record<string, string>;
  now?: number;
  expect: {
    kind: Decision["kind"];
    /** id of the chosen offer */
    offer?: string;
    until?: number;
    waitingFor?: "min_soak" | "window";
    downloadAllowed?: boolean;
    /** ids of the rejected offers, in order */
    rejected?: string[];
    /** [offer id, rule, allowed] that must be among the reasons */
    reasons?: [string, Rule, boolean][];
    /** text some reason must contain */
    says?: string;
  };
}

function run(row: Row): Decision {
  const input: PolicyInput = {
    running: row.running,
    offers: row.offers,
    now: row.now ?? NOW,
    policy: policy(row.ini),
    board: row.board,
    approvals: { ...noApprovals(), ...row.approvals },
    failed: row.failed,
  };
  return decide(input);
}

function check(row: Row): void {
  const d = run(row);
  const e = row.expect;
  expect(d.kind).toBe(e.kind);
  if (e.offer !== undefined) expect(d.kind !== "nothing" && d.offer.id).toBe(e.offer);
  if (e.until !== undefined) expect(d.kind === "wait" && d.until).toBe(e.until);
  if (e.waitingFor !== undefined) expect(d.kind === "wait" && d.waitingFor).toBe(e.waitingFor);
  if (e.downloadAllowed !== undefined) expect(d.kind === "wait" && d.downloadAllowed).toBe(e.downloadAllowed);
  expect(d.rejected.map((r) => r.offer.id)).toEqual(e.rejected ?? []);
  for (const [id, rule, allowed] of e.reasons ?? []) {
    expect(d.reasons).toContainEqual(expect.objectContaining({ offerId: id, rule, allowed }));
  }
  if (e.says !== undefined) expect(d.reasons.map((r) => r.text).join("\n")).toContain(e.says);
}

// The seeds.
const seeds: Row[] = [
  {
    name: "a weekly arriving while a nightly runs for 10 h waits until 30 h",
    running: running("nightly", "2026.11.23", 10),
    offers: [weekly("2026.11.24")],
    expect: { kind: "wait", offer: "weekly:2026.11.24", until: NOW + 20 * H, waitingFor: "min_soak", downloadAllowed: false, reasons: [["weekly:2026.11.24", "priority", true], ["weekly:2026.11.24", "min_soak", false]] },
  },
  {
    name: "... then installs at 30 h",
    running: running("nightly", "2026.11.23", 30),
    offers: [weekly("2026.11.24")],
    expect: { kind: "update", offer: "weekly:2026.11.24", reasons: [["weekly:2026.11.24", "min_soak", true]] },
  },
  {
    name: "a release preempts a weekly after 30 h",
    running: running("weekly", "1.4", 30),
    offers: [release("2.0")],
    expect: { kind: "update", offer: "release:2.0", reasons: [["release:2.0", "priority", true]] },
  },
  {
    name: "a release does not preempt a weekly at 29 h",
    running: running("weekly", "1.4", 29),
    offers: [release("2.0")],
    expect: { kind: "wait", offer: "release:2.0", until: NOW + H, waitingFor: "min_soak" },
  },
  {
    name: "a newer nightly does not cut a nightly's week",
    running: running("nightly", "2026.11.20", 4 * 24),
    offers: [nightly("2026.11.24")],
    expect: { kind: "nothing", reasons: [["nightly:2026.11.24", "newer", true], ["nightly:2026.11.24", "same_channel", false]] },
  },
  {
    name: "a newer nightly replaces a nightly when nightly is in new_overrides_old",
    running: running("nightly", "2026.11.20", 4 * 24),
    offers: [nightly("2026.11.24")],
    ini: "new_overrides_old = nightly",
    expect: { kind: "update", offer: "nightly:2026.11.24", reasons: [["nightly:2026.11.24", "same_channel", true]] },
  },
  {
    name: "new_overrides_old still waits for min_soak",
    running: running("nightly", "2026.11.23", 10),
    offers: [nightly("2026.11.24")],
    ini: "new_overrides_old = weekly, nightly",
    expect: { kind: "wait", until: NOW + 20 * H, waitingFor: "min_soak" },
  },
  {
    name: "a dead workload allows an immediate reflash of the same version",
    running: running("nightly", "2026.11.24", 1, { workloadDied: true }),
    offers: [nightly("2026.11.24")],
    expect: { kind: "update", offer: "nightly:2026.11.24", reasons: [["nightly:2026.11.24", "workload", true]] },
  },
];

const rules: Row[] = [
  // nothing installed
  {
    name: "nothing installed: the highest priority offer installs, no soak",
    running: NONE,
    offers: [nightly("3.0"), release("1.0"), weekly("2.0")],
    expect: { kind: "update", offer: "release:1.0", reasons: [["release:1.0", "newer", true], ["nightly:3.0", "choice", false]] },
  },
  { name: "no offers: nothing", running: running("release", "1.0", 1), offers: [], expect: { kind: "nothing" } },
  // newer
  {
    name: "the same version is not newer, even after test_period",
    running: running("release", "1.0", 30 * 24),
    offers: [release("1.0")],
    expect: { kind: "nothing", reasons: [["release:1.0", "newer", false]] },
  },
  {
    name: "an older version is refused by anti-rollback",
    running: running("nightly", "1.10", 30 * 24),
    offers: [release("1.9")],
    expect: { kind: "nothing", reasons: [["release:1.9", "downgrade", false]], says: "release 1.9 is older than the running nightly 1.10: anti-rollback refuses it" },
  },
  // anti-rollback
  {
    name: "anti-rollback: a channel offer older than the newest accepted from that channel is refused, though newer than the running one",
    running: running(undefined, "1.5", 30 * 24, { accepted: { release: "2.0" } }),
    offers: [release("1.8")],
    expect: { kind: "nothing", reasons: [["release:1.8", "downgrade", false]], says: "release 2.0, the newest this device accepted from release" },
  },
  {
    name: "anti-rollback: another channel's floor does not bind",
    running: running("release", "1.0", 30 * 24, { accepted: { nightly: "5.0", release: "1.0" } }),
    offers: [release("2.0")],
    expect: { kind: "update", offer: "release:2.0" },
  },
  {
    name: "anti-rollback: a manifest's own force reinstalls, it never downgrades",
    running: running("release", "2.0", 30 * 24),
    offers: [release("1.0", { force: true })],
    expect: { kind: "nothing", reasons: [["release:1.0", "downgrade", false]] },
  },
  {
    name: "anti-rollback: allow_downgrade lets a forced older channel offer install",
    running: running("release", "2.0", 30 * 24),
    offers: [release("1.0", { force: true })],
    ini: "allow_downgrade = true",
    expect: { kind: "update", offer: "release:1.0", reasons: [["release:1.0", "downgrade", true]] },
  },
  {
    name: "anti-rollback: an older AWS job without force is REJECTED",
    running: running("release", "2.0", 1),
    offers: [offer(undefined, "1.0")],
    expect: { kind: "nothing", rejected: ["job:1.0"], reasons: [["job:1.0", "downgrade", false]] },
  },
  {
    name: "anti-rollback: an older AWS job with force is an operator's: it installs",
    running: running("release", "2.0", 1),
    offers: [offer(undefined, "1.0", { force: true })],
    expect: { kind: "update", offer: "job:1.0", reasons: [["job:1.0", "downgrade", true]], says: "an operator forced it" },
  },
  {
    name: "anti-rollback: the same version is no downgrade (a reflash after a dead workload)",
    running: running("nightly", "3.0", 1, { workloadDied: true, accepted: { nightly: "3.0" } }),
    offers: [nightly("3.0")],
    expect: { kind: "update", offer: "nightly:3.0" },
  },
  {
    name: "force waives 'newer' but not priority",
    running: running("weekly", "1.0", 40),
    offers: [release("1.0", { force: true }), nightly("1.0", { force: true })],
    expect: { kind: "update", offer: "release:1.0", reasons: [["release:1.0", "newer", true], ["nightly:1.0", "priority", false]] },
  },
  {
    name: "force still waits for min_soak",
    running: running("weekly", "1.0", 2),
    offers: [release("1.0", { force: true })],
    expect: { kind: "wait", waitingFor: "min_soak", until: NOW + 28 * H },
  },
  // rule 1
  {
    name: "ready failed opens rule 1 too",
    running: running("release", "2.0", 1, { readyFailed: true }),
    offers: [nightly("1.0")],
    ini: "allow_downgrade = true",
    expect: { kind: "update", offer: "nightly:1.0", reasons: [["nightly:1.0", "workload", true]] },
  },
  {
    name: "max_reflashes reflashes in a row close rule 1: the same version is not flashed again",
    running: running("nightly", "3.0", 1, { workloadDied: true, reflashes: 3 }),
    offers: [nightly("3.0")],
    expect: { kind: "nothing", reasons: [["nightly:3.0", "workload", false], ["nightly:3.0", "newer", false]], says: "after 3 reflashes in a row (max_reflashes 3)" },
  },
  {
    name: "below max_reflashes rule 1 still reflashes",
    running: running("nightly", "3.0", 1, { workloadDied: true, reflashes: 4 }),
    offers: [nightly("3.0")],
    ini: "max_reflashes = 5",
    expect: { kind: "update", offer: "nightly:3.0", reasons: [["nightly:3.0", "workload", true]] },
  },
  {
    name: "rule 1 closed: a higher-priority newer offer comes by rule 3, after min_soak",
    running: running("nightly", "3.0", 10, { workloadDied: true, reflashes: 3 }),
    offers: [release("4.0")],
    expect: { kind: "wait", until: NOW + 20 * H, waitingFor: "min_soak", reasons: [["release:4.0", "workload", false], ["release:4.0", "priority", true]] },
  },
  {
    name: "rule 1 picks the highest priority, not the newest",
    running: running("nightly", "3.0", 1, { workloadDied: true }),
    offers: [nightly("3.1"), weekly("2.5"), release("1.0")],
    ini: "allow_downgrade = true",
    expect: { kind: "update", offer: "release:1.0", reasons: [["weekly:2.5", "choice", false]] },
  },
  // rule 2
  {
    name: "after test_period a lower-priority newer offer installs",
    running: running("release", "1.0", 8 * 24),
    offers: [nightly("1.1")],
    expect: { kind: "update", offer: "nightly:1.1", reasons: [["nightly:1.1", "test_period", true]] },
  },
  {
    name: "before test_period a lower-priority offer never installs",
    running: running("release", "1.0", 6 * 24),
    offers: [nightly("1.1")],
    expect: { kind: "nothing", reasons: [["nightly:1.1", "priority", false]] },
  },
  {
    name: "after test_period the highest priority newer offer goes first",
    running: running("weekly", "1.0", 8 * 24),
    offers: [nightly("1.3"), weekly("1.1"), weekly("1.2")],
    expect: { kind: "update", offer: "weekly:1.2", reasons: [["nightly:1.3", "choice", false], ["weekly:1.1", "choice", false]] },
  },
  {
    name: "a test_period shorter than min_soak still waits for min_soak",
    running: running("nightly", "1.0", 20),
    offers: [nightly("1.1")],
    ini: "test_period = 10\nmin_soak = 30",
    expect: { kind: "wait", waitingFor: "min_soak", until: NOW + 10 * H, reasons: [["nightly:1.1", "test_period", true]] },
  },
  {
    name: "test_period in the config is read as hours",
    running: running("release", "1.0", 49),
    offers: [nightly("1.1")],
    ini: "test_period = 2d",
    expect: { kind: "update", offer: "nightly:1.1" },
  },
  {
    name: "an unknown install time counts from when otter first saw the image: before test_period nothing lower installs",
    running: { channel: "release", version: "1.0", seenAt: NOW - 10 * H },
    offers: [nightly("1.1")],
    expect: { kind: "nothing", reasons: [["nightly:1.1", "priority", false]], says: "test_period ends in 6d 14h" },
  },
  {
    name: "an unknown install time: test_period and min_soak run from when otter first saw it",
    running: { channel: "nightly", version: "1.0", seenAt: NOW - 10 * H },
    offers: [weekly("1.1")],
    expect: { kind: "wait", offer: "weekly:1.1", waitingFor: "min_soak", until: NOW + 20 * H, says: "has run 10h since otter first saw it (its install time is unknown)" },
  },
  {
    name: "an unknown install time never seen (no meet()) counts as just installed",
    running: { channel: "release", version: "1.0" },
    offers: [nightly("1.1")],
    ini: "test_period = 1",
    expect: { kind: "nothing", reasons: [["nightly:1.1", "priority", false]] },
  },
  {
    name: "an unknown install time, first seen past test_period: any newer offer",
    running: { channel: "release", version: "1.0", seenAt: NOW - 8 * 24 * H },
    offers: [nightly("1.1")],
    expect: { kind: "update", offer: "nightly:1.1", reasons: [["nightly:1.1", "test_period", true]] },
  },
  {
    name: "an install time in the future (the clock stepped back) counts as now, even with test_period 0",
    running: running("release", "1.0", -5 * 24),
    offers: [nightly("1.1")],
    ini: "test_period = 0\nmin_soak = 0",
    expect: { kind: "update", offer: "nightly:1.1", reasons: [["nightly:1.1", "test_period", true]] },
  },
  {
    name: "an install time in the future soaks from now, not from the future",
    running: running("nightly", "1.0", -5 * 24),
    offers: [weekly("1.1")],
    expect: { kind: "wait", offer: "weekly:1.1", waitingFor: "min_soak", until: NOW + 30 * H },
  },
  // rule 3: ranks
  {
    name: "an unlisted channel ranks below every listed one",
    running: running("beta", "1.0", 40),
    offers: [nightly("1.1")],
    expect: { kind: "update", offer: "nightly:1.1", reasons: [["nightly:1.1", "priority", true]] },
  },
  {
    name: "an unlisted channel does not override a listed one",
    running: running("nightly", "1.0", 40),
    offers: [offer("beta", "1.1")],
    expect: { kind: "nothing", reasons: [["beta:1.1", "priority", false]] },
  },
  {
    name: "two unlisted channels do not override each other",
    running: running("alpha", "1.0", 40),
    offers: [offer("beta", "1.1")],
    expect: { kind: "nothing", reasons: [["beta:1.1", "priority", false]] },
  },
  {
    name: "a running image of unknown channel ranks above every channel before test_period",
    running: running(undefined, "1.0", 40),
    offers: [release("1.1"), offer("beta", "1.2")],
    expect: { kind: "nothing", reasons: [["release:1.1", "priority", false], ["beta:1.2", "priority", false]], says: "the running 1.0 is of unknown channel, which ranks above every channel until a channel offers version 1.0" },
  },
  {
    name: "a running image of unknown channel is replaced after test_period",
    running: running(undefined, "1.0", 8 * 24),
    offers: [nightly("1.1")],
    expect: { kind: "update", offer: "nightly:1.1", reasons: [["nightly:1.1", "test_period", true]] },
  },
  {
    name: "priority names are the config's, in its order",
    running: running("stable", "1.0", 40),
    offers: [offer("canary", "1.1")],
    ini: "priority = canary, stable",
    expect: { kind: "update", offer: "canary:1.1" },
  },
  // history
  {
    name: "an offer that failed here before is not taken again; the next one is",
    running: running("nightly", "1.0", 40),
    offers: [release("2.0"), weekly("1.1")],
    failed: { "release:2.0": "FAILED (install_failed) on 2026-11-23T02:00:00Z" },
    expect: { kind: "update", offer: "weekly:1.1", reasons: [["release:2.0", "failed", false]], says: "tried here before and is not taken again: FAILED (install_failed)" },
  },
  {
    name: "a failed offer is not reflashed when the workload died",
    running: running("nightly", "1.0", 1, { workloadDied: true }),
    offers: [nightly("1.0")],
    failed: { "nightly:1.0": "FAILED (ready_failed)" },
    expect: { kind: "nothing", reasons: [["nightly:1.0", "failed", false]] },
  },
  // explicit offers (no channel)
  {
    name: "an offer without a channel is an operator's command: no soak, no priority, any version when forced",
    running: running("release", "2.0", 1),
    offers: [nightly("9.0"), offer(undefined, "1.0", { force: true })],
    expect: { kind: "update", offer: "job:1.0", reasons: [["job:1.0", "explicit", true]] },
  },
  {
    name: "an offer without a channel goes before allowed channel offers",
    running: NONE,
    offers: [release("2.0"), offer(undefined, "1.0")],
    expect: { kind: "update", offer: "job:1.0", reasons: [["release:2.0", "choice", false]] },
  },
];

const board: Row[] = [
  {
    name: "an offer for this board installs",
    running: NONE,
    offers: [release("1.0", { boards: ["rpi4", "rpi5"] })],
    board: "rpi5",
    expect: { kind: "update", offer: "release:1.0", reasons: [["release:1.0", "board", true]] },
  },
  {
    name: "an offer for another board is rejected and another chosen",
    running: NONE,
    offers: [release("1.0", { boards: ["rpi4"] }), weekly("1.0")],
    board: "rpi5",
    expect: { kind: "update", offer: "weekly:1.0", rejected: ["release:1.0"], reasons: [["release:1.0", "board", false]] },
  },
  {
    name: "an unknown board rejects offers that name boards",
    running: NONE,
    offers: [release("1.0", { boards: ["rpi4"] })],
    expect: { kind: "nothing", rejected: ["release:1.0"], says: "board is unknown; set [policy] board" },
  },
  {
    name: "the board check holds even when the workload died",
    running: running("release", "1.0", 1, { workloadDied: true }),
    offers: [release("1.0", { boards: ["x86"] })],
    board: "rpi4",
    expect: { kind: "nothing", rejected: ["release:1.0"] },
  },
  {
    name: "the board check holds for explicit and forced offers",
    running: NONE,
    offers: [offer(undefined, "1.0", { boards: ["x86"], force: true })],
    board: "rpi4",
    expect: { kind: "nothing", rejected: ["job:1.0"] },
  },
];

const idOf = (o: Offer) => approvalId(o);
const WEEKLY = weekly("1.1");
const RELEASE = release("2.0");

const approvals: Row[] = [
  {
    name: "with approvals on, an allowed update waits for approval",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "approvals = true",
    expect: { kind: "approval", offer: WEEKLY.id, reasons: [[WEEKLY.id, "approval", false]] },
  },
  {
    name: "an approved id installs",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "approvals = true",
    approvals: { approved: [idOf(WEEKLY)] },
    expect: { kind: "update", offer: WEEKLY.id, reasons: [[WEEKLY.id, "approval", true]] },
  },
  {
    name: "a denied id is never chosen; the next offer is",
    running: running("nightly", "1.0", 40),
    offers: [RELEASE, WEEKLY],
    ini: "approvals = true",
    approvals: { denied: [idOf(RELEASE)] },
    expect: { kind: "approval", offer: WEEKLY.id, rejected: [RELEASE.id] },
  },
  {
    name: "a denied id is refused with approvals off too",
    running: running("nightly", "1.0", 40),
    offers: [RELEASE],
    approvals: { denied: [idOf(RELEASE)] },
    expect: { kind: "nothing", rejected: [RELEASE.id] },
  },
  {
    name: "a denied id is refused even when the workload died",
    running: running("release", "2.0", 1, { workloadDied: true }),
    offers: [RELEASE],
    approvals: { denied: [idOf(RELEASE)] },
    expect: { kind: "nothing", rejected: [RELEASE.id] },
  },
  {
    name: "auto_approve_after approves a pending update once it has passed",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "approvals = true\nauto_approve_after = 4",
    approvals: { pendingSince: { [idOf(WEEKLY)]: NOW - 4 * H } },
    expect: { kind: "update", offer: WEEKLY.id, reasons: [[WEEKLY.id, "approval", true]] },
  },
  {
    name: "auto_approve_after not yet passed: still pending",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "approvals = true\nauto_approve_after = 4",
    approvals: { pendingSince: { [idOf(WEEKLY)]: NOW - 3 * H } },
    expect: { kind: "approval", offer: WEEKLY.id },
  },
  {
    name: "a denied id is never auto-approved",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "approvals = true\nauto_approve_after = 4",
    approvals: { denied: [idOf(WEEKLY)], pendingSince: { [idOf(WEEKLY)]: NOW - 100 * H } },
    expect: { kind: "nothing", rejected: [WEEKLY.id] },
  },
  {
    name: "approval is asked only once min_soak has passed",
    running: running("nightly", "1.0", 10),
    offers: [WEEKLY],
    ini: "approvals = true",
    expect: { kind: "wait", waitingFor: "min_soak" },
  },
  {
    name: "approvals apply to rule 1",
    running: running("release", "2.0", 1, { workloadDied: true }),
    offers: [RELEASE],
    ini: "approvals = true",
    expect: { kind: "approval", offer: RELEASE.id },
  },
  {
    name: "approvals apply to explicit offers",
    running: running("release", "2.0", 1),
    offers: [offer(undefined, "3.0")],
    ini: "approvals = true",
    expect: { kind: "approval", offer: "job:3.0" },
  },
];

// NOW is Tuesday 12:00 local.
const windows: Row[] = [
  {
    name: "outside the window the install waits for it; download allowed by default",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "window = Mon-Fri 02:00-05:00",
    expect: { kind: "wait", offer: WEEKLY.id, waitingFor: "window", until: new Date(2026, 10, 25, 2, 0).getTime(), downloadAllowed: true, reasons: [[WEEKLY.id, "window", false]] },
  },
  {
    name: "download_outside_window = false holds the download too",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "window = Mon-Fri 02:00-05:00\ndownload_outside_window = false",
    expect: { kind: "wait", waitingFor: "window", downloadAllowed: false },
  },
  {
    name: "inside the window the update starts",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "window = Mon-Fri 02:00-05:00, Tue 11:00-13:00",
    expect: { kind: "update", offer: WEEKLY.id, reasons: [[WEEKLY.id, "window", true]] },
  },
  {
    name: "the window holds a rule 1 reflash",
    running: running("release", "2.0", 1, { workloadDied: true }),
    offers: [RELEASE],
    ini: "window = Sat 00:00-24:00",
    expect: { kind: "wait", waitingFor: "window", until: new Date(2026, 10, 28).getTime() },
  },
  {
    name: "the window holds an explicit offer",
    running: running("release", "2.0", 1),
    offers: [offer(undefined, "3.0")],
    ini: "window = Sat 00:00-24:00",
    expect: { kind: "wait", waitingFor: "window" },
  },
  {
    name: "min_soak is reported before the window",
    running: running("nightly", "1.0", 10),
    offers: [WEEKLY],
    ini: "window = Sat 00:00-24:00",
    expect: { kind: "wait", waitingFor: "min_soak", until: NOW + 20 * H },
  },
  {
    name: "an approved update still waits for the window",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "approvals = true\nwindow = Sat 00:00-24:00",
    approvals: { approved: [idOf(WEEKLY)] },
    expect: { kind: "wait", waitingFor: "window", reasons: [[WEEKLY.id, "approval", true]] },
  },
  {
    name: "approval is asked outside the window",
    running: running("nightly", "1.0", 40),
    offers: [WEEKLY],
    ini: "approvals = true\nwindow = Sat 00:00-24:00",
    expect: { kind: "approval", offer: WEEKLY.id },
  },
  {
    name: "nothing allowed: no window reason",
    running: running("release", "2.0", 1),
    offers: [nightly("3.0")],
    ini: "window = Sat 00:00-24:00",
    expect: { kind: "nothing" },
  },
];

const interplay: Row[] = [
  {
    name: "wrong-board release, denied weekly, soaked nightly running: nothing, both rejected",
    running: running("nightly", "1.0", 40),
    offers: [release("2.0", { boards: ["x86"] }), WEEKLY, nightly("1.1")],
    board: "rpi4",
    approvals: { denied: [idOf(WEEKLY)] },
    expect: { kind: "nothing", rejected: ["release:2.0", WEEKLY.id], reasons: [["nightly:1.1", "same_channel", false]] },
  },
  {
    name: "dead workload, wrong-board release, approvals with auto-approve due, window open",
    running: running("weekly", "1.0", 1, { workloadDied: true }),
    offers: [release("2.0", { boards: ["x86"] }), weekly("1.0"), nightly("0.9")],
    board: "rpi4",
    ini: "approvals = true\nauto_approve_after = 1\nwindow = Tue 00:00-24:00",
    approvals: { pendingSince: { [idOf(weekly("1.0"))]: NOW - 2 * H } },
    expect: { kind: "update", offer: "weekly:1.0", rejected: ["release:2.0"], reasons: [["weekly:1.0", "workload", true], ["weekly:1.0", "approval", true], ["weekly:1.0", "window", true], ["nightly:0.9", "downgrade", false]] },
  },
  {
    name: "past test_period with new_overrides_old: priority still picks the higher channel",
    running: running("nightly", "1.0", 8 * 24),
    offers: [nightly("1.5"), weekly("1.1")],
    ini: "new_overrides_old = nightly",
    expect: { kind: "update", offer: "weekly:1.1" },
  },
  {
    name: "a lower-priority offer does not block a higher one that must soak",
    running: running("weekly", "1.0", 5),
    offers: [nightly("1.2"), release("1.1")],
    expect: { kind: "wait", offer: "release:1.1", waitingFor: "min_soak", until: NOW + 25 * H, reasons: [["nightly:1.2", "priority", false]] },
  },
];

for (const [group, rows] of Object.entries({ seeds, rules, board, approvals, windows, interplay })) {
  describe(group, () => {
    test.each(rows.map((r) => [r.name, r] as const))("%s", (_name, row) => check(row));
  });
}

describe("approval decisions", () => {
  test("carry the id and when auto-approval comes", () => {
    const d = run({ name: "", running: running("nightly", "1.0", 40), offers: [WEEKLY], ini: "approvals = true\nauto_approve_after = 4", approvals: { pendingSince: { [idOf(WEEKLY)]: NOW - H } }, expect: { kind: "approval" } });
    expect(d).toMatchObject({ kind: "approval", approvalId: idOf(WEEKLY), autoApproveAt: NOW + 3 * H });
  });
  test("not pending yet: auto-approval counts from now", () => {
    const d = run({ name: "", running: running("nightly", "1.0", 40), offers: [WEEKLY], ini: "approvals = true\nauto_approve_after = 4", expect: { kind: "approval" } });
    expect(d).toMatchObject({ kind: "approval", autoApproveAt: NOW + 4 * H });
  });
  test("pending since a time in the future (the clock stepped back): auto-approval counts from now", () => {
    const d = run({ name: "", running: running("nightly", "1.0", 40), offers: [WEEKLY], ini: "approvals = true\nauto_approve_after = 4", approvals: { pendingSince: { [idOf(WEEKLY)]: NOW + 10 * 24 * H } }, expect: { kind: "approval" } });
    expect(d).toMatchObject({ kind: "approval", autoApproveAt: NOW + 4 * H });
  });
  test("without auto_approve_after there is no autoApproveAt", () => {
    const d = run({ name: "", running: running("nightly", "1.0", 40), offers: [WEEKLY], ini: "approvals = true", expect: { kind: "approval" } });
    expect(d.kind === "approval" && "autoApproveAt" in d).toBe(false);
  });
});

describe("approvalId", () => {
  test("is 8 hex and stable", () => {
    expect(approvalId(WEEKLY)).toMatch(/^[0-9a-f]{8}$/);
    expect(approvalId(weekly("1.1"))).toBe(approvalId(WEEKLY));
  });
  test("ignores the offer id and url when the digest is given", () => {
    expect(approvalId({ ...WEEKLY, id: "other", url: "https://elsewhere/x" })).toBe(approvalId(WEEKLY));
  });
  test("without a digest: stable across re-signed URLs, distinct per job id", () => {
    const job = offer(undefined, "3.0", { sha256: undefined });
    expect(approvalId({ ...job, url: "https://u.example/presigned?sig=2" })).toBe(approvalId(job));
    expect(approvalId({ ...job, id: "job-8" })).not.toBe(approvalId(job));
  });
  test.each([
    ["channel", { channel: "nightly" }],
    ["version", { version: "1.2" }],
    ["digest", { sha256: "0".repeat(64) }],
  ] as const)("changes with the %s", (_what, change) => {
    expect(approvalId({ ...WEEKLY, ...change })).not.toBe(approvalId(WEEKLY));
  });
});

describe("decide", () => {
  // parseConfig refuses a bad window already; decide() must not trust that it was used.
  const badWindow = (offers: Offer[]) => () =>
    decide({ running: NONE, offers, now: NOW, policy: { ...policy(), window: "Mon-Fry 02:00-05:00" }, approvals: noApprovals() });
  test("a bad window is a one-line config error", () => {
    expect(badWindow([WEEKLY])).toThrow(`[policy] window: "Mon-Fry 02:00-05:00": unknown day "Fry"`);
  });
  test("a bad window fails every decision, also one with nothing to do", () => {
    expect(badWindow([])).toThrow("[policy] window:");
  });
  test("every reason is one sentence on one line", () => {
    const d = run(interplay[1]!);
    for (const r of d.reasons) expect(r.text).toMatch(/^[^\n]+$/);
  });
  test("is a function of its input: the same input gives the same decision", () => {
    expect(run(seeds[0]!)).toEqual(run(seeds[0]!));
  });
});

describe("meet: the running image as the policy counts it", () => {
  const P = policy();
  test("an unknown install time starts counting now, and keeps the first time it was seen", () => {
    expect(meet({ version: "1.0" }, [], NOW, P)).toEqual({ version: "1.0", seenAt: NOW });
    expect(meet({ version: "1.0", seenAt: NOW - H }, [], NOW, P)).toEqual({ version: "1.0", seenAt: NOW - H });
  });
  test("a time in the future (the clock stepped back) becomes now", () => {
    expect(meet({ version: "1.0", channel: "release", installedAt: NOW + 5 * 24 * H }, [], NOW, P)).toEqual({ version: "1.0", channel: "release", installedAt: NOW });
    expect(meet({ version: "1.0", seenAt: NOW + H }, [], NOW, P)).toEqual({ version: "1.0", seenAt: NOW });
  });
  test("an unknown channel becomes the highest-priority channel offering that very version", () => {
    expect(meet({ version: "1.0", seenAt: NOW }, [nightly("1.0"), weekly("1.0"), release("1.1")], NOW, P).channel).toBe("weekly");
    expect(meet({ version: "1.0", seenAt: NOW }, [release("1.0.1"), offer(undefined, "1.0")], NOW, P).channel).toBeUndefined();
    expect(meet({ version: "1.0", channel: "nightly", installedAt: NOW }, [release("1.0")], NOW, P).channel).toBe("nightly");
  });
  test("sighted: the version hook's answer replaces an image the journal knew otherwise; the workload's bookkeeping stays", () => {
    const old: RunningImage = { version: "0.9", channel: "release", installedAt: NOW, readyFailed: true, workloadRunning: true, workloadProcess: { pid: 7, startTicks: "1", bootId: "b" } };
    expect(sighted(old, "1.0")).toEqual({ version: "1.0", workloadRunning: true, workloadProcess: old.workloadProcess });
    expect(sighted(old, "0.9")).toBe(old);
    expect(sighted(NONE, "")).toBe(NONE);
    expect(sighted(NONE, "1.0")).toEqual({ version: "1.0" });
  });
  test("nothing known stays nothing known", () => {
    expect(meet(NONE, [release("1.0")], NOW, P)).toEqual(NONE);
  });
  test("issue 11: a device migrated from Upparat running release 1.0 does not jump to nightly", () => {
    const offers = [release("1.0"), nightly("1.1")];
    const seen = meet({ version: "1.0" }, offers, NOW, P);
    expect(decide({ running: seen, offers, now: NOW + 24 * H, policy: P, approvals: noApprovals() }).kind).toBe("nothing");
    expect(decide({ running: seen, offers, now: NOW + 8 * 24 * H, policy: P, approvals: noApprovals() })).toMatchObject({ kind: "update", offer: { id: "nightly:1.1" } });
  });
});

describe("helpers", () => {
  test.each([
    [45 * 60_000, "45m"],
    [10.5 * H, "10h 30m"],
    [30 * H, "30h"],
    [74 * H, "3d 2h"],
    [168 * H, "7d"],
  ])("formatDuration(%p) = %p", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
  test("installed() raises its channel's anti-rollback floor, never lowers one, and keeps the others", () => {
    const before: RunningImage = { version: "2.0", channel: "weekly", accepted: { weekly: "2.0", nightly: "7" } };
    expect(installed(WEEKLY, NOW, before).accepted).toEqual({ weekly: "2.0", nightly: "7" });
    expect(installed({ ...WEEKLY, version: "2.1" }, NOW, before).accepted).toEqual({ weekly: "2.1", nightly: "7" });
    expect(installed({ ...WEEKLY, channel: undefined, version: "0.1" }, NOW, before).accepted).toEqual(before.accepted);
    expect(sighted(before, "0.5").accepted).toEqual(before.accepted);
  });

  test("installed() is what the journal keeps after a good install", () => {
    expect(installed(WEEKLY, NOW)).toEqual({ version: "1.1", channel: "weekly", installedAt: NOW, accepted: { weekly: "1.1" } });
    // ...and it soaks: the same weekly offered again is not newer.
    expect(decide({ running: installed(WEEKLY, NOW), offers: [RELEASE], now: NOW + H, policy: policy(), approvals: noApprovals() }).kind).toBe("wait");
  });
});
