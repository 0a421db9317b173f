import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configReference, DOC_BEGIN, DOC_END } from "../../../src/config/configdoc.ts";
import { SCHEMA } from "../../../src/config/schema.ts";

test("README's config reference is the one SCHEMA generates (run scripts/config-doc)", () => {
  const readme = readFileSync(join(import.meta.dir, "../../../README.md"), "utf8");
  const embedded = readme.slice(readme.indexOf(DOC_BEGIN), readme.indexOf(DOC_END) + DOC_END.length);
  expect(embedded).toBe(configReference());
});

test("every schema key has a row", () => {
  const doc = configReference();
  for (const row of SCHEMA) expect(doc).toContain(`| [${row.section}] | \`${row.key}\``);
});
