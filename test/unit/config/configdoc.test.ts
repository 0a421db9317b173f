import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configReference, DOC_BEGIN, DOC_END, DOC_FILE } from "../../../src/config/configdoc.ts";
import { SCHEMA } from "../../../src/config/schema.ts";

test("docs/configuration.md's config reference is the one SCHEMA generates (run scripts/config-doc)", () => {
  const doc = readFileSync(join(import.meta.dir, "../../..", DOC_FILE), "utf8");
  const embedded = doc.slice(doc.indexOf(DOC_BEGIN), doc.indexOf(DOC_END) + DOC_END.length);
  expect(embedded).toBe(configReference());
});

test("every schema key has a row", () => {
  const doc = configReference();
  for (const row of SCHEMA) expect(doc).toContain(`| [${row.section}] | \`${row.key}\``);
});
