// What the last check could not read or understand, for `otter status` and the exit code:
// state_dir/sources.json, there only while something is wrong, rewritten only when that
// changes (a daemon checking every hour does not wear the flash).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import { errorCodes, EXIT, isTransientCode, type ExitCode } from "../base/errors.ts";
import { array, longText, object, oneOf, shortText, type Check } from "../base/shape.ts";
import { loadOwned, loadShared } from "../base/statefile.ts";
import type { SourceProblem } from "../sources/source.ts";

/** A problem and since when it has been seen, check after check. */
export interface SourceProblemSeen extends SourceProblem {
  since: string;
}

const file = (dir: string) => join(dir, "sources.json");
const key = (p: SourceProblem) => `${p.where}\n${p.code}\n${p.message}`;

const seenList: Check<SourceProblemSeen[]> = array(object({
  where: shortText, code: oneOf(errorCodes().map((c) => c.code)), message: longText, since: shortText,
}));

/** The problems the last check saw; none when the file is missing or of the wrong shape (with a warning). */
export function readSourceProblems(dir: string): SourceProblemSeen[] {
  return loadShared("sources.json", file(dir), seenList, []);
}

/** Record the problems of the check made at `now` (ms epoch); none removes the file. */
export function noteSourceProblems(dir: string, problems: SourceProblem[], now: number): void {
  const before = loadOwned("sources.json", file(dir), seenList, []);
  if (before.map(key).join("\0") === problems.map(key).join("\0")) return;
  if (!problems.length) return rmSync(file(dir), { force: true });
  const since = new Map(before.map((p) => [key(p), p.since]));
  const seen = problems.map((p) => ({ ...p, since: since.get(key(p)) ?? new Date(now).toISOString() }));
  writeFileAtomic(file(dir), JSON.stringify(seen, null, 1));
}

/**
 * A check's verdict when no job starts, given what could not be read: "nothing to do" (0)
 * only when everything was read; else 5 when a source could not be understood (a person
 * must fix it), 3 when one was only unreachable. A wait (3: approval, soak, window) stays
 * 3, which cron scripts act on (`otter approve ID`); the summary names the problems.
 */
export function withProblems(verdict: { code: ExitCode; summary: string }, problems: SourceProblem[]): { code: ExitCode; summary: string } {
  if (!problems.length) return verdict;
  const invalid = problems.some((p) => !isTransientCode(p.code));
  const code = verdict.code !== EXIT.ok ? verdict.code : invalid ? EXIT.sourceInvalid : EXIT.retryLater;
  return { code, summary: `${problems.map((p) => p.message).join("; ")}; of the rest: ${verdict.summary}` };
}
