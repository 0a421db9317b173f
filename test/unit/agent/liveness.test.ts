// The watchdog's "is otter moving?": each piece of work is alive until its bound plus one
// watchdog period of grace; work without a bound moves while the event loop turns.
import { expect, test } from "bun:test";
import { Liveness, overdue } from "../../../src/agent/liveness.ts";

test("overdue: within the bound, at it, past it, and work without one", () => {
  expect(overdue({ what: "install hook", since: 0, until: 10_000 }, 10_000)).toBeUndefined();
  expect(overdue({ what: "install hook", since: 0, until: 10_000 }, 10_001)).toBe("install hook: no progress for 10 s");
  expect(overdue({ what: "verify", since: 0 }, 1e12)).toBeUndefined();
});

test("each piece of work replaces the last; the grace is added to its bound", () => {
  let now = 0;
  const l = new Liveness(2000, () => now);
  l.doing("download", 1000);
  now = 3000;
  expect(l.stuck()).toBeUndefined();
  now = 3001;
  expect(l.stuck()).toBe("download: no progress for 3 s");
  l.doing("download", 1000); // bytes grew
  expect(l.stuck()).toBeUndefined();
  l.doing("after the install hook");
  now = 1e9;
  expect(l.stuck()).toBeUndefined();
});

test("something watched beside the main work (the MQTT link) can say it is stuck", () => {
  let link: string | undefined;
  const l = new Liveness(0, () => 0);
  l.watch(() => link);
  l.doing("sleeping until the next check", 60_000);
  expect(l.stuck()).toBeUndefined();
  link = "the MQTT broker has sent nothing for 200 s (keepalive 60 s)";
  expect(l.stuck()).toBe(link);
});
