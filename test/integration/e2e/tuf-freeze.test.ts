// A TUF channel's freeze (its signed metadata expired) through the built otter: told to
// report_url once when it begins and once when it ends, not at each check, in bodies that
// name no job. Repositories made by scripts/tuf-repo, served on 127.0.0.1.
import { afterEach, describe, expect, test } from "bun:test";
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
