import { expect, test } from "bun:test";
import { STABLE_MS, nextReconnect } from "../../../src/sources/reconnect.ts";

const base = { baseMs: 1000, capMs: 120_000 };

test("each failed attempt doubles the window, up to the cap; the wait is a random part of it (full jitter)", () => {
  const rows: [attempts: number, random: number, delayMs: number][] = [
    [0, 0.5, 500], [1, 0.5, 1000], [2, 0.5, 2000], [6, 0.999, 63_936], [7, 0.5, 60_000], [40, 0.5, 60_000], [40, 0, 0],
  ];
  for (const [attempts, random, delayMs] of rows) {
    expect([attempts, random, nextReconnect({ ...base, attempts, random })]).toEqual([attempts, random, { attempts: attempts + 1, delayMs }]);
  }
});

test("a connection that stayed up STABLE_MS starts afresh; one dropped sooner (a kick) goes on backing off", () => {
  expect(nextReconnect({ ...base, attempts: 5, upMs: STABLE_MS, random: 0.5 })).toEqual({ attempts: 1, delayMs: 500 });
  expect(nextReconnect({ ...base, attempts: 5, upMs: STABLE_MS - 1, random: 0.5 })).toEqual({ attempts: 6, delayMs: 16_000 });
  expect(nextReconnect({ ...base, attempts: 5, upMs: 20, random: 0.5 })).toEqual({ attempts: 6, delayMs: 16_000 });
});

test("without a random given, waits of one window spread over all of it", () => {
  const waits = Array.from({ length: 2000 }, () => nextReconnect({ ...base, attempts: 3 }).delayMs);
  expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...waits)).toBeLessThan(8000);
  // ten windows of 800 ms: each holds about 200 of the 2000 draws (never 400, never 50)
  const tenths = Array.from({ length: 10 }, (_, i) => waits.filter((w) => Math.floor(w / 800) === i).length);
  expect(Math.max(...tenths)).toBeLessThan(400);
  expect(Math.min(...tenths)).toBeGreaterThan(50);
});
