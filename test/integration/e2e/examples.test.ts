// The shipped examples work as shipped: the built otter (Bun binary and node bundle) accepts
// each example config without a warning, and systemd accepts the unit file.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

  // systemd-analyze verify exits 0 even for a setting it ignores, so its stderr must be empty.
  test("systemd-analyze verify finds nothing to say", async () => {
    const copy = join(tmp, "otter.service");
    // verify wants ExecStart's binary to exist: the built one stands in for /usr/bin/otter.
    writeFileSync(copy, unit.replace("ExecStart=/usr/bin/otter", `ExecStart=${otterCommand()[0]}`));
    const child = spawn("systemd-analyze", ["verify", copy], { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (out += s));
    const code = await new Promise((resolve) => child.once("close", resolve));
    expect({ code, out }).toEqual({ code: 0, out: "" });
  });
});
