// TUF channels end to end (issue 15): the built otter against repositories made by
// scripts/tuf-repo, served on 127.0.0.1, with real hooks. Every claim comes from signed
// metadata; each attack below is refused before any byte of the file is fetched.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killMidDownload, NODE_BUNDLE, perTest, type Rig } from "../../helpers/rig.ts";
import { TufRepo } from "../../helpers/tufrepo.ts";

const t = perTest();
const repos: TufRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

function repo(opts: { consistent?: boolean } = {}): TufRepo {
  const r = new TufRepo(t.server, opts);
  repos.push(r);
  return r;
}

function device(r: TufRepo, set: Record<string, Record<string, string>> = {}, command?: string[]): Rig {
  return t.rig({ command, set: { ...set, channels: { release: r.channelUrl }, tuf: { trusted_root: r.root, ...set.tuf } } });
}

/** GETs of anything under /targets/ (the files themselves). */
const fileGets = () => t.server.requests.filter((q) => q.method === "GET" && q.path.startsWith("/targets/"));
const cacheOf = (rig: Rig) => readdirSync(join(rig.state, "tuf")).filter((n) => /^[0-9a-f]{16}$/.test(n)).map((n) => join(rig.state, "tuf", n));

describe("TUF channels", () => {
  test("a normal update: the target CHANNEL/image, its version and meta from signed custom fields, the file by its hash-prefixed name", async () => {
    const r = repo({ consistent: true });
    r.add("release/image", "1.0.0", { version: "1.0.0", meta: "slot=b" });
    const rig = device(r);
    const res = await rig.run();
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED complete_ready")]);
    expect(rig.version()).toBe("1.0.0");
    expect(rig.log().filter((l) => l.startsWith("install start 0 0 slot=b "))).toHaveLength(1);
    expect(fileGets().map((q) => q.path)).toEqual([expect.stringMatching(/^\/targets\/release\/[0-9a-f]{64}\.image$/)]);
    expect(t.server.finals().map((f) => f.status)).toEqual(["SUCCEEDED"]);
    expect(readFileSync(join(cacheOf(rig)[0]!, "timestamp.json"), "utf8")).toContain('"_type": "timestamp"');
  });

  test("the same through node dist/otter.mjs: tuf-js runs under Node as under the Bun binary", async () => {
    const r = repo({ consistent: true });
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    const rig = device(r, {}, NODE_BUNDLE);
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("1.0.0");
  });

  test("an old target relabelled as new (custom version edited on the mirror) is refused before any byte of the file", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    const path = "/metadata/targets.json";
    const forged = new TextDecoder().decode(t.server.files.get(path)!).replace('"version": "1.0.0"', '"version": "9.0.0"');
    t.server.files.set(path, new TextEncoder().encode(forged));
    const rig = device(r);
    const res = await rig.run();
    expect(res.stderr).toMatch(/WARNING channel release \(tuf\+http:\/\/[^)]+\): metadata refused: .*targets/);
    expect(res.stdout).toContain("nothing to do");
    expect(fileGets()).toEqual([]);
    expect(rig.version()).toBe("0.9.0");
    const status = await rig.run(["status"]);
    expect(status.stdout).toMatch(/^source problem: channel release since \S+ \(TUF_REFUSED\): .*metadata refused/m);
  });

  test("old targets metadata replayed (a rollback of the repository) is refused: the cache remembers the newer versions", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    const day1 = r.copy();
    r.add("release/image", "1.1.0", { version: "1.1.0" });
    // The device sees 1.1.0 but waits for an approval: its metadata cache now holds the newer versions.
    const rig = device(r, { policy: { approvals: "true" } });
    expect((await rig.run()).code).toBe(3);
    r.serve(day1);
    const res = await rig.run();
    expect(res.stderr).toMatch(/metadata refused: .*less than current version/);
    expect(fileGets()).toEqual([]);
  });

  // A freeze is a source problem of its own kind: named once wherever otter names problems.
  test("an expired timestamp (a freeze) is refused and said once: WARNING, --once's line and exit 3, plan, status; nothing installs", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    r.bump(["timestamp"], -1);
    const rig = device(r);
    const res = await rig.run();
    const named = (text: string) => text.split("signed metadata expired").length - 1;
    expect(res.code).toBe(3);
    expect(res.stdout).toMatch(/^otter: channel release \(tuf\+\S+\): signed metadata expired .*nothing from it installs until the repository signs fresh metadata .*; of the rest: nothing to do/m);
    expect(named(res.stdout)).toBe(1);
    expect(res.stderr).toMatch(/WARNING channel release .*signed metadata expired/);
    const plan = await rig.run(["plan"]);
    expect(plan.stdout).toMatch(/^frozen: channel release .*timestamp\.json is expired/m);
    expect(plan.stdout).toMatch(/^of the rest: nothing to do$/m);
    expect(named(plan.stdout)).toBe(1);
    expect(JSON.parse((await rig.run(["plan", "--json"])).stdout).problems).toMatchObject([{ where: "channel release", code: "TUF_EXPIRED" }]);
    const status = await rig.run(["status"]);
    expect(status.stdout).toMatch(/^frozen: channel release since \S+ \(TUF_EXPIRED\): channel release \(tuf\+/m);
    expect(named(status.stdout)).toBe(1);
    expect(fileGets()).toEqual([]);
    // Fresh metadata lifts the freeze.
    r.bump(["timestamp"]);
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("1.0.0");
    expect((await rig.run(["status"])).stdout).toContain("channel release: TUF metadata verified");
  });

  test("after a root rotation a target signed by the revoked key is refused; the rotated root is cached and survives a restart", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    const revoked = r.rotate("targets");
    r.bump(["targets"]);
    const rig = device(r);
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("1.0.0");
    const [cache] = cacheOf(rig);
    expect(JSON.parse(readFileSync(join(cache!, "root.json"), "utf8")).signed.version).toBe(2);
    // Whoever still holds the old targets key signs a new target: refused.
    r.add("release/image", "2.0.0", { version: "2.0.0" }, { targets: revoked });
    const res = await rig.run();
    expect(res.stderr).toMatch(/metadata refused: .*targets/);
    expect(fileGets()).toHaveLength(1);
    // The restarted otter started from the cached root 2: it never asked for 2.root.json again
    // (the first run refreshed twice, at its check and again before the install, from root 2).
    expect(t.server.requests.filter((q) => q.path === "/metadata/2.root.json")).toHaveLength(1);
    expect(t.server.requests.filter((q) => q.path === "/metadata/3.root.json")).toHaveLength(3);
  });

  test("mix-and-match (snapshot from one day, targets from another) is refused", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    const day1 = r.copy();
    r.add("release/image", "2.0.0", { version: "2.0.0" });
    t.server.files.set("/metadata/targets.json", new Uint8Array(readFileSync(join(day1, "metadata", "targets.json"))));
    const rig = device(r);
    const res = await rig.run();
    expect(res.stderr).toMatch(/metadata refused: .*does not match snapshot version/);
    expect(fileGets()).toEqual([]);
    expect(rig.version()).toBe("0.9.0");
  });

  test("a target whose signed boards do not name this board is refused before download", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0", boards: ["imx8"] });
    const rig = device(r, { policy: { board: "rpi4" } });
    const res = await rig.run();
    expect(res.stderr).toMatch(/WARNING refused release:1\.0\.0:\w+: release 1\.0\.0 is for boards imx8, not this device's rpi4/);
    expect(fileGets()).toEqual([]);
  });

  test("a tampered file is refused by the signed length and hash, nothing installed", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    t.server.files.set("/targets/release/image", new TextEncoder().encode("1.0.X"));
    const rig = device(r);
    expect((await rig.run()).code).toBe(1);
    expect(t.server.finals()).toEqual([expect.objectContaining({ status: "FAILED", state: "verification_failed", code: "DIGEST_MISMATCH" })]);
    t.server.files.set("/targets/release/image", new TextEncoder().encode("1.0.0 and more"));
    r.add("release/image", "1.0.0", { version: "1.0.1" });
    t.server.files.set("/targets/release/image", new TextEncoder().encode("1.0.0 and more"));
    expect((await rig.run()).code).toBe(1);
    expect(t.server.finals()[1]).toEqual(expect.objectContaining({ status: "FAILED", code: "DOWNLOAD_TOO_LARGE" }));
    expect(rig.log().some((l) => l.startsWith("install start"))).toBe(false);
  });

  test("a TUF target resumes after a SIGKILL mid-download (Range from where the file ended)", async () => {
    const r = repo();
    const body = new Uint8Array(3 << 20).map((_, i) => i % 251);
    r.add("release/image", body, { version: "1.0.0" });
    const rig = device(r, { hooks: { install: "hooks/install" } });
    rig.writeHook("install", 'cmp -s "$4" "$T/expected" && echo 1.0.0 > "$T/staged"');
    writeFileSync(join(rig.dir, "expected"), body);
    await killMidDownload(rig, t.server, "/targets/release/image", 1 << 20);
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("1.0.0");
    expect(fileGets().map((q) => q.range)).toEqual([undefined, `bytes=${1 << 20}-`]);
  });

  test("otter plan refreshes TUF metadata without writing it; a link planted in the cache is replaced, never written through", async () => {
    const r = repo();
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    const rig = device(r, { policy: { approvals: "true" } });
    const plan = await rig.run(["plan"]);
    expect(plan.stdout).toContain("waiting for approval of release 1.0.0");
    expect(existsSync(join(rig.state, "tuf"))).toBe(false);
    expect((await rig.run()).code).toBe(3);
    const [cache] = cacheOf(rig);
    const target = join(rig.dir, "elsewhere");
    writeFileSync(target, "not otter's");
    const ts = join(cache!, "timestamp.json");
    rmSync(ts);
    symlinkSync(target, ts);
    r.bump(["timestamp"]);
    expect((await rig.run()).code).toBe(3);
    expect(readFileSync(target, "utf8")).toBe("not otter's");
    expect(JSON.parse(readFileSync(ts, "utf8")).signed._type).toBe("timestamp");
  });
});
