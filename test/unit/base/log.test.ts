// Log lines: human (timestamp, level), JSON, and journald's (<priority>, no timestamp);
// say(), the plain line of a usage error.
import { afterAll, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureLog, formatLine, isJournalStream, say } from "../../../src/base/log.ts";

const TS = "2026-11-24T02:13:34Z";
const fields = { job: "release:1.0.0", message: "a b" };

test("human: timestamp, padded level, message, key=value (quoted when needed)", () => {
  expect(formatLine({ json: false, journal: false }, TS, "WARNING", "hook failed", fields)).toBe(`${TS} WARNING hook failed job=release:1.0.0 message="a b"`);
});

test("journald: the sd-daemon priority, no timestamp and no level word", () => {
  const j = { json: false, journal: true };
  expect(formatLine(j, TS, "ERROR", "job failed", fields)).toBe('<3>job failed job=release:1.0.0 message="a b"');
  expect(formatLine(j, TS, "WARNING", "w", {})).toBe("<4>w");
  expect(formatLine(j, TS, "INFO", "i", {})).toBe("<6>i");
  expect(formatLine(j, TS, "DEBUG", "d", {})).toBe("<7>d");
});

test("JSON wins over journald, unchanged", () => {
  expect(JSON.parse(formatLine({ json: true, journal: true }, TS, "INFO", "m", fields))).toEqual({ ts: TS, level: "INFO", msg: "m", ...fields });
});

const dir = mkdtempSync(join(tmpdir(), "otter-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("isJournalStream: only the very stream JOURNAL_STREAM names", () => {
  const fd = openSync(join(dir, "a"), "w");
  const other = openSync(join(dir, "b"), "w");
  const st = statSync(join(dir, "a"), { bigint: true });
  const stream = `${st.dev}:${st.ino}`;
  expect(isJournalStream(stream, fd)).toBe(true);
  expect(isJournalStream(stream, other)).toBe(false);
  expect(isJournalStream(undefined, fd)).toBe(false);
  expect(isJournalStream("garbage", fd)).toBe(false);
  closeSync(fd);
  closeSync(other);
});

test("say: one plain line for a person, journald's error priority, or the JSON line under --json-logs", () => {
  const lines: string[] = [];
  const write = (line: string) => lines.push(line);
  try {
    configureLog({ json: false, journal: false, write });
    say('unknown command "x"', { code: "USAGE" });
    say("otter install: no such file");
    say("bad \u001b[31m input");
    configureLog({ json: false, journal: true, write });
    say("-c needs a value");
    configureLog({ json: true, journal: false, write });
    say("-c needs a value", { code: "USAGE" });
  } finally {
    // The settings are the process's: stderr again for the tests after this one.
    configureLog({ json: false, journal: false, write: (line) => process.stderr.write(line + "\n") });
  }
  expect(lines.slice(0, 4)).toEqual(['otter: unknown command "x"', "otter install: no such file", "otter: bad \\u001b[31m input", "<3>otter: -c needs a value"]);
  expect(JSON.parse(lines[4]!)).toEqual({ ts: expect.any(String), level: "ERROR", msg: "-c needs a value", code: "USAGE" });
});
