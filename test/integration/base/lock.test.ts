// Lock files on disk (src/base/lock.ts): a dead holder's lock is taken over, a live one never,
// including a live lock that appeared between judging the old holder dead and removing it;
// the pid and start time of a live process name its holder only within the boot it names.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { retire, takeLock, type Holder } from "../../../src/base/lock.ts";
import { identify } from "../../../src/base/proc.ts";
import { OTHER_BOOT } from "../../helpers/procs.ts";

const dir = mkdtempSync(join(tmpdir(), "otter-lock-"));
// Another process that holds a lock for as long as the tests run.
const other = Bun.spawn(["sleep", "600"]);
const live: Holder = identify(other.pid);
afterAll(() => {
  other.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;

const me: Holder = identify(process.pid);
// A holder that has exited: a real process, waited for.
const dead = async (): Promise<Holder> => {
  const p = Bun.spawn(["true"]);
  const id = identify(p.pid);
  const holder = { ...id, startTicks: id.startTicks || "1" };
  await p.exited;
  return holder;
};
const lockFile = () => join(dir, `l${++n}.lock`);

test("a dead holder's lock is taken over, then released", async () => {
  const path = lockFile();
  writeFileSync(path, JSON.stringify(await dead()));
  const got = takeLock(path, me);
  expect("release" in got).toBe(true);
  expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(me);
  if ("release" in got) got.release();
  expect(existsSync(path)).toBe(false);
});

test("a live holder's lock is not taken", () => {
  const path = lockFile();
  writeFileSync(path, JSON.stringify(live));
  expect(takeLock(path, me)).toEqual({ holder: live });
  expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(live);
});

test("a lock this process holds is not taken again by it (two callers in one otter)", () => {
  const path = lockFile();
  const got = takeLock(path, me);
  expect(takeLock(path, me)).toEqual({ holder: me });
  if ("release" in got) got.release();
  expect(existsSync(path)).toBe(false);
});

// Found by scripts/powercut: after a power cut the next boot's first otter had pid 112 again,
// with the dead holder's start time, and took the old boot's lock for its live holder (exit 2).
test("a lock from another boot is taken over, though its pid and start time are a live process's", () => {
  const path = lockFile();
  writeFileSync(path, JSON.stringify({ ...live, bootId: OTHER_BOOT }));
  expect("release" in takeLock(path, me)).toBe(true);
  expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(me);
});

test("a lock naming this very process (pid, start time, boot) that it did not take is taken over", () => {
  const path = lockFile();
  writeFileSync(path, JSON.stringify(me));
  const got = takeLock(path, me);
  expect("release" in got).toBe(true);
  if ("release" in got) got.release();
  expect(existsSync(path)).toBe(false);
});

test("an older otter's lock (no boot id) of a live process is not taken", () => {
  const path = lockFile();
  const { bootId: _, ...old } = live;
  writeFileSync(path, JSON.stringify(old));
  expect(takeLock(path, me)).toEqual({ holder: old as Holder });
});

// Found by CI as a lost `otter approve`: the judged holder released and exited, a third
// process took the lock anew, and the newcomer removed that live lock as the dead one's.
test("retire leaves a lock taken anew after the old holder was judged dead", async () => {
  const path = lockFile();
  const judged = { text: JSON.stringify(await dead()), mtimeMs: Date.now() - 60_000 };
  writeFileSync(path, JSON.stringify(live)); // the live lock that replaced it
  retire(path, judged);
  expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(live);
  expect(readdirSync(dir).filter((f) => f.includes(".stale-"))).toEqual([]);
});

test("retire removes the dead holder's file it judged", async () => {
  const path = lockFile();
  const text = JSON.stringify(await dead());
  writeFileSync(path, text);
  retire(path, { text, mtimeMs: Date.now() });
  expect(existsSync(path)).toBe(false);
  expect(readdirSync(dir).filter((f) => f.includes(".stale-"))).toEqual([]);
});

test("retire leaves a lock being created (empty and fresh) even when an old empty one was judged", () => {
  const path = lockFile();
  writeFileSync(path, "");
  retire(path, { text: "", mtimeMs: Date.now() - 60_000 });
  expect(existsSync(path)).toBe(true);
});
