// The shipped examples work as shipped: the built otter (Bun binary and node bundle) accepts
// each example config without a warning, and systemd accepts the unit file.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCHEMA, type Row } from "../../../src/config/schema.ts";
import { parseCli } from "../../../src/cli/args.ts";
import { otter, otterCommand, ROOT, type OtterOptions } from "../../helpers/otter.ts";

const ENV = { OTTER_CONFIG: undefined, OTTER_STATE_DIR: undefined };
const BINS: Record<string, OtterOptions> = {
  [process.env.OTTER_BIN ?? "dist/otter-linux-x64"]: {},
  "node dist/otter.mjs": { bin: "node dist/otter.mjs" },
};
const UNIT = join(ROOT, "examples/systemd/otter.service");
const tmp = mkdtempSync(join(tmpdir(), "otter-examples-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

for (const [name, bin] of Object.entries(BINS)) {
  describe(name, () => {
    test.each([
      ["examples/otter.ini", ["source = manifest", "download_location = /var/lib/otter/downloads", "release = https://updates.example.com/release.json"]],
      ["examples/upparat/config.ini", ["thing_name = device-0001", "retry_interval = 60s", `install = ${join(ROOT, "examples/demo/hooks/install")}`]],
      ["examples/demo/otter.ini", ["state_dir = /tmp/otter-demo/state"]],
      ["examples/rauc/otter.ini", [`rollback = ${join(ROOT, "examples/rauc/hooks/rollback")}`, "timeout = 1800s"]],
      ["examples/swupdate/otter.ini", [`install = ${join(ROOT, "examples/swupdate/hooks/install")}`]],
      ["examples/ab-folder/otter.ini", ["workload = exec /srv/app/current/run", `ready = ${join(ROOT, "examples/ab-folder/hooks/ready")}`]],
    ])("check-config accepts %s without a warning", async (file, lines) => {
      const r = await otter(["check-config", "-c", file], { ...bin, env: ENV });
      expect(r).toMatchObject({ code: 0, stderr: "" });
      for (const line of lines) expect(r.stdout).toContain(`\n${line}\n`);
    });
  });
}

test("examples/rig/generate makes a config per board of examples/rig/boards, each accepted without a warning", async () => {
  const out = join(tmp, "rig");
  execFileSync(join(ROOT, "examples/rig/generate"), [join(ROOT, "examples/rig/boards"), join(ROOT, "examples/rig/otter.ini"), out], { stdio: "ignore" });
  for (const board of ["imx8-a", "imx8-b"]) {
    const r = await otter(["check-config", "-c", join(out, board, "otter.ini")], { env: ENV });
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toContain(`\nstate_dir = ${out}/${board}/state\n`);
    expect(r.stdout).toContain(`\nworkload = ssh root@${board} soak-test\n`);
    expect(r.stdout).toContain(`\ninstall = ${out}/${board}/hooks/install\n`);
  }
});

test("examples/otter.ini shows every key of manifest mode (all but [broker]), set or commented out", () => {
  const text = readFileSync(join(ROOT, "examples/otter.ini"), "utf8");
  const missing = SCHEMA.filter((r) => r.section !== "broker" && !new RegExp(`^(# )?${r.key} =`, "m").test(text)).map((r) => `[${r.section}] ${r.key}`);
  expect(missing).toEqual([]);
});

describe("examples/systemd/otter.service", () => {
  const unit = readFileSync(UNIT, "utf8");
  const setting = (key: string) => unit.match(new RegExp(`^${key}=(.*)$`, "m"))?.[1];

  test("ExecStart is an otter command line that runs the daemon on /etc/otter/otter.ini", () => {
    const [exe, ...args] = setting("ExecStart")!.split(" ");
    expect(exe).toBe("/usr/bin/otter");
    expect(parseCli(args)).toMatchObject({ command: "run", config: "/etc/otter/otter.ini", once: false });
  });

  test("only otter gets the first SIGTERM (it stops its hooks itself), and is restarted on failure", () => {
    expect({ Restart: setting("Restart"), KillMode: setting("KillMode") }).toEqual({ Restart: "on-failure", KillMode: "mixed" });
  });

  test("Type=notify with only otter's own messages, reload by SIGHUP, a watchdog longer than a quiet download may be", () => {
    expect({ Type: setting("Type"), NotifyAccess: setting("NotifyAccess"), ExecReload: setting("ExecReload") }).toEqual({ Type: "notify", NotifyAccess: "main", ExecReload: "/bin/kill -HUP $MAINPID" });
    const seconds = (key: string) => Number((SCHEMA.find((r) => r.section === "download" && r.key === key) as Row).def);
    const [, n, unit] = /^(\d+)(min|s)$/.exec(setting("WatchdogSec")!)!;
    expect(Number(n) * (unit === "min" ? 60 : 1)).toBeGreaterThan(seconds("connect_timeout") + seconds("stall_timeout"));
  });

  // The unit in a folder of its own, with or without the strict drop-in next to it (where
  // systemd-analyze looks for drop-ins). verify wants ExecStart's binary to exist: the built
  // one stands in for /usr/bin/otter.
  const unitDir = (strict: boolean) => {
    const dir = mkdtempSync(join(tmp, "unit-"));
    writeFileSync(join(dir, "otter.service"), unit.replace("ExecStart=/usr/bin/otter", `ExecStart=${otterCommand()[0]}`));
    if (strict) {
      mkdirSync(join(dir, "otter.service.d"));
      copyFileSync(join(ROOT, "examples/systemd/otter.service.d/strict.conf"), join(dir, "otter.service.d/strict.conf"));
    }
    return dir;
  };
  const analyze = async (dir: string, args: string[]) => {
    const child = spawn("systemd-analyze", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (out += s));
    const code = await new Promise((resolve) => child.once("close", resolve));
    return { code, out };
  };
  const exposure = async (dir: string) => Number(/Overall exposure level for otter\.service: ([\d.]+)/.exec((await analyze(dir, ["security", "--offline=true", "otter.service"])).out)![1]);
  // The checks systemd-analyze security counts as met, e.g. "LockPersonality=", "SystemCallFilter=~@obsolete".
  const credited = async (dir: string) => {
    const { out } = await analyze(dir, ["security", "--offline=true", "--json=short", "otter.service"]);
    return new Set((JSON.parse(out) as { set: boolean; name: string }[]).filter((c) => c.set).map((c) => c.name));
  };
  const minus = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();

  // systemd-analyze verify exits 0 even for a setting it ignores, so its stderr must be empty.
  test.each([false, true])("systemd-analyze verify finds nothing to say (strict drop-in: %p)", async (strict) => {
    expect(await analyze(unitDir(strict), ["verify", "./otter.service"])).toEqual({ code: 0, out: "" });
  });

  // The unit keeps every option that no installer or workload trips over (9.6 before any);
  // the drop-in, for installers that are services of their own, closes most of the rest.
  test("systemd-analyze security: the unit 9.5 (9.6 without its hardening), with the strict drop-in 3.3", async () => {
    expect(await exposure(unitDir(false))).toBeLessThanOrEqual(9.5);
    expect(await exposure(unitDir(true))).toBeLessThanOrEqual(3.3);
  });

  test("what the unit's comments say is in is what systemd credits it with, and each option of the drop-in counts", async () => {
    const bare = mkdtempSync(join(tmp, "bare-"));
    writeFileSync(join(bare, "otter.service"), unit.replace(/^(LockPersonality|SystemCallFilter)=.*$/gm, ""));
    const before = await credited(bare);
    // "#   in  SystemCallFilter=~@obsolete @cpu-emulation" is credited as one check per group.
    const said = [...unit.matchAll(/^#   in {2}(\w+=)(~?)(\S*(?: @\S+)*)/gm)].flatMap(([, key, deny, value]) => (value ? value.split(" ").map((v) => key + deny + v) : [key]));
    expect(minus(await credited(unitDir(false)), before)).toEqual(said.sort());
    const strict = await credited(unitDir(true));
    const keys = [...readFileSync(join(ROOT, "examples/systemd/otter.service.d/strict.conf"), "utf8").matchAll(/^(\w+)=/gm)].map((m) => m[1]!);
    const uncounted = keys.filter((k) => k !== "ReadWritePaths" && ![...strict].some((name) => name.startsWith(`${k}=`) && !before.has(name)));
    expect(uncounted).toEqual([]);
  });
});
