import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../../src/config/config.ts";
import { resolveBoard } from "../../../src/policy/board.ts";

const dir = mkdtempSync(join(tmpdir(), "otter-board-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const policy = (ini: string) => parseConfig(`[policy]\n${ini}`, join(dir, "otter.ini"), { env: {} }).policy;

writeFileSync(join(dir, "model"), "\n  rpi4-b  \nsecond line\n");
writeFileSync(join(dir, "empty"), "\n");

test.each([
  ["board wins over file and command", `board = x86\nboard_file = ${dir}/model\nboard_command = echo nope`, { board: "x86", from: "board" }],
  ["the first non-empty line of board_file, trimmed", `board_file = ${dir}/model\nboard_command = echo nope`, { board: "rpi4-b", from: "board_file" }],
  ["the first line board_command prints", "board_command = printf 'imx8\\nmore\\n'", { board: "imx8", from: "board_command" }],
  ["none configured", "", { from: "none" }],
] as const)("%s", async (_name, ini, expected) => {
  expect(await resolveBoard(policy(ini))).toEqual(expected);
});

test.each([
  ["a missing board_file", `board_file = ${dir}/missing`, `[policy] board_file ${dir}/missing: ENOENT`],
  ["an empty board_file", `board_file = ${dir}/empty`, `[policy] board_file ${dir}/empty: gave no board (empty output)`],
  ["a failing board_command", "board_command = echo no such model >&2; exit 2", `[policy] board_command "echo no such model >&2; exit 2": no such model`],
])("%s leaves the board unknown with one line saying why", async (_name, ini, error) => {
  const b = await resolveBoard(policy(ini));
  expect(b.board).toBeUndefined();
  expect(b.error).toBe(error);
});
