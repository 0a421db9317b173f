import { describe, expect, test } from "bun:test";
import { problemOf, sanitize, sanitizeKey, sanitizeValue } from "../../../src/sources/statusdetails.ts";

describe("sanitizeValue", () => {
  const rows: [string, string, string][] = [
    ["plain text stays", "installing rootfs", "installing rootfs"],
    ["empty becomes none (AWS rejects empty values)", "", "none"],
    ["blank becomes none", " \n\t ", "none"],
    ["ANSI colour codes go", "\x1b[31merror\x1b[0m: disk full", "error: disk full"],
    ["a \\r progress bar keeps what a terminal shows last", "10%\r55%\r100%", "100%"],
    ["lines are joined", "line one\nline two\r\n", "line one line two"],
    ["other control characters go", "a\x00b\x07c\x7fd", "abcd"],
    ["format characters go", "a\u200bb", "ab"],
    ["unicode letters stay", "Größe ✓", "Größe ✓"],
  ];
  for (const [name, input, want] of rows) test(name, () => expect(sanitizeValue(input)).toBe(want));

  test("long values are cut to 1024 characters", () => {
    const v = sanitizeValue("x".repeat(5000));
    expect(v.length).toBe(1024);
    expect(v.endsWith("…")).toBe(true);
  });

  test("a cut never splits a surrogate pair", () => {
    const v = sanitizeValue("a".repeat(1022) + "😀".repeat(10));
    expect(v.length).toBeLessThanOrEqual(1024);
    expect(problemOf({ m: v })).toBeUndefined();
  });
});

describe("sanitize", () => {
  test("keeps state and message first and at most 10 pairs", () => {
    const pairs: Record<string, string> = { state: "download_progress", message: "" };
    for (let i = 0; i < 15; i++) pairs[`k${i}`] = `v${i}`;
    const out = sanitize(pairs);
    expect(Object.keys(out).length).toBe(10);
    expect(Object.keys(out).slice(0, 2)).toEqual(["state", "message"]);
    expect(out.message).toBe("none");
    expect(problemOf(out)).toBeUndefined();
  });

  test("bad keys are repaired or dropped", () => {
    expect(sanitizeKey("downloaded bytes")).toBe("downloaded_bytes");
    expect(sanitizeKey("k".repeat(200)).length).toBe(128);
    expect(sanitizeKey("!!!")).toBe("");
    expect(sanitize({ "!!!": "x", ok: "y" })).toEqual({ ok: "y" });
  });
});

describe("problemOf (what AWS answers InvalidRequest to)", () => {
  const rows: [string, unknown, RegExp | undefined][] = [
    ["valid", { state: "a", message: "b" }, undefined],
    ["not an object", "x", /object/],
    ["11 pairs", Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"])), /11 pairs/],
    ["a bad key", { "a b": "x" }, /key "a b"/],
    ["an empty value", { a: "" }, /1-1024/],
    ["a long value", { a: "x".repeat(1025) }, /1-1024/],
    ["a newline", { a: "x\ny" }, /control/],
    ["a number", { a: 1 }, /string/],
  ];
  for (const [name, input, want] of rows) {
    test(name, () => (want ? expect(problemOf(input)).toMatch(want) : expect(problemOf(input)).toBeUndefined()));
  }
});

