// Who a TUF channel trusts, through the built otter: delegated roles (trusted only for their
// paths, only under their own keys) and signature thresholds (also raised by a root rotation),
// against repositories made by scripts/tuf-repo on 127.0.0.1. Whatever is refused is refused
// before any byte of the file.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { perTest, type Rig } from "../../helpers/rig.ts";
import { TufRepo, type Role } from "../../helpers/tufrepo.ts";

const t = perTest();
const repos: TufRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

function repo(opts: { keys?: Partial<Record<Role, number>>; threshold?: Partial<Record<Role, number>> } = {}): TufRepo {
  const r = new TufRepo(t.server, opts);
  repos.push(r);
  return r;
}

// Both channels read the one repository: release offers release/image, nightly nightly/image.
function device(r: TufRepo): Rig {
  return t.rig({ set: { channels: { release: r.channelUrl, nightly: r.channelUrl }, tuf: { trusted_root: r.root } } });
}

const fileGets = () => t.server.requests.filter((q) => q.method === "GET" && q.path.startsWith("/targets/"));
const cachedRoot = (rig: Rig) => {
  const [id] = readdirSync(join(rig.state, "tuf")).filter((n) => /^[0-9a-f]{16}$/.test(n));
  return JSON.parse(readFileSync(join(rig.state, "tuf", id!, "root.json"), "utf8")).signed;
};

describe("TUF delegations", () => {
  test("a target served through a delegated role (nightly, trusted for nightly/*) installs", async () => {
    const r = repo();
    r.delegate("nightly", ["nightly/*"]);
    r.add("nightly/image", "2.0.0-nightly.1", { version: "2.0.0-nightly.1", meta: "slot=b" }, {}, "nightly");
    const rig = device(r);
    const res = await rig.run();
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED complete_ready")]);
    expect(rig.version()).toBe("2.0.0-nightly.1");
    expect(rig.log().filter((l) => l.startsWith("install start 0 0 slot=b "))).toHaveLength(1);
    expect(fileGets().map((q) => q.path)).toEqual(["/targets/nightly/image"]);
    // The delegated role's metadata was fetched and is cached with the rest.
    expect(t.server.requests.some((q) => q.path === "/metadata/nightly.json")).toBe(true);
  });

  test("a delegated role's target outside its paths is not taken from it: release/image signed by nightly installs nothing", async () => {
    const r = repo();
    r.delegate("nightly", ["nightly/*"]);
    // Whoever holds nightly's key claims the release channel's target: nightly is not trusted for it.
    r.add("release/image", "9.0.0", { version: "9.0.0" }, {}, "nightly");
    const rig = device(r);
    const res = await rig.run();
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("nothing to do")]);
    expect(fileGets()).toEqual([]);
    expect(rig.version()).toBe("0.9.0");
    // The same key within nightly's paths is trusted: the delegation works, only its paths limit it.
    r.add("nightly/image", "2.0.0", { version: "2.0.0" }, {}, "nightly");
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("2.0.0");
    expect(fileGets().map((q) => q.path)).toEqual(["/targets/nightly/image"]);
  });

  test("a delegated role signed by a key its delegation does not name is refused before any byte of the file", async () => {
    const r = repo();
    r.delegate("nightly", ["nightly/*"]);
    r.add("nightly/image", "2.0.0", { version: "2.0.0" }, { nightly: r.newKey() }, "nightly");
    const rig = device(r);
    const res = await rig.run();
    expect(res.stderr).toMatch(/WARNING .*channel.*metadata refused: .*nightly was signed by 0\/1 keys/);
    expect(fileGets()).toEqual([]);
    expect(rig.version()).toBe("0.9.0");
  });

  test("a delegated role with threshold 2 needs both of its keys", async () => {
    const r = repo();
    r.delegate("nightly", ["nightly/*"], { keys: 2, threshold: 2 });
    const [one] = r.keys.nightly!;
    r.add("nightly/image", "2.0.0", { version: "2.0.0" }, { nightly: one }, "nightly");
    const rig = device(r);
    expect((await rig.run()).stderr).toMatch(/metadata refused: .*nightly was signed by 1\/2 keys/);
    expect(fileGets()).toEqual([]);
    r.bump(["nightly"]);
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("2.0.0");
  });
});

describe("TUF signature thresholds", () => {
  test("threshold 2: targets signed by one of its two keys is refused before any byte of the file; signed by both, it installs", async () => {
    const r = repo({ keys: { targets: 2 }, threshold: { targets: 2 } });
    const [one] = r.keys.targets!;
    r.add("release/image", "1.0.0", { version: "1.0.0" }, { targets: one });
    const rig = device(r);
    const res = await rig.run();
    expect(res.stderr).toMatch(/WARNING TUF repository .*metadata refused: .*targets was signed by 1\/2 keys/);
    expect(fileGets()).toEqual([]);
    expect(rig.version()).toBe("0.9.0");
    expect((await rig.run(["status"])).stdout).toMatch(/^source problem: channel release since \S+ \(TUF_REFUSED\): .*metadata refused/m);
    r.bump(["targets"]); // signed by both keys
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("1.0.0");
    expect(fileGets()).toHaveLength(1);
  });

  test("after a root rotation that raises targets' threshold to 2, single-signed targets metadata (old or new) is refused", async () => {
    const r = repo();
    const [first] = r.keys.targets!;
    r.add("release/image", "1.0.0", { version: "1.0.0" });
    const rig = device(r);
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("1.0.0");
    // Root 2: targets gets a second key and needs both. The mirror still serves the
    // targets.json the device accepted a moment ago, signed by the first key alone.
    r.addKeys("targets", 1, 2);
    const before = await rig.run();
    expect(before.stderr).toMatch(/metadata refused: .*targets was signed by 1\/2 keys/);
    expect(cachedRoot(rig)).toMatchObject({ version: 2, roles: { targets: { threshold: 2 } } });
    // Whoever holds only the first key signs a new release: refused, never fetched.
    r.add("release/image", "2.0.0", { version: "2.0.0" }, { targets: first });
    const forged = await rig.run();
    expect(forged.stderr).toMatch(/metadata refused: .*targets was signed by 1\/2 keys/);
    expect(fileGets()).toHaveLength(1);
    expect(rig.version()).toBe("1.0.0");
    // Signed by both keys: it installs.
    r.bump(["targets"]);
    expect((await rig.run()).code).toBe(0);
    expect(rig.version()).toBe("2.0.0");
  });
});

test("scripts/tuf-repo refuses, in one line naming the option, a threshold the role's keys cannot meet and a target role nobody delegated", () => {
  const r = repo();
  expect(() => r.addKeys("targets", 0, 2)).toThrow(/tuf-repo: targets needs 2 signatures but has 1 key\(s\); add keys \(--add targets=FILE\) or lower --threshold targets=N\n$/);
  expect(() => r.add("nightly/image", "1", { version: "1" }, { nightly: r.newKey() }, "nightly")).toThrow(/tuf-repo: --role nightly: targets delegates to no such role \(delegated: none\)\n$/);
  expect(() => r.tool(["init", join(r.dir, "other"), "--threshold", "targets=two", ...r.keyArgs(["root", "targets", "snapshot", "timestamp"])])).toThrow(/--threshold targets=two: expected a whole number of signatures, at least 1\n$/);
  // Nothing was written by the refused commands: root is still version 1.
  expect(JSON.parse(readFileSync(join(r.repo, "metadata", "root.json"), "utf8")).signed.version).toBe(1);
});
