import { expect, test } from "bun:test";
import { stillReporting } from "../../../src/agent/act.ts";
import type { Offer, Report } from "../../../src/sources/source.ts";

const offer = (id: string) => ({ id, version: "2.0.0", url: "https://x/y", source: "aws" }) as Offer;
const report = (jobId: string, status: Report["status"]): Report => ({ jobId, seq: 1, status, state: "s", message: "", at: "2026-01-01T00:00:00Z" });

test("an offer whose final report is queued is still being reported; progress reports alone are not an end", () => {
  const outbox = [report("a", "IN_PROGRESS"), report("a", "SUCCEEDED"), report("b", "IN_PROGRESS"), report("c", "REJECTED")];
  expect([...stillReporting(outbox, [offer("a"), offer("b"), offer("c"), offer("d")])]).toEqual(["a", "c"]);
  expect(stillReporting([], [offer("a")]).size).toBe(0);
});
