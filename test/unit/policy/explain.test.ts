import { expect, test } from "bun:test";
import type { Offer } from "../../../src/sources/source.ts";
import { describeRunning, formatDecision } from "../../../src/policy/explain.ts";
import type { Decision, Reason } from "../../../src/policy/policy.ts";

const OFFER: Offer = { id: "weekly:1.1:abcd", source: "manifest", channel: "weekly", version: "1.1", url: "https://u/x", meta: "", force: false };
const JOB: Offer = { id: "job-7", source: "aws", version: "3.0", url: "https://u/y", meta: "", force: false, boards: ["x86"] };
const REASONS: Reason[] = [
  { offerId: OFFER.id, rule: "priority", allowed: true, text: "weekly ranks above nightly, so it may override before test_period" },
  { offerId: OFFER.id, rule: "min_soak", allowed: false, text: "the running nightly 1.0 has run 10h; it soaks for min_soak 30h, until 2026-11-25T08:00Z" },
];
const T = Date.UTC(2026, 10, 25, 8, 0);
const explained = { reasons: REASONS, rejected: [] };

test.each([
  [{ kind: "update", offer: OFFER, ...explained }, "update to weekly 1.1 (weekly:1.1:abcd)"],
  [{ kind: "wait", offer: OFFER, until: T, waitingFor: "min_soak", downloadAllowed: false, ...explained }, "wait until 2026-11-25T08:00Z (min_soak), then weekly 1.1 (weekly:1.1:abcd)"],
  [{ kind: "wait", offer: OFFER, until: T, waitingFor: "window", downloadAllowed: true, ...explained }, "wait until 2026-11-25T08:00Z (window), then weekly 1.1 (weekly:1.1:abcd); downloading meanwhile"],
  [{ kind: "approval", offer: OFFER, approvalId: "0a1b2c3d", autoApproveAt: T, ...explained }, "waiting for approval of weekly 1.1 (weekly:1.1:abcd): otter approve 0a1b2c3d; auto-approved at 2026-11-25T08:00Z"],
  [{ kind: "approval", offer: JOB, approvalId: "0a1b2c3d", ...explained }, "waiting for approval of 3.0 (job-7): otter approve 0a1b2c3d"],
  [{ kind: "nothing", ...explained }, "nothing to do"],
] as [Decision, string][])("%#: first line says what otter would do", (decision, first) => {
  const lines = formatDecision(decision).split("\n");
  expect(lines[0]).toBe(first);
  expect(lines.slice(1, 4)).toEqual([
    "reasons:",
    `  + weekly:1.1:abcd priority: ${REASONS[0]!.text}`,
    `  - weekly:1.1:abcd min_soak: ${REASONS[1]!.text}`,
  ]);
});

test("rejected offers are listed after the reasons", () => {
  const text = formatDecision({ kind: "nothing", reasons: [], rejected: [{ offer: JOB, rule: "board", reason: "3.0 is for boards x86, not this device's rpi4" }] });
  expect(text).toBe("nothing to do\nrejected (never downloaded):\n  job-7: 3.0 is for boards x86, not this device's rpi4\n");
});

test.each([
  [{}, "running: nothing installed, as far as otter knows"],
  [{ version: "1.0", channel: "release", installedAt: T }, "running: 1.0, release, installed 2026-11-25T08:00Z"],
  [{ version: "1.0", seenAt: T }, "running: 1.0, channel unknown (it ranks above every channel until a channel offers its version), install time unknown (soak and test period count from 2026-11-25T08:00Z, when otter first saw it)"],
])("plan's running line for %j", (running, line) => {
  expect(describeRunning(running)).toBe(line);
});
