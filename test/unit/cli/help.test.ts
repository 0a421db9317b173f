// The help text, the man page's COMMANDS section and docs/command-line.md's block, made from the one
// table in src/cli/commands.ts: every command and option shows, in 80 columns.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS, FLAGS, flagsOf, type CommandSpec } from "../../../src/cli/commands.ts";
import { HELP_BEGIN, HELP_END, HELP_FILE, helpDoc, helpText, manCommands, wrap } from "../../../src/cli/help.ts";

const ALL = COMMANDS as readonly CommandSpec[];

test("docs/command-line.md's block is what otter --help prints (run scripts/config-doc)", () => {
  const doc = readFileSync(join(import.meta.dir, "../../..", HELP_FILE), "utf8");
  expect(doc.slice(doc.indexOf(HELP_BEGIN), doc.indexOf(HELP_END) + HELP_END.length)).toBe(helpDoc());
});

test("otter help names every command with its synopsis, and every shared option", () => {
  const text = helpText();
  for (const c of ALL) {
    expect(text).toContain(`\n  ${c.name.padEnd(14)}${c.summary.split(" ")[0]}`);
    expect(text).toMatch(new RegExp(`^(Usage:|  or: ) otter \\[?${c.name}\\b`, "m"));
  }
  for (const f of FLAGS.filter((f) => !Array.isArray(f.for))) expect(text).toContain(`  ${f.short ? `${f.short}, ` : ""}${f.name}`);
});

test.each(ALL.map((c) => [c.name, c] as const))("otter help %s: its synopsis, its text and each of its options", (_name, c) => {
  const text = helpText(c.name);
  expect(text).toStartWith(`Usage: otter ${c.default ? `[${c.name}]` : c.name}`);
  expect(text.replace(/\s+/g, " ")).toContain(c.doc);
  for (const f of flagsOf(c)) expect(text.replace(/\s+/g, " ")).toContain(f.doc);
});

test("install's help lists its own --version V and otter's version only as -V", () => {
  const text = helpText("install");
  expect(text).toContain("\n  --version V ");
  expect(text).toContain("\n  -V ");
  expect(text).not.toContain("-V, --version");
});

test("help lines fit 80 columns, but for the synopses help2man reads one per line", () => {
  for (const name of [undefined, ...ALL.map((c) => c.name)]) {
    const long = helpText(name).split("\n").filter((l) => l.length > 80 && !/^(Usage:|  or: ) otter /.test(l));
    expect(long).toEqual([]);
  }
});

test("wrap breaks between words, indents the rest, and keeps a word longer than the line whole", () => {
  expect(wrap("a b c", 2, 0)).toEqual(["a b c"]);
  const long = wrap(Array(30).fill("word").join(" "), 4);
  expect(long.length).toBeGreaterThan(1);
  for (const l of long) expect(l).toMatch(/^ {4}word( word)*$/);
  expect(wrap("x".repeat(90))).toEqual(["x".repeat(90)]);
});

test("the man page's COMMANDS section: a subsection per command with its synopsis and own options, roff-escaped", () => {
  const roff = manCommands();
  expect(roff).toStartWith("[COMMANDS]\n");
  for (const c of ALL) {
    expect(roff).toContain(`\n.SS "${c.name.replace(/-/g, "\\-")}"\n.B otter `);
    for (const f of flagsOf(c).filter((f) => Array.isArray(f.for))) expect(roff).toContain(`.B ${f.name.replace(/-/g, "\\-")}`);
  }
  expect(roff).not.toMatch(/^[.'](?!SS |B |PP$|TP$)/m); // no text line is taken for a request
});
