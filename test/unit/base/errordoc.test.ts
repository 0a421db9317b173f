import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CODES_BEGIN, CODES_END, errorReference } from "../../../src/base/errordoc.ts";
import { errorCodes } from "../../../src/base/errors.ts";

test("README's table of error codes is the one errors.ts generates (run scripts/config-doc)", () => {
  const readme = readFileSync(join(import.meta.dir, "../../../README.md"), "utf8");
  const embedded = readme.slice(readme.indexOf(CODES_BEGIN), readme.indexOf(CODES_END) + CODES_END.length);
  expect(embedded).toBe(errorReference());
});

test("every code has a row and a meaning", () => {
  const doc = errorReference();
  for (const c of errorCodes()) {
    expect(doc).toContain(`| \`${c.code}\` |`);
    expect(c.doc.length).toBeGreaterThan(10);
  }
});
