// journald-native logs from the built otter: when stderr is the stream JOURNAL_STREAM names
// (systemd sets it to the device:inode of the journal's socket), every line carries its
// sd-daemon priority (<3> error ... <7> debug) and no timestamp of its own. Here stderr is a
// file and JOURNAL_STREAM that file's device:inode, as systemd would set it.
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { NODE_BUNDLE, OTTER, perTest, type Rig } from "../../helpers/rig.ts";

const fx = perTest();
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR) +/;

function streamOf(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

/** Run `otter --once -v` with stderr into a file; `journal` picks the file JOURNAL_STREAM names. */
async function runToFile(r: Rig, command: readonly string[], journal: "this file" | "another file" | "unset", extra: string[] = []): Promise<string[]> {
  const path = join(r.dir, "stderr");
  const fd = openSync(path, "w");
  const other = join(r.dir, "other");
  closeSync(openSync(other, "w"));
  const env: Record<string, string | undefined> = { ...process.env, JOURNAL_STREAM: journal === "this file" ? streamOf(path) : journal === "another file" ? streamOf(other) : undefined };
  if (journal === "unset") delete env.JOURNAL_STREAM;
  const child = spawn(command[0]!, [...command.slice(1), "run", "--once", "-v", ...extra, "-c", r.config], { stdio: ["ignore", "ignore", fd], env });
  await new Promise((resolve) => child.once("exit", resolve));
  closeSync(fd);
  return readFileSync(path, "utf8").trim().split("\n");
}

// A job whose install hook fails (an ERROR), a channel without a manifest (a WARNING), -v (DEBUG and INFO).
function failingRig(command: readonly string[]): Rig {
  fx.server.publish("release", "1.0.0", "1.0.0");
  const r = fx.rig({ command: [...command], channels: ["release", "beta"] });
  r.exits("install", 1);
  return r;
}

describe.each([["the Bun binary", [OTTER]], ["the node bundle", NODE_BUNDLE]] as const)("%s", (_name, command) => {
  test("stderr is the journal: <priority> prefixes, no timestamps, so journalctl -p err finds the errors", async () => {
    const lines = await runToFile(failingRig(command), command, "this file");
    expect(lines.filter((l) => !/^<[3467]>\S/.test(l))).toEqual([]);
    expect(lines.filter((l) => /\d\d:\d\d:\d\dZ/.test(l.slice(0, 30)))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^<3>job release:1\.0\.0:[0-9a-f]{12} failed in install: install hook failed: Exit code: 1/));
    expect(lines).toContainEqual(expect.stringMatching(/^<4>\S+\/beta.json: HTTP 404 channel=beta$/));
    expect(lines).toContainEqual(expect.stringMatching(/^<6>running install hook job=/));
    expect(lines).toContainEqual(expect.stringMatching(/^<7>job release:1\.0\.0:[0-9a-f]{12}: install$/));
  });

  test("a stderr JOURNAL_STREAM does not name (a hook's pipe, a redirect) keeps the human format", async () => {
    const lines = await runToFile(failingRig(command), command, "another file");
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((l) => !TIMESTAMP.test(l))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^\S+ ERROR   job release:1\.0\.0:\S+ failed in install/));
  });

  test("--json-logs stays JSON lines, journal or not", async () => {
    const lines = await runToFile(failingRig(command), command, "this file", ["--json-logs"]);
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.every((p) => typeof p.ts === "string" && typeof p.level === "string")).toBe(true);
    expect(parsed.some((p) => p.level === "ERROR" && /failed in install/.test(p.msg))).toBe(true);
  });
});

test("a TTY keeps the human format, even with JOURNAL_STREAM set", async () => {
  const r = failingRig([OTTER]);
  const journal = join(r.dir, "journal");
  closeSync(openSync(journal, "w"));
  // script(1) gives otter a pseudo-terminal as stdout and stderr.
  const child = spawn("script", ["-qec", `${OTTER} run --once -v -c ${r.config}`, "/dev/null"], {
    stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, JOURNAL_STREAM: streamOf(journal) },
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  await new Promise((resolve) => child.once("exit", resolve));
  const lines = out.split(/\r?\n/).filter((l) => /(DEBUG|INFO|WARNING|ERROR) /.test(l));
  expect(lines.length).toBeGreaterThan(5);
  expect(lines.filter((l) => !TIMESTAMP.test(l))).toEqual([]);
});
