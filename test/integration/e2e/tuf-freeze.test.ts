// A TUF channel's freeze (its signed metadata expired) through the built otter: told to
// report_url once when it begins and once when it ends, not at each check, in bodies that
// name no job; and a job whose metadata expires (or changes) while its file downloads: the
// download finishes, the install waits for fresh metadata that still signs that file.
// Repositories made by scripts/tuf-repo, served on 127.0.0.1; libfaketime moves the clock.
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FakeClock, LIBFAKETIME } from "../../helpers/faketime.ts";
import { perTest, waitFor, type Rig } from "../../helpers/rig.ts";
import { TufRepo } from "../../helpers/tufrepo.ts";

const t = perTest();
const repos: TufRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

function repo(): TufRepo {
  const r = new TufRepo(t.server);
  repos.push(r);
  return r;
}

function device(r: TufRepo): Rig {
  return t.rig({ set: { channels: { release: r.channelUrl }, tuf: { trusted_root: r.root } } });
}

/** A device whose install hook stages VERSION when it gets exactly `body`. */
function deviceFor(r: TufRepo, body: Uint8Array, version: string): Rig {
  const rig = device(r);
  writeFileSync(join(rig.dir, "expected"), body);
  rig.writeHook("install", `cmp -s "$4" "$T/expected" && echo ${version} > "$T/staged"`);
  return rig;
}

const image = (seed: number) => new Uint8Array(256 * 1024).map((_, i) => (i + seed) % 251);
const fileGets = () => t.server.requests.filter((q) => q.method === "GET" && q.path.startsWith("/targets/"));
const installRuns = (rig: Rig) => rig.log().filter((l) => l.startsWith("install start"));

/** report_url bodies that are a channel's events, not a job's reports. */
const events = () => t.server.reports.filter((b) => b.event !== undefined);
/** checks made so far: each asks for timestamp.json once */
const checks = () => t.server.requests.filter((q) => q.path === "/metadata/timestamp.json").length;

describe("a TUF freeze reaches report_url", () => {
  test("once when it begins (delayed by a report_url outage, never repeated by the daemon's checks or a restart) and once when it ends", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    r.bump(["timestamp"], -1);
    const rig = device(r);
    t.server.reportStatus = 503;
    const daemon = rig.start(["run"]);
    try {
      await waitFor(() => checks() >= 2 && t.server.requests.some((q) => q.method === "POST"), 20_000, "two frozen checks while report_url answers 503");
      expect(events()).toEqual([]);
      t.server.reportStatus = 200;
      await waitFor(() => events().length === 1, 20_000, "the freeze's report once report_url answers");
      const seen = checks();
      await waitFor(() => checks() >= seen + 2, 20_000, "two more frozen checks");
      expect(events()).toHaveLength(1);
    } finally {
      daemon.kill("SIGTERM");
      await daemon.exited;
    }
    const [frozen] = events();
    expect(frozen).toEqual({
      thing: expect.any(String), event: "channel_frozen", channel: "release", code: "TUF_EXPIRED",
      message: expect.stringMatching(/^channel release \(tuf\+http:\/\/127\.0\.0\.1:\d+\/metadata\): signed metadata expired/),
      since: expect.any(String), at: expect.any(String),
    });
    // The freeze began at the first check that saw it, before report_url could be told.
    expect(Date.parse(frozen!.since)).toBeLessThan(Date.parse(frozen!.at) - 500);
    expect(await new Response(daemon.stderr).text()).toMatch(/WARNING report of channel release's channel_frozen not delivered; sent again at the next check: report_url \S+: HTTP 503/);
    // A new otter, still frozen: nothing new told; `otter plan` tells nothing either.
    expect((await rig.run()).code).toBe(3);
    expect((await rig.run(["plan"])).code).toBe(0);
    expect(events()).toHaveLength(1);
    // Fresh metadata ends the freeze: told once, before the job's own reports.
    r.bump(["timestamp"]);
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("1.0.0");
    expect((await rig.run()).code).toBe(0);
    expect(events()).toEqual([frozen, { thing: frozen!.thing, event: "channel_unfrozen", channel: "release", since: frozen!.since, until: expect.any(String), at: expect.any(String) }]);
    const unfrozenAt = t.server.reports.indexOf(events()[1]!);
    const after = t.server.reports.slice(unfrozenAt + 1);
    expect([after.every((b) => b.jobId === after[0]!.jobId), after.at(-1)!.status]).toEqual([true, "SUCCEEDED"]);
  });
});

