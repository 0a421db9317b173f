// Wall-clock steps under the built otter (issue 12 case 5): libfaketime moves the wall clock
// while the monotonic one runs on, as NTP or `date -s` would. What otter measures itself
// (a hook's ELAPSED, progress spacing) must not notice; soak and test period count wall time
// (they span reboots) but a time in the future counts as now.
import { describe, expect, test } from "bun:test";
import { FakeClock, LIBFAKETIME } from "../../helpers/faketime.ts";
import { startServer } from "../../helpers/flakyserver.ts";
import { perTest, waitFor } from "../../helpers/rig.ts";

const fx = perTest();
const DAY = 86_400_000;
const H = 3_600_000;

if (!LIBFAKETIME) console.warn("clock tests skipped: libfaketime is missing (scripts/setup installs faketime)");

describe.skipIf(!LIBFAKETIME)("the wall clock steps", () => {
  test("back 10 days after an install: a newer release is not blocked (test_period 0 is 0), and a soak counts from the step", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig({ set: { policy: { new_overrides_old: "release" } } });
    const clock = new FakeClock(r.dir);
    expect((await r.run()).code).toBe(0);
    fx.server.publish("release", "1.1.0", "1.1.0");
    clock.step("-10d");
    const res = await r.run(["--once"], clock.env());
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("(version 1.1.0): SUCCEEDED")]);
    // Now min_soak 30 h, and the clock back again 10 more days: the soak runs from the step, not from the future.
    r.configure({ policy: { min_soak: "30" } });
    fx.server.publish("release", "1.2.0", "1.2.0");
    clock.step("-20d");
    const wait = await r.run(["--once"], clock.env());
    expect(wait.code).toBe(3);
    const until = Date.parse(/wait until (\S+) \(min_soak\)/.exec(wait.stdout)![1]!.replace("Z", ":00Z"));
    expect(Math.abs(until - (Date.now() - 20 * DAY + 30 * H))).toBeLessThan(5 * 60_000);
    expect(Math.abs(r.journal().running.installedAt - (Date.now() - 20 * DAY))).toBeLessThan(5 * 60_000);
    expect(r.version()).toBe("1.1.0");
  });

  test("back 10 days while a hook postpones, and otter killed and started again: its ELAPSED ($1) goes on counting, never negative", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig({ set: { hooks: { retry_interval: "1.5" } } });
    const clock = new FakeClock(r.dir);
    r.exits("download", 3, 3);
    const first = r.start(["run"], clock.env());
    await waitFor(() => r.count("download exit 3") === 1, 20_000, "the download hook's first postponement");
    clock.step("-10d");
    await waitFor(() => r.count("download exit 3") === 2, 20_000, "its second postponement, after the step");
    first.kill("SIGKILL"); // the count and its span are in the journal
    await first.exited;
    const second = r.start(["run"], clock.env());
    await waitFor(() => r.count("download done") === 1, 20_000, "the download hook's third run, in a new otter");
    second.kill("SIGTERM");
    const stderr = await new Response(second.stderr).text();
    await second.exited;
    expect(stderr).not.toContain("unreadable");
    const elapsed = r.log().filter((l) => l.startsWith("download start")).map((l) => Number(l.split(" ")[2]));
    expect(elapsed).toHaveLength(3);
    expect(elapsed[0]).toBe(0);
    expect(elapsed[1]).toBeGreaterThanOrEqual(1); // retry_interval 1.5 s after the first run
    expect(elapsed[2]).toBeGreaterThanOrEqual(elapsed[1]!); // the new otter goes on from there
    expect(elapsed[2]).toBeLessThan(60);
  });

  test("back 10 days mid-download: progress reports go on at progress_interval", async () => {
    const file = Buffer.from("1.0.0".padEnd(320 * 1024, "\n"));
    const slow = await startServer((_, reply) => reply.serve(file, { trickle: 16 * 1024, trickleMs: 200 })); // ~4 s
    const r = fx.rig({ set: { service: { progress_interval: "0.3" } } });
    const clock = new FakeClock(r.dir);
    const progress = () => fx.server.reports.filter((x) => x.state === "download_progress").length;
    const otter = r.start(["install", `${slow.url}/image.img`, "--version", "1.0.0"], clock.env());
    await waitFor(() => progress() >= 1, 20_000, "a first progress report");
    clock.step("-10d");
    const before = progress();
    expect(await otter.exited).toBe(0);
    await slow.close();
    expect(progress()).toBeGreaterThan(before);
  });
});
