import { describe, expect, test } from "bun:test";
import { afterReport, freezeReport, nextFreeze, type Freeze } from "../../../src/sources/tuffreeze.ts";

const T0 = 1_000_000;
const NOW = 2_000_000;
const told: Freeze = { since: T0, reported: true };
const untold: Freeze = { since: T0, reported: false };
const ending: Freeze = { since: T0, reported: true, endedAt: 1_500_000 };

describe("nextFreeze: one freeze from the first expired check to the first verified one", () => {
  const rows: [string, Freeze | undefined, string | undefined, Freeze | undefined][] = [
    ["no freeze, verified: none", undefined, undefined, undefined],
    ["no freeze, expired: begins now, not told yet", undefined, "TUF_EXPIRED", { since: NOW, reported: false }],
    ["no freeze, unreachable: none begins", undefined, "SOURCE_UNAVAILABLE", undefined],
    ["no freeze, refused: none begins (not a freeze)", undefined, "TUF_REFUSED", undefined],
    ["told freeze, expired again: unchanged (no second report)", told, "TUF_EXPIRED", told],
    ["untold freeze, expired again: still due, from its first sight", untold, "TUF_EXPIRED", untold],
    ["told freeze, unreachable: could not tell, unchanged", told, "SOURCE_UNAVAILABLE", told],
    ["told freeze, refused otherwise: not over, unchanged", told, "TUF_REFUSED", told],
    ["told freeze, verified: ends now, the end to be told", told, undefined, { since: T0, reported: true, endedAt: NOW }],
    ["untold freeze, verified: gone, nothing was said", untold, undefined, undefined],
    ["ending, verified again: the end keeps its time", ending, undefined, ending],
    ["ending, unreachable: the end is still due", ending, "SOURCE_UNAVAILABLE", ending],
    ["ending, expired again before the end was told: the same freeze goes on", ending, "TUF_EXPIRED", told],
  ];
  for (const [name, prev, code, want] of rows) test(name, () => expect(nextFreeze(prev, code, NOW)).toEqual(want));
});

describe("freezeReport and afterReport", () => {
  test("a freeze not told yet: channel_frozen, with the code, the message and since when; naming no job", () => {
    const body = freezeReport("release", untold, "channel release (tuf+https://x/metadata): signed metadata expired", NOW)!;
    expect(body).toEqual({
      event: "channel_frozen", channel: "release", code: "TUF_EXPIRED", message: "channel release (tuf+https://x/metadata): signed metadata expired",
      since: new Date(T0).toISOString(), at: new Date(NOW).toISOString(),
    });
    for (const key of ["jobId", "status", "state", "seq"]) expect(body).not.toHaveProperty(key);
    expect(afterReport(untold)).toEqual(told);
  });

  test("a told freeze: nothing due", () => expect(freezeReport("release", told, "m", NOW)).toBeUndefined());
  test("no freeze: nothing due", () => expect(freezeReport("release", undefined, "m", NOW)).toBeUndefined());

  test("an ended freeze: channel_unfrozen with its span; once told, no freeze is left", () => {
    expect(freezeReport("release", ending, undefined, NOW)).toEqual({
      event: "channel_unfrozen", channel: "release", since: new Date(T0).toISOString(), until: new Date(1_500_000).toISOString(), at: new Date(NOW).toISOString(),
    });
    expect(afterReport(ending)).toBeUndefined();
  });
});