if (!LIBFAKETIME) console.warn("TUF expiry-during-download test skipped: libfaketime is missing (scripts/setup installs faketime)");

describe("a TUF job whose metadata changes while its file downloads", () => {
  test.skipIf(!LIBFAKETIME)("metadata that expires mid-download: the download finishes, the install waits (exit 3, hook never run, the freeze told); fresh metadata installs the same file, not fetched again", async () => {
    const r = repo();
    const body = image(0);
    r.add("release/image", body, { version: "1.0.0" });
    const rig = deviceFor(r, body, "1.0.0");
    const clock = new FakeClock(rig.dir);
    const hold = t.server.holdAt("/targets/release/image", 64 * 1024);
    const otter = rig.start(["--once"], clock.env());
    await hold.reached;
    clock.step("+2d"); // timestamp.json (1 day) expires while the file is on its way
    hold.release();
    const [code, stdout] = await Promise.all([otter.exited, new Response(otter.stdout).text()]);
    expect([code, stdout]).toEqual([3, expect.stringMatching(/paused in install: channel release \(tuf\+\S+\): signed metadata expired \(Final timestamp\.json is expired\)/)]);
    expect(rig.journal().job).toMatchObject({ state: "install", download: { result: expect.anything() } });
    expect(installRuns(rig)).toEqual([]);
    expect(events()).toEqual([expect.objectContaining({ event: "channel_frozen", channel: "release" })]);
    expect(t.server.finals()).toEqual([]);
    // The repository signs a fresh timestamp (5 days: past the device's clock): the job goes on.
    r.bump(["timestamp"], 5);
    const res = await rig.run(["--once"], clock.env());
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED complete_ready")]);
    expect(rig.version()).toBe("1.0.0");
    expect(installRuns(rig)).toHaveLength(1);
    expect(fileGets()).toHaveLength(1);
    expect(events().map((e) => e.event)).toEqual(["channel_frozen", "channel_unfrozen"]);
  });

  test("a target signed anew mid-download (a newer release) is not installed: FAILED TUF_REFUSED before the install hook; the new one installs next", async () => {
    const r = repo();
    const [old, fresh] = [image(0), image(7)];
    r.add("release/image", old, { version: "1.0.0" });
    const rig = deviceFor(r, fresh, "1.1.0");
    const hold = t.server.holdAt("/targets/release/image", 64 * 1024);
    const otter = rig.start();
    await hold.reached;
    r.add("release/image", fresh, { version: "1.1.0" }); // the held response goes on with 1.0.0's bytes
    hold.release();
    expect(await otter.exited).toBe(1);
    expect(t.server.finals()).toEqual([expect.objectContaining({
      status: "FAILED", state: "verification_failed", code: "TUF_REFUSED", details: { version: "1.0.0" },
      message: expect.stringMatching(/^channel release \(tuf\+\S+\): release\/image is signed now as version 1\.1\.0 \(release:1\.1\.0:\w+\), not as this job's 1\.0\.0 \(release:1\.0\.0:\w+\): version, sha256 changed; not installed/),
    })]);
    expect(installRuns(rig)).toEqual([]);
    // Refused before the install hook ran: nothing was installed, so nothing is rolled back.
    expect(rig.log().filter((l) => l.startsWith("rollback"))).toEqual([]);
    expect(rig.version()).toBe("0.9.0");
    const res = await rig.run();
    expect(res.code).toBe(0);
    expect(rig.version()).toBe("1.1.0");
    expect(fileGets()).toHaveLength(2);
  });
});
