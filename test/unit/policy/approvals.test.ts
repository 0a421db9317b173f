import { expect, test } from "bun:test";
import type { Offer } from "../../../src/sources/source.ts";
import { approve, deny, EMPTY_APPROVALS, isApprovalId, MAX_IDS, notePending, pendingIds } from "../../../src/policy/approvals.ts";
import type { Decision } from "../../../src/policy/policy.ts";

const OFFER: Offer = { id: "weekly:1.1", source: "manifest", channel: "weekly", version: "1.1", url: "https://u/x", meta: "", force: false };
const pending = (id: string): Decision => ({ kind: "approval", offer: OFFER, approvalId: id, reasons: [], rejected: [] });

test("approve then deny: the last word wins, each list holds an id once", () => {
  const a = approve(approve(EMPTY_APPROVALS, "0a1b2c3d"), "0a1b2c3d");
  expect(a).toEqual({ approved: ["0a1b2c3d"], denied: [], pendingSince: {} });
  const d = deny(a, "0a1b2c3d");
  expect(d).toEqual({ approved: [], denied: ["0a1b2c3d"], pendingSince: {} });
  expect(approve(d, "0a1b2c3d")).toEqual(a);
});

test("the lists keep the newest MAX_IDS ids", () => {
  let s = EMPTY_APPROVALS;
  for (let i = 0; i <= MAX_IDS; i++) s = deny(s, i.toString(16).padStart(8, "0"));
  expect(s.denied).toHaveLength(MAX_IDS);
  expect(s.denied[0]).toBe("00000001");
});

test("notePending stamps a new pending id once, and nothing else", () => {
  const s = notePending(EMPTY_APPROVALS, pending("0a1b2c3d"), 1000);
  expect(s.pendingSince).toEqual({ "0a1b2c3d": 1000 });
  expect(notePending(s, pending("0a1b2c3d"), 5000)).toBe(s);
  expect(notePending(s, { kind: "nothing", reasons: [], rejected: [] }, 5000)).toBe(s);
});

test("notePending: an id pending since a time in the future (the clock stepped back) is pending from now", () => {
  const s = notePending(EMPTY_APPROVALS, pending("0a1b2c3d"), 10 * 86_400_000);
  expect(notePending(s, pending("0a1b2c3d"), 1000).pendingSince).toEqual({ "0a1b2c3d": 1000 });
});

test("notePending keeps the newest MAX_IDS pending ids", () => {
  let s = EMPTY_APPROVALS;
  for (let i = 0; i < MAX_IDS + 5; i++) s = notePending(s, pending(i.toString(16).padStart(8, "0")), 1000 + i);
  const ids = Object.keys(s.pendingSince);
  expect(ids).toHaveLength(MAX_IDS);
  expect(ids).not.toContain("00000004");
  expect(ids).toContain("00000005");
  expect(s.pendingSince[(MAX_IDS + 4).toString(16).padStart(8, "0")]).toBe(1000 + MAX_IDS + 4);
});

test("pendingIds leaves out approved and denied ids", () => {
  let s = notePending(EMPTY_APPROVALS, pending("00000001"), 1);
  s = notePending(s, pending("00000002"), 1);
  s = notePending(s, pending("00000003"), 1);
  s = deny(approve(s, "00000001"), "00000002");
  expect(pendingIds(s)).toEqual(["00000003"]);
});

test.each([
  ["0a1b2c3d", true],
  ["0A1B2C3D", false],
  ["0a1b2c3", false],
  ["0a1b2c3dd", false],
  ["xyz12345", false],
])("isApprovalId(%p) = %p", (text, ok) => {
  expect(isApprovalId(text)).toBe(ok);
});
