// Lock files on disk (src/base/lock.ts): a dead holder's lock is taken over, a live one never,
// including a live lock that appeared between judging the old holder dead and removing it.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { retire, takeLock, type Holder } from "../../../src/base/lock.ts";
import { startTicks } from "../../../src/base/proc.ts";

const dir = mkdtempSync(join(tmpdir(), "otter-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const me: Holder = { pid: process.pid, startTicks: startTicks(process.pid)! };
// A holder that has exited: a real process, waited for.
const dead = async (): Promise<Holder> => {
  const p = Bun.spawn(["true"]);
  const holder = { pid: p.pid, startTicks: startTicks(p.pid) ?? "1" };
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
  writeFileSync(path, JSON.stringify(me));
  expect(takeLock(path, { pid: 1, startTicks: "x" })).toEqual({ holder: me });
  expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(me);
});

// Found by CI as a lost `otter approve`: the judged holder released and exited, a third
// process took the lock anew, and the newcomer removed that live lock as the dead one's.
test("retire leaves a lock taken anew after the old holder was judged dead", async () => {
  const path = lockFile();
  const judged = { text: JSON.stringify(await dead()), mtimeMs: Date.now() - 60_000 };
  writeFileSync(path, JSON.stringify(me)); // the live lock that replaced it
  retire(path, judged);
  expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(me);
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
