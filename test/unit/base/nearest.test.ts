// nearest: the "did you mean" of config keys and of the command line.
import { expect, test } from "bun:test";
import { editDistance, nearest } from "../../../src/base/nearest.ts";

test.each([
  ["status", "status", 0],
  ["stauts", "status", 1], // two letters swapped is one edit
  ["retry_intervall", "retry_interval", 1],
  ["ru", "run", 1],
  ["fish", "bash", 2],
  ["", "abc", 3],
  ["ca", "abc", 3], // optimal string alignment: a swapped pair is not edited again
])("editDistance(%j, %j) = %d", (a, b, d) => {
  expect(editDistance(a, b)).toBe(d);
  expect(editDistance(b, a)).toBe(d);
});

test("nearest: the closest within max, the first on a tie, none beyond max", () => {
  expect(nearest("plna", ["run", "plan", "status"])).toBe("plan");
  expect(nearest("ab", ["ax", "ay"])).toBe("ax");
  expect(nearest("frobnicate", ["run", "plan"])).toBeUndefined();
  expect(nearest("fish", ["bash"], 1)).toBeUndefined();
});
