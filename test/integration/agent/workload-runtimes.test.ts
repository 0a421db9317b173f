// The workload's process group and death report depend on the runtime's spawn: check them
// in a Bun-compiled binary and in an esbuild bundle under node, as otter ships.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diesWithin } from "../../helpers/procs.ts";
import { drivers, sh } from "../../helpers/runtimes.ts";

const tmp = mkdtempSync(join(tmpdir(), "otter-workloadrt-"));
const { runtimes: RUNTIMES, build } = drivers("test/fixtures/workload/driver.ts", tmp);

beforeAll(build, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

for (const [runtime, [cmd, ...pre]] of Object.entries(RUNTIMES)) {
  describe(runtime, () => {
    test("own group and session, death reported with its signal, stop ends the group", async () => {
      const scratch = mkdtempSync(join(tmp, "run-"));
      const out = sh(cmd!, [...pre, scratch]);
      const r = JSON.parse(out);
      expect([r.pgid, r.sid, r.ppid]).toEqual([r.pid, r.pid, r.self]);
      expect(r.death).toEqual({ code: null, signal: "SIGKILL", stopped: false });
      expect(r.stopped).toEqual({ code: null, signal: "SIGKILL", stopped: true });
      expect(await diesWithin(r.grandchild)).toBe(true);
      expect(out).not.toContain("onDeath fired");
    }, 40_000);
  });
}
