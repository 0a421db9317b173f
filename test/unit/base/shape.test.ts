import { describe, expect, test } from "bun:test";
import { array, boolean, count, object, oneOf, optional, record, ShapeError, shortText, text, time, type Check } from "../../../src/base/shape.ts";

interface Inner { url: string; size?: number }
interface Outer { name: string; state: "a" | "b"; inner: Inner; list: boolean[]; counts: Record<string, number> }
const inner: Check<Inner> = object({ url: text(10), size: optional(count) });
const outer: Check<Outer> = object({ name: shortText, state: oneOf(["a", "b"]), inner, list: array(boolean), counts: record(count, oneOf(["x", "y"])) });
const good: Outer = { name: "n", state: "a", inner: { url: "u" }, list: [true], counts: { x: 1 } };

const problem = (v: unknown) => {
  try {
    outer(v, "");
  } catch (err) {
    expect(err).toBeInstanceOf(ShapeError);
    return (err as Error).message;
  }
  return "accepted";
};

describe("shape checks name the field that is wrong", () => {
  test.each([
    ["a string", "job", 'top level: expected an object, got "job"'],
    ["null", null, "top level: expected an object, got null"],
    ["a missing field", { ...good, inner: {} }, "inner.url: expected a string of at most 10 characters, got nothing"],
    ["text too long", { ...good, inner: { url: "u".repeat(11) } }, 'inner.url: expected a string of at most 10 characters, got "uuuuuuuuuuu"'],
    ["an unknown state", { ...good, state: "c" }, 'state: expected one of a, b, got "c"'],
    ["null for an optional field", { ...good, inner: { url: "u", size: null } }, "inner.size: expected a whole number of at least 0, got null"],
    ["a list item", { ...good, list: [true, "yes"] }, 'list[1]: expected true or false, got "yes"'],
    ["a map key", { ...good, counts: { z: 1 } }, 'counts key: expected one of x, y, got "z"'],
    ["a map value", { ...good, counts: { x: -1 } }, "counts.x: expected a whole number of at least 0, got -1"],
    ["the value shown escaped", { ...good, name: "\u202e".repeat(5000) }, 'name: expected a string of at most 4096 characters, got "\\u202e'],
  ])("%s", (_what, value, message) => expect(problem(value)).toStartWith(message));

  test("what came back is the checked value, without unknown keys", () => {
    expect(outer({ ...good, extra: 1, inner: { url: "u", size: 3, junk: true } }, "")).toEqual({ ...good, inner: { url: "u", size: 3 } });
  });

  test("a time is whole ms that a Date can hold; a count is whole and not negative", () => {
    expect(() => time(1e308, "t")).toThrow("t: expected a time in ms since the epoch, got 1e+308");
    expect(() => time(1.5, "t")).toThrow("t: expected a time");
    expect(time(-1000, "t")).toBe(-1000);
    expect(() => count(-1, "c")).toThrow("c: expected a whole number");
  });
});
