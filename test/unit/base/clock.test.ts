// Spans: a duration on the monotonic clock that a restart or a reboot never sends back.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { monotonicMs, readSpan, startSpan } from "../../../src/base/clock.ts";
import { bootId } from "../../../src/base/proc.ts";

test("monotonicMs counts from boot (a later otter of the same boot goes on from here)", () => {
  const uptime = Number.parseFloat(readFileSync("/proc/uptime", "utf8")) * 1000;
  expect(Math.abs(monotonicMs() - uptime)).toBeLessThan(1000);
});

test("a span grows with the monotonic clock and records its reading", async () => {
  const span = startSpan();
  await Bun.sleep(30);
  const ms = readSpan(span);
  expect(ms).toBeGreaterThanOrEqual(25);
  expect(span.elapsed).toBe(ms);
});

test("a span of another boot goes on from what had elapsed, rebased into this boot", () => {
  const span = { boot: "00000000-0000-0000-0000-000000000000", origin: 123, elapsed: 5000 };
  const ms = readSpan(span);
  expect(ms).toBeGreaterThanOrEqual(5000);
  expect(ms).toBeLessThan(6000);
  expect(span.boot).toBe(bootId());
});

test("a span never goes back, even from an origin in the future", () => {
  const span = { boot: bootId(), origin: monotonicMs() + 60_000, elapsed: 7000 };
  expect(readSpan(span)).toBe(7000);
});
