// When an MQTT link counts as stuck for the watchdog: up but silent past twice the
// keepalive (plus answer_timeout), or down with an attempt that never ended.
import { expect, test } from "bun:test";
import { linkStalled } from "../../../src/sources/mqttlink.ts";

const base = { keepaliveMs: 60_000, answerTimeoutMs: 30_000, heardAt: 0, attemptAt: 0 };

test("up: the broker must be heard within 2 x keepalive + answer_timeout", () => {
  expect(linkStalled({ ...base, ready: true }, 150_000)).toBeUndefined();
  expect(linkStalled({ ...base, ready: true }, 150_001)).toBe("the MQTT broker has sent nothing for 150 s (keepalive 60 s)");
  expect(linkStalled({ ...base, ready: true, keepaliveMs: 0 }, 1e9)).toBeUndefined(); // keepalive off: nothing to expect
});

test("down: a scheduled attempt may lie in the future; one that started ends within answer_timeout", () => {
  expect(linkStalled({ ...base, ready: false, attemptAt: 100_000 }, 50_000)).toBeUndefined();
  expect(linkStalled({ ...base, ready: false, attemptAt: 100_000 }, 130_000)).toBeUndefined();
  expect(linkStalled({ ...base, ready: false, attemptAt: 100_000 }, 135_000)).toBe("an MQTT connection attempt has not ended 5 s past answer_timeout");
});
