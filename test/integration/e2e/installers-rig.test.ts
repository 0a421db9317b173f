// examples/rig/ for real: one host flashing three boards, one otter daemon per board made by
// examples/rig/generate from a board list, with test/fixtures/rig/bench standing in for the
// power switch, the flasher and the boards. Each board's soak test is its otter's
// supervised workload: when one dies, that board alone is flashed again.
import { afterEach, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../helpers/otter.ts";
import { tempDir } from "../../helpers/pki.ts";
import { OTTER, perTest, waitFor } from "../../helpers/rig.ts";

const EXAMPLE = join(ROOT, "examples/rig");
const BENCH = join(ROOT, "test/fixtures/rig/bench");
const BOARDS = ["board-1", "board-2", "board-3"];
const fx = perTest();
const daemons: Subprocess[] = [];
let dir: string;

afterEach(async () => {
  for (const d of daemons.splice(0)) {
    d.kill("SIGTERM");
    await d.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** The example's template, pointed at the test's update server and checking every second. */
function template(): string {
  return readFileSync(join(EXAMPLE, "otter.ini"), "utf8")
    .replace("check_interval = 1h", `check_interval = 1\ncheck_jitter = 0\nreport_url = ${fx.server.url}/report`)
    .replace("weekly = https://updates.example.com/weekly.json", `weekly = ${fx.server.url}/weekly.json\n\n[download]\nallow_http = true`);
}

const log = () => (existsSync(join(dir, "log")) ? readFileSync(join(dir, "log"), "utf8").trim().split("\n") : []);
const count = (line: string) => log().filter((l) => l === line).length;

test("three boards flashed at once; a dead soak test reflashes only its board", async () => {
  dir = tempDir("otter-rig-bench-");
  const bench = (what: string, board: string) => `${BENCH} ${dir} ${what} ${board}`;
  writeFileSync(join(dir, "boards"), BOARDS.map((b) => [b, ...["power", "flash", "version", "soak"].map((w) => bench(w, b))].join(" | ")).join("\n") + "\n");
  writeFileSync(join(dir, "otter.ini"), template());
  execFileSync(join(EXAMPLE, "generate"), [join(dir, "boards"), join(dir, "otter.ini"), join(dir, "rig")]);
  fx.server.publish("weekly", "1.0.0", "1.0.0\nthe weekly image\n");
  for (const b of BOARDS) daemons.push(Bun.spawn([OTTER, "run", "-c", join(dir, "rig", b, "otter.ini")], { stdout: "ignore", stderr: "pipe" }));
  await waitFor(() => BOARDS.every((b) => count(`${b} soak 1.0.0`) === 1), 30_000, "every board's soak test to run 1.0.0");
  // Each board: powered off, flashed, powered on, soaked.
  for (const b of BOARDS) expect(log().filter((l) => l.startsWith(`${b} `))).toEqual([`${b} power off`, `${b} flash 1.0.0`, `${b} power on`, `${b} soak 1.0.0`]);

  process.kill(Number(readFileSync(join(dir, "board-2.soak"), "utf8")), "SIGKILL");
  await waitFor(() => count("board-2 soak 1.0.0") === 2, 30_000, "board-2 to be flashed again and soaked");
  expect(count("board-2 flash 1.0.0")).toBe(2);
  expect(count("board-1 flash 1.0.0") + count("board-3 flash 1.0.0")).toBe(2);
  // board-2's otter says why: its workload died, and the reflash (the same job id) succeeded.
  const history = JSON.parse(readFileSync(join(dir, "rig/board-2/state/history.json"), "utf8"));
  expect(history.map((e: { state: string }) => e.state)).toEqual(["workload_died", "complete_no_ready_check"]);
});
