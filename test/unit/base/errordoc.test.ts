import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CODES_BEGIN, CODES_END, CODES_FILE, errorReference } from "../../../src/base/errordoc.ts";
import { errorCodes, EXIT_DOC } from "../../../src/base/errors.ts";

const DOC = readFileSync(join(import.meta.dir, "../../..", CODES_FILE), "utf8");

test("docs/exit-codes.md's table of error codes is the one errors.ts generates (run scripts/config-doc)", () => {
  const embedded = DOC.slice(DOC.indexOf(CODES_BEGIN), DOC.indexOf(CODES_END) + CODES_END.length);
  expect(embedded).toBe(errorReference());
});

test("every code has a row and a meaning", () => {
  const doc = errorReference();
  for (const c of errorCodes()) {
    expect(doc).toContain(`| \`${c.code}\` |`);
    expect(c.doc.length).toBeGreaterThan(10);
  }
});

test("docs/exit-codes.md's table of exit codes has one row per exit code, in order", () => {
  const section = DOC.slice(DOC.indexOf("## Exit codes"), DOC.indexOf("## Error codes"));
  const rows = [...section.matchAll(/^\| (\d+) \| /gm)].map((m) => Number(m[1]));
  expect(rows).toEqual(Object.keys(EXIT_DOC).map(Number));
});
