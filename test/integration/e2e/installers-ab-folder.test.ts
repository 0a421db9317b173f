// examples/ab-folder/ for real: the built otter runs the example's hooks on app bundles
// (tar.gz) that go into the inactive of two folders, a `current` symlink switched by
// rename, the app run as the daemon's supervised workload and the bundle's own health check
// as the ready hook. Pure shell, no root.
import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../helpers/otter.ts";
import { perTest, waitFor, type Rig } from "../../helpers/rig.ts";

const HOOKS = join(ROOT, "examples/ab-folder/hooks");
const fx = perTest();

// The app: logs when it starts and stops, with its version, and runs until stopped.
const APP = `#!/bin/sh
v=$(cat "$(dirname "$(readlink -f "$0")")/VERSION")
echo "started $v" >> "$AB_ROOT/app.log"
trap 'echo "stopped $v" >> "$AB_ROOT/app.log"; exit 0' TERM
while :; do sleep 0.1; done
`;

/** An app bundle folder of `version` in `dir`, whose health check passes or fails. */
function bundleDir(dir: string, version: string, healthy = true): string {
  const d = join(dir, `bundle-${version}`);
  mkdirSync(d);
  writeFileSync(join(d, "VERSION"), `${version}\n`);
  writeFileSync(join(d, "run"), APP);
  writeFileSync(join(d, "healthcheck"), healthy ? "#!/bin/sh\nexit 0\n" : "#!/bin/sh\necho 'healthcheck: port 8080 not answering' >&2\nexit 1\n");
  for (const f of ["run", "healthcheck"]) chmodSync(join(d, f), 0o755);
  return d;
}

/** The same bundle as a .tar.gz, as a channel or a USB stick carries it. */
function tgz(dir: string, version: string, healthy = true): string {
  const d = bundleDir(dir, version, healthy);
  execFileSync("tar", ["-czf", `${d}.tar.gz`, "-C", d, "."]);
  return `${d}.tar.gz`;
}

/** A rig whose hooks are examples/ab-folder/hooks and whose workload is the app; AB_ROOT is $rig/app. */
function abRig(): { r: Rig; env: Record<string, string>; root: string } {
  const hooks = Object.fromEntries(["version", "install", "restart", "ready", "rollback"].map((h) => [h, join(HOOKS, h)]));
  const r = fx.rig({ hooks: [], set: { hooks, policy: { workload: 'exec "$AB_ROOT/current/run"', min_soak: "0", test_period: "0" } } });
  const root = join(r.dir, "app");
  return { r, env: { AB_ROOT: root }, root };
}

const appLog = (root: string) => (existsSync(join(root, "app.log")) ? readFileSync(join(root, "app.log"), "utf8").trim().split("\n") : []);
const version = (root: string, slot: string) => readFileSync(join(root, slot, "VERSION"), "utf8").trim();

test("the daemon installs a new app into the other folder, switches current and restarts its workload on it", async () => {
  const { r, env, root } = abRig();
  // First install from a file: the app goes into slot a, and the daemon will run it.
  const first = await r.run(["install", tgz(r.dir, "1.0.0"), "--version", "1.0.0"], env);
  expect(first.stdout).toContain("SUCCEEDED complete_ready");
  expect(readlinkSync(join(root, "current"))).toBe("a");
  fx.server.publish("release", "2.0.0", readFileSync(tgz(r.dir, "2.0.0")), { archive: "tar.gz" });
  const daemon = r.start(["run"], env);
  try {
    await waitFor(() => appLog(root).includes("started 2.0.0"), 20_000, "the app 2.0.0 to start");
    expect(appLog(root)).toEqual(["started 1.0.0", "stopped 1.0.0", "started 2.0.0"]);
    expect(fx.server.finals().map((f) => `${f.status}:${f.details.version}`)).toEqual(["SUCCEEDED:1.0.0", "SUCCEEDED:2.0.0"]);
    expect(readlinkSync(join(root, "current"))).toBe("b");
    expect([version(root, "a"), version(root, "b")]).toEqual(["1.0.0", "2.0.0"]);
    expect(["previous", "next", "current.new"].filter((f) => existsSync(join(root, f)))).toEqual([]);
  } finally {
    daemon.kill("SIGTERM");
    await daemon.exited;
  }
  expect(appLog(root).at(-1)).toBe("stopped 2.0.0");
});

test("a failing health check switches current back to the old app", async () => {
  const { r, env, root } = abRig();
  // As shipped: the app 1.0.0 in slot a.
  mkdirSync(root);
  cpSync(bundleDir(r.dir, "1.0.0"), join(root, "a"), { recursive: true });
  symlinkSync("a", join(root, "current"));
  fx.server.publish("release", "2.0.0", readFileSync(tgz(r.dir, "2.0.0", false)), { archive: "tar.gz" });
  const res = await r.run(["--once"], env);
  expect(res.code).toBe(1);
  const final = fx.server.finals()[0]!;
  expect(final.status).toBe("FAILED");
  expect(final.message).toContain("healthcheck: port 8080 not answering");
  expect(final.message).toContain("rolled back");
  expect(readlinkSync(join(root, "current"))).toBe("a");
  expect(version(root, "current")).toBe("1.0.0");
  expect(existsSync(join(root, "previous"))).toBe(false);
});
