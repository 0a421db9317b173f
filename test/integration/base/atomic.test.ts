// The atomic write helper under SIGKILL: whatever instant the writer dies, the file holds
// a whole old or new version, never a torn mix, a reader never sees one either, and the
// next start removes the temp files dead writers left behind. (A SIGKILL cannot tear one
// write(2); a reader racing the writer is what catches a non-atomic writer here.)
import { expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeStaleTemps, writeFileAtomic } from "../../../src/base/atomic.ts";
import { waitFor } from "../../helpers/rig.ts";

const WRITER = join(import.meta.dir, "../../helpers/atomicwriter.ts");

test("a writer SIGKILLed 50 times while writing never leaves a torn file, nor shows one to a reader", async () => {
  const dir = mkdtempSync(join(tmpdir(), "otter-atomic-"));
  const file = join(dir, "journal.json");
  const read = () => JSON.parse(readFileSync(file, "utf8")) as { n: number; pad: string };
  let last = 0;
  try {
    for (let i = 0; i < 50; i++) {
      const writer = Bun.spawn([process.execPath, WRITER, file], { stdout: "ignore", stderr: "inherit" });
      // Kill it only once it is writing: the file has moved past what the last writer left.
      await waitFor(() => existsSync(file) && read().n > last, 10_000, "the writer to write");
      // A reader (otter status) meanwhile sees whole versions only.
      const until = Date.now() + Math.random() * 30;
      while (Date.now() < until) expect(read().pad).toHaveLength(256 * 1024);
      writer.kill("SIGKILL");
      await writer.exited;
      const { n, pad } = read();
      expect(pad).toHaveLength(256 * 1024);
      expect(n).toBeGreaterThan(last);
      last = n;
    }
    // Killed writers leave temp files; the dead ones' are removed, the file stays.
    const temps = readdirSync(dir).filter((f) => f.endsWith(".tmp"));
    expect(removeStaleTemps(dir)).toBe(temps.length);
    expect(readdirSync(dir)).toEqual(["journal.json"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test("a live writer's temp file is left alone", () => {
  const dir = mkdtempSync(join(tmpdir(), "otter-atomic-"));
  try {
    writeFileSync(join(dir, `.journal.json.${process.pid}.tmp`), "in progress");
    expect(removeStaleTemps(dir)).toBe(0);
    expect(readdirSync(dir)).toEqual([`.journal.json.${process.pid}.tmp`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Issue 10 class 2: a link planted at the temp name must not make root write through it.
test("a symlink or a file planted at the temp file's name is replaced, never written through", () => {
  const dir = mkdtempSync(join(tmpdir(), "otter-atomic-"));
  try {
    const victim = join(dir, "victim");
    writeFileSync(victim, "precious");
    symlinkSync(victim, join(dir, `.journal.json.${process.pid}.tmp`));
    writeFileAtomic(join(dir, "journal.json"), "new");
    expect(readFileSync(victim, "utf8")).toBe("precious");
    expect(readFileSync(join(dir, "journal.json"), "utf8")).toBe("new");
    expect(lstatSync(join(dir, "journal.json")).isSymbolicLink()).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(["journal.json", "victim"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
