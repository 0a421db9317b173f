import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../../src/base/errors.ts";
import { parseConfig } from "../../../src/config/config.ts";
import { parseWindow } from "../../../src/config/window.ts";
import { closedUntil, describeOpen, isOpen, nextOpen } from "../../../src/policy/window.ts";

// Local wall-clock dates in the week of Monday 2026-11-23 (30 = the next Monday).
const at = (day: number, h: number, m = 0) => new Date(2026, 10, day, h, m);
const MON = 23, TUE = 24, WED = 25, FRI = 27, SAT = 28, SUN = 29, NEXT_MON = 30;

describe("parseWindow errors name the part and the fix", () => {
  const rows: [string, string][] = [
    ["Mon-Fry 02:00-05:00", `[policy] window: "Mon-Fry 02:00-05:00": unknown day "Fry"; e.g. window = Mon-Fri 02:00-05:00, Sat 00:00-24:00`],
    ["Mo 02:00-05:00", `unknown day "Mo"`],
    ["Mon 2:00-25:00", `bad time "25:00"`],
    ["Mon 02:60-03:00", `bad time "02:60"`],
    ["Mon 0200-0500", `bad time "0200"`],
    ["Mon", `"Mon" has no time range HH:MM-HH:MM`],
    ["Mon-Fri 02:00", `"Mon-Fri 02:00" has no time range`],
    ["Mon 02:00-05:00,", "empty entry between commas"],
    ["Mon Tue 02:00-05:00", "has 3 parts"],
    ["Mon-Wed-Fri 02:00-05:00", `bad day range "Mon-Wed-Fri"`],
    ["Sat 24:00-02:00", "starts at 24:00"],
  ];
  test.each(rows)("%p", (text, message) => {
    expect(() => parseWindow(text)).toThrow(ConfigError);
    expect(() => parseWindow(text)).toThrow(message);
  });
  test("accepts full and short day names, any case", () => {
    expect(parseWindow("monday-FRIDAY 02:00-05:00, tues 01:00-02:00").spans.length).toBe(6);
  });
});

describe("isOpen", () => {
  const rows: [string, Date, boolean][] = [
    ["Mon-Fri 02:00-05:00", at(MON, 2, 0), true],
    ["Mon-Fri 02:00-05:00", at(WED, 4, 59), true],
    ["Mon-Fri 02:00-05:00", at(WED, 5, 0), false], // end is exclusive
    ["Mon-Fri 02:00-05:00", at(WED, 1, 59), false],
    ["Mon-Fri 02:00-05:00", at(SAT, 3, 0), false],
    ["Mon-Fri 02:00-05:00, Sat 00:00-24:00", at(SAT, 23, 59), true],
    ["Mon-Fri 02:00-05:00, Sat 00:00-24:00", at(SUN, 0, 0), false],
    ["Fri 22:00-02:00", at(FRI, 23, 0), true], // overnight, same day
    ["Fri 22:00-02:00", at(SAT, 1, 30), true], // overnight, next morning
    ["Fri 22:00-02:00", at(SAT, 2, 0), false],
    ["Fri 22:00-02:00", at(FRI, 1, 0), false], // Thursday night is not in it
    ["Sat 22:00-02:00", at(SUN, 1, 0), true],
    ["Sun 22:00-02:00", at(NEXT_MON, 1, 0), true],
    ["Sat 23:00-01:00", at(SUN, 0, 30), true], // spans the week's end (Sun 00:00)
    ["Fri-Mon 01:00-02:00", at(SUN, 1, 0), true], // wrapping day range
    ["Fri-Mon 01:00-02:00", at(TUE, 1, 0), false],
    ["03:00-04:00", at(TUE, 3, 30), true], // no days = every day
    ["03:00-04:00", at(SUN, 4, 0), false],
    ["", at(TUE, 12, 0), true], // no window = always open
  ];
  test.each(rows)("%p at %p → %p", (text, date, open) => {
    expect(isOpen(parseWindow(text), date)).toBe(open);
  });
});

describe("nextOpen", () => {
  const rows: [string, Date, Date][] = [
    ["Mon-Fri 02:00-05:00", at(TUE, 3, 0), at(TUE, 3, 0)], // open now
    ["Mon-Fri 02:00-05:00", at(TUE, 1, 0), at(TUE, 2, 0)], // later today
    ["Mon-Fri 02:00-05:00", at(TUE, 12, 0), at(WED, 2, 0)], // tomorrow
    ["Mon-Fri 02:00-05:00", at(FRI, 6, 0), at(NEXT_MON, 2, 0)], // over the weekend
    ["Mon-Fri 02:00-05:00, Sat 00:00-24:00", at(FRI, 6, 0), at(SAT, 0, 0)],
    ["Sun 22:00-02:00", at(NEXT_MON, 3, 0), new Date(2026, 11, 6, 22, 0)], // a week on
    ["Sat 23:00-01:00", at(SAT, 12, 0), at(SAT, 23, 0)],
    ["Tue 10:00-11:00", at(TUE, 12, 0), new Date(2026, 11, 1, 10, 0)], // same weekday, next week
  ];
  test.each(rows)("%p after %p → %p", (text, date, expected) => {
    expect(nextOpen(parseWindow(text), date)).toEqual(expected);
  });
});

describe("closedUntil (the install state's check)", () => {
  test.each([
    ["no window: never closed", undefined, at(MON, 12), undefined],
    ["inside: not closed", "Mon-Fri 02:00-05:00", at(TUE, 3), undefined],
    ["before the opening: closed until it", "Mon-Fri 02:00-05:00", at(TUE, 1, 59), at(TUE, 2)],
    ["after the last opening of the week: the next Monday", "Mon-Fri 02:00-05:00", at(FRI, 5), at(NEXT_MON, 2)],
  ] as const)("%s", (_name, text, date, expected) => {
    expect(closedUntil(text, date.getTime())).toBe(expected?.getTime());
  });
});

test("describeOpen names the local weekday and time", () => {
  expect(describeOpen(at(SAT, 2, 5))).toBe("Sat 02:05");
});

test("a bad window is refused when the config loads, naming the file", () => {
  expect(() => parseConfig("[policy]\nwindow = Mon-Fry 02:00-05:00\n", "/etc/otter/otter.ini", { env: {} })).toThrow(
    `otter.ini [policy] window: "Mon-Fry 02:00-05:00": unknown day "Fry"; e.g. window = Mon-Fri 02:00-05:00`,
  );
  expect(parseConfig("[policy]\nwindow = Mon-Fri 02:00-05:00\n", "otter.ini", { env: {} }).policy.window).toBe("Mon-Fri 02:00-05:00");
});
