// This device's board, for the policy's board check: [policy] board, else the first line
// of board_file, else the first line board_command prints. A configured source that fails
// leaves the board unknown with an error to log; offers that name boards are then refused.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Config } from "../config/config.ts";

export interface Board {
  board?: string;
  /** where it came from */
  from: "board" | "board_file" | "board_command" | "none";
  /** one line, when the configured source failed */
  error?: string;
}

const COMMAND_TIMEOUT_MS = 10_000;

const firstLine = (text: string) => text.split("\n").map((l) => l.trim()).find(Boolean);

function runCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // killSignal reaches only the shell; the command is expected to be a quick `cat` or `tr`.
    execFile("/bin/sh", ["-c", command], { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(firstLine(stderr) ?? err.message.split("\n")[0]));
      else resolve(stdout);
    });
  });
}

/** Find the board as configured. Never throws. */
export async function resolveBoard(policy: Config["policy"]): Promise<Board> {
  if (policy.board) return { board: policy.board, from: "board" };
  const [from, read] = policy.board_file
    ? (["board_file", () => readFile(policy.board_file!, "utf8")] as const)
    : policy.board_command
      ? (["board_command", () => runCommand(policy.board_command!)] as const)
      : (["none", undefined] as const);
  if (!read) return { from };
  const where = `[policy] ${from} ${from === "board_file" ? policy.board_file : JSON.stringify(policy.board_command)}`;
  try {
    const board = firstLine(await read());
    return board ? { board, from } : { from, error: `${where}: gave no board (empty output)` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { from, error: `${where}: ${code ?? (err as Error).message}` };
  }
}
