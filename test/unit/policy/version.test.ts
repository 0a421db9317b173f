import { expect, test } from "bun:test";
import { compareVersions } from "../../../src/policy/policy.ts";

// [older, newer]: each pair is checked both ways round.
const ordered: [string, string][] = [
  ["1.9", "1.10"],
  ["1.2.3", "1.2.10"],
  ["1.0-rc1", "1.0"],
  ["1.0-rc2", "1.0-rc10"],
  ["1.0-alpha", "1.0-beta"],
  ["1.0-1", "1.0-alpha"], // numeric identifiers sort below letters (semver)
  ["1.0-rc", "1.0-rc.1"],
  ["2026.11.24-nightly", "2026.11.25-nightly"],
  ["2026.11.24-nightly", "2026.11.24"],
  ["2026.9.30", "2026.11.1"],
  ["v1.9", "v1.10"],
  ["1.0.0", "1.0.1"],
  ["20261124000000000001", "20261124000000000002"], // past Number's exact range
  ["1.2b", "1.2c"],
];

test.each(ordered)("%p < %p", (older, newer) => {
  expect(compareVersions(older, newer)).toBe(-1);
  expect(compareVersions(newer, older)).toBe(1);
});

const same: [string, string][] = [
  ["1.0", "1.0.0"],
  ["v1.2", "1.2"],
  ["1.2+build7", "1.2+build9"],
  ["1.2-RC1", "1.2-rc1"],
  ["01.2", "1.2"],
];

test.each(same)("%p = %p", (a, b) => {
  expect(compareVersions(a, b)).toBe(0);
  expect(compareVersions(b, a)).toBe(0);
});
