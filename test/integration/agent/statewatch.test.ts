// watchStateFiles against real files: inotify, and the poll otter falls back to when no
// watch can be had. That failure is made by a watch that throws EMFILE as inotify_init does
// at fs.inotify.max_user_instances: reaching the real limit would break every other process
// of the user on the machine (it is per user), including other tests.
import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { POLL_MS, watchStateFiles } from "../../../src/agent/statewatch.ts";
import { waitFor } from "../../helpers/rig.ts";

const dir = mkdtempSync(join(tmpdir(), "otter-statewatch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

const noInotify = (() => {
  throw Object.assign(new Error("EMFILE: too many open files, watch"), { code: "EMFILE" });
}) as unknown as typeof import("node:fs").watch;

// A file written as otter writes its state: a temp file, renamed onto the name.
function write(name: string): void {
  writeFileSync(join(dir, `${name}.tmp`), `{"at": ${Date.now()}}`);
  renameSync(join(dir, `${name}.tmp`), join(dir, name));
}

test.each([
  ["inotify", undefined],
  ["no inotify (EMFILE): the poll", noInotify],
])("%s: another file does not wake; a rename onto approvals.json does", async (_how, watch) => {
  let wakes = 0;
  stops.push(watchStateFiles(dir, ["approvals.json"], () => wakes++, watch));
  write("history.json");
  await Bun.sleep(2 * POLL_MS + 500);
  expect(wakes).toBe(0);
  write("approvals.json");
  await waitFor(() => wakes > 0, 5 * POLL_MS, "a wake-up");
}, 20_000);
