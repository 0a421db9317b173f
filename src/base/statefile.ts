// Reading otter's own JSON state files (journal, approvals, history) through their shape
// validators. A file that is not JSON or not of its shape is never half-used: the process
// that owns the file (under its lock) moves it aside with one log line and starts that file
// afresh; readers that change nothing (status, plan, the daemon between writes) warn once
// and read it as empty.
import { readFileSync, renameSync } from "node:fs";
import { describe } from "./errors.ts";
import { log } from "./log.ts";
import type { Check } from "./shape.ts";

// The file's checked value, undefined when there is none, or why it cannot be used.
function read<T>(path: string, check: Check<T>): { value?: T; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? {} : { problem: `cannot read: ${describe(err)}` };
  }
  try {
    return { value: check(JSON.parse(text), "") };
  } catch (err) {
    return { problem: err instanceof SyntaxError ? `not JSON: ${describe(err)}` : describe(err) };
  }
}

/** For the file's owner: its value; `empty` when missing, or when unusable after moving it to PATH.corrupt-TIME with one log line. */
export function loadOwned<T>(what: string, path: string, check: Check<T>, empty: T): T {
  const { value, problem } = read(path, check);
  if (problem === undefined) return value ?? empty;
  const aside = `${path}.corrupt-${Date.now()}`;
  renameSync(path, aside);
  log.error(`${what} unreadable (${problem}); moved to ${aside}; starting afresh`);
  return empty;
}

const warned = new Set<string>();

/** For a reader that changes nothing: its value, or `empty` when missing or unusable (then one warning per file and problem per process). */
export function loadShared<T>(what: string, path: string, check: Check<T>, empty: T): T {
  const { value, problem } = read(path, check);
  if (problem === undefined) return value ?? empty;
  if (!warned.has(`${path}\n${problem}`)) {
    warned.add(`${path}\n${problem}`);
    log.warn(`${what} unreadable (${problem}): ${path}; read as empty until otter moves it aside`);
  }
  return empty;
}
