// LineTail and stripControl: the pure part of reading a hook's output.
import { describe, expect, test } from "bun:test";
import { LineTail, MAX_LINE, stripControl } from "../../../src/base/lines.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("stripControl", () => {
  test.each([
    ["\x1b[1;31mred\x1b[0m", "red"],
    ["\x1b]0;title\x07text", "text"],
    ["a\tb", "a b"],
    ["bell\x07 nul\x00 del\x7f c1\x9b", "bell nul del c1"],
    ["naïve ünïcode ✓", "naïve ünïcode ✓"],
  ])("%j → %j", (input, want) => expect(stripControl(input)).toBe(want));
});

describe("LineTail", () => {
  test("joins lines split across chunks, even inside a UTF-8 character", () => {
    const seen: string[] = [];
    const tail = new LineTail(10, (l) => seen.push(l));
    const all = bytes("first li\u00e9ne\nsecond\r\nthird");
    const cut = all.indexOf(0xa9); // inside "é"
    tail.push(all.subarray(0, cut));
    tail.push(all.subarray(cut));
    expect(seen).toEqual(["first liéne", "second"]);
    tail.end();
    expect(seen).toEqual(["first liéne", "second", "third"]);
    expect(tail.lastNonEmpty).toBe("third");
  });

  test("keeps only the last N non-empty lines", () => {
    const tail = new LineTail(3);
    for (let i = 1; i <= 1000; i++) tail.push(bytes(`line ${i}\n\n   \n`));
    expect(tail.last).toEqual(["line 998", "line 999", "line 1000"]);
  });

  test("cuts a line without newline at MAX_LINE so memory stays bounded", () => {
    const tail = new LineTail(2);
    for (let i = 0; i < 100; i++) tail.push(bytes("x".repeat(1000)));
    expect(tail.last.map((l) => l.length)).toEqual([MAX_LINE, MAX_LINE]);
    tail.end();
    expect(tail.lastNonEmpty.length).toBeLessThanOrEqual(MAX_LINE);
  });

  test("lastNonEmpty is trimmed, last keeps leading spaces", () => {
    const tail = new LineTail(5);
    tail.push(bytes("  indented  \n"));
    expect(tail.lastNonEmpty).toBe("indented");
    expect(tail.last).toEqual(["  indented"]);
  });
});
