// sources.json: what the last check could not read, kept only while something is wrong,
// and the verdict a check gives when some source could not be read.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noteSourceProblems, readSourceProblems, withProblems } from "../../../src/agent/sourcestatus.ts";
import type { ExitCode } from "../../../src/base/errors.ts";
import type { SourceProblem } from "../../../src/sources/source.ts";

const dir = mkdtempSync(join(tmpdir(), "otter-sources-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const invalid: SourceProblem = { where: "channel release", code: "MANIFEST_INVALID", message: 'manifest release: "sha256": expected 64 hex digits' };
const down: SourceProblem = { where: "channel nightly", code: "SOURCE_UNAVAILABLE", message: "manifest nightly: ECONNREFUSED" };
const nothing: { code: ExitCode; summary: string } = { code: 0, summary: "nothing to do: no offers" };

test("a problem is kept with the time it was first seen; none removes the file", () => {
  noteSourceProblems(dir, [invalid], Date.UTC(2026, 0, 1));
  const written = statSync(join(dir, "sources.json")).mtimeMs;
  noteSourceProblems(dir, [invalid], Date.UTC(2026, 0, 2)); // unchanged: not rewritten
  expect(statSync(join(dir, "sources.json")).mtimeMs).toBe(written);
  noteSourceProblems(dir, [invalid, down], Date.UTC(2026, 0, 3));
  expect(readSourceProblems(dir)).toEqual([
    { ...invalid, since: "2026-01-01T00:00:00.000Z" },
    { ...down, since: "2026-01-03T00:00:00.000Z" },
  ]);
  noteSourceProblems(dir, [], Date.UTC(2026, 0, 4));
  expect(existsSync(join(dir, "sources.json"))).toBe(false);
  expect(readSourceProblems(dir)).toEqual([]);
});

test("a sources.json of the wrong shape reads as none and is moved aside by the next check, which goes on", () => {
  const own = mkdtempSync(join(dir, "shape-"));
  writeFileSync(join(own, "sources.json"), JSON.stringify([null, { where: "channel release", code: "NO_SUCH_CODE", message: "m", since: "s" }]));
  expect(readSourceProblems(own)).toEqual([]);
  noteSourceProblems(own, [down], Date.UTC(2026, 0, 5));
  expect(readSourceProblems(own)).toEqual([{ ...down, since: "2026-01-05T00:00:00.000Z" }]);
  expect(readdirSync(own).filter((f) => f.startsWith("sources.json.corrupt-"))).toHaveLength(1);
});

test.each<[string, SourceProblem[], { code: ExitCode; summary: string }, ExitCode]>([
  ["everything read: the verdict stands", [], nothing, 0],
  ["a source otter cannot understand needs a person: exit 5", [invalid], nothing, 5],
  ["an invalid one beside an unreachable one: still 5", [down, invalid], nothing, 5],
  ["one unreachable: not 'nothing to do', retry later", [down], nothing, 3],
  ["one unreachable while the policy waits: the wait's code", [down], { code: 3, summary: "wait" }, 3],
  ["an invalid one while the policy waits (an approval a script acts on): still the wait's 3", [invalid], { code: 3, summary: "wait" }, 3],
])("%s", (_name, problems, verdict, code) => {
  const out = withProblems(verdict, problems);
  expect(out.code).toBe(code);
  if (problems.length) expect(out.summary).toBe(`${problems.map((p) => p.message).join("; ")}; of the rest: ${verdict.summary}`);
  else expect(out).toEqual(verdict);
});
