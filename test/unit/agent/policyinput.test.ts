// What history keeps the policy from taking again, and the REJECTED outcome of a refused AWS job.
import { expect, test } from "bun:test";
import type { Offer } from "../../../src/sources/source.ts";
import type { RunningImage } from "../../../src/policy/policy.ts";
import { rejection } from "../../../src/agent/act.ts";
import type { HistoryEntry } from "../../../src/agent/journal.ts";
import { blockedByHistory } from "../../../src/agent/policyinput.ts";

const offer = (id: string, force = false): Offer => ({ id, source: "manifest", channel: "release", version: id, url: "x", meta: "", force });
const entry = (id: string, status: string, state: string, code?: string): HistoryEntry => ({ id, version: id, status, state, message: "", code, startedAt: "t0", endedAt: "t1" });

const history = [
  entry("failed", "FAILED", "installation_hook_failed"),
  entry("rejected", "REJECTED", "board_mismatch"),
  entry("done", "SUCCEEDED", "complete_ready"),
  entry("forced", "SUCCEEDED", "complete_ready"),
  entry("retried", "FAILED", "download_failed"),
  entry("retried", "SUCCEEDED", "complete_ready"),
  entry("cancelled", "FAILED", "cancelled", "CANCELLED"),
  entry("internal", "FAILED", "verification_failed", "INTERNAL"),
  entry("hookfailed", "FAILED", "installation_hook_failed", "HOOK_FAILED"),
];
const offers = ["failed", "rejected", "done", "retried", "new", "cancelled", "internal", "hookfailed"].map((id) => offer(id)).concat(offer("forced", true));

test.each<[string, RunningImage, string[]]>([
  ["failed and rejected offers, and a forced one already done; local faults block nothing", { version: "1" }, ["failed", "rejected", "forced", "hookfailed"]],
  ["after the workload died a forced one may reflash; failures stay blocked", { version: "1", workloadDied: true }, ["failed", "rejected", "hookfailed"]],
  ["the same after a failed ready check", { version: "1", readyFailed: true }, ["failed", "rejected", "hookfailed"]],
])("%s", (_name, running, blocked) => {
  expect(Object.keys(blockedByHistory(history, offers, running)).sort()).toEqual(blocked.sort());
});

// A bug that always throws (INTERNAL, a local fault) must not fetch the update at every check.
test.each<[string, HistoryEntry, boolean]>([
  ["2 local faults: offered again", { ...entry("x", "FAILED", "verification_failed", "INTERNAL"), localFaults: 2 }, false],
  ["the 3rd: tried", { ...entry("x", "FAILED", "verification_failed", "INTERNAL"), localFaults: 3 }, true],
  ["an interrupted install counts the same", { ...entry("x", "FAILED", "installation_hook_failed", "INSTALL_INTERRUPTED"), localFaults: 3 }, true],
  ["a better offer or a cancel last: a decision, never counted", { ...entry("x", "REJECTED", "superseded", "SUPERSEDED"), localFaults: 5 }, false],
])("local faults of one offer: %s", (_name, h, blocked) => {
  expect(Object.keys(blockedByHistory([h], [offer("x")], {}))).toEqual(blocked ? ["x"] : []);
});

test("the 3rd local fault's reason says how many and that it now counts as tried", () => {
  expect(blockedByHistory([{ ...entry("x", "FAILED", "verification_failed", "INTERNAL"), localFaults: 3 }], [offer("x")], {})).toEqual({
    x: "3 jobs of it ended here in a fault of the device or the moment, the last FAILED (verification_failed, INTERNAL) on t1; after 3 such an update counts as tried",
  });
});

test("the reason names how it ended and when", () => {
  expect(blockedByHistory(history, [offer("failed")], {})).toEqual({ failed: "FAILED (installation_hook_failed) on t1" });
});

test.each([
  ["board", "board_mismatch", "BOARD_MISMATCH"],
  ["approval", "denied", "DENIED"],
  ["downgrade", "downgrade_refused", "DOWNGRADE_REFUSED"],
] as const)("a %s refusal is REJECTED %s with the reason and code %s", (rule, state, code) => {
  expect(rejection({ offer: offer("x"), rule, reason: "why" })).toEqual({ status: "REJECTED", state, message: "why", code });
});
