// examples/rauc/ driving RAUC 1.8 for real: the built otter runs the example's hooks
// against a RAUC service on a private D-Bus bus, with two file-backed slots and a custom
// bootloader kept in files (test/helpers/rauc.ts). The "reboot" restarts the service on the
// slot the bootloader now boots.
import { afterAll, afterEach, beforeAll, expect } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeCA, signingCert, tempDir, type Issued } from "../../helpers/pki.ts";
import { testIf } from "../../helpers/needs.ts";
import { RaucDevice, raucMissing } from "../../helpers/rauc.ts";
import { killGroup, perTest, waitFor, type Rig } from "../../helpers/rig.ts";
import { ROOT } from "../../helpers/otter.ts";

const test = testIf("examples/rauc", raucMissing());
const HOOKS = join(ROOT, "examples/rauc/hooks");
const fx = perTest();
const devices: RaucDevice[] = [];
let pki: string;
let signer: Issued;
let foreign: Issued;
let ca: Issued;

beforeAll(() => {
  pki = tempDir("otter-rauc-pki-");
  ca = makeCA(pki, "device-ca");
  // RAUC 1.8 checks the signer's purpose; a certificate without extendedKeyUsage passes.
  signer = signingCert(pki, ca);
  foreign = signingCert(pki, makeCA(pki, "foreign-ca"), "foreign");
});
afterAll(() => rmSync(pki, { recursive: true, force: true }));
afterEach(() => devices.splice(0).forEach((d) => d.stop()));

const FACTORY = new Uint8Array(4096).fill(0xa5);
const image = (version: string) => new TextEncoder().encode(`rootfs ${version}\n`.repeat(5000));

async function device(): Promise<RaucDevice> {
  const d = new RaucDevice(ca, FACTORY);
  devices.push(d);
  await d.boot();
  return d;
}

/** A rig whose hooks are examples/rauc/hooks; a device's env, given to run(), points them at its RAUC. */
function raucRig(): Rig {
  const hooks = Object.fromEntries(["version", "install", "restart", "ready", "rollback"].map((h) => [h, join(HOOKS, h)]));
  return fx.rig({ hooks: [], set: { hooks } });
}

const states = () => fx.server.reports.map((r) => `${r.status}:${r.state}`);

test("an update is written to slot B, booted and marked good", async () => {
  const d = await device();
  fx.server.publish("release", "2.0.0", readFileSync(d.bundle("2.0.0", image("2.0.0"), signer)));
  const res = await raucRig().run(["--once"], d.env);
  expect(res.stdout).toContain("SUCCEEDED complete_ready");
  expect(res.code).toBe(0);
  expect(d.slot("B").equals(Buffer.from(image("2.0.0")))).toBe(true);
  expect(d.slot("A").equals(Buffer.from(FACTORY))).toBe(true);
  const s = d.status();
  expect({ booted: s.booted, primary: s.primary }).toEqual({ booted: "B", primary: "B" });
  expect(s.slots.B).toMatchObject({ version: "2.0.0", bootStatus: "good" });
  expect(states()).toEqual(["IN_PROGRESS:download_start", "IN_PROGRESS:installation_start", "IN_PROGRESS:reboot_start", "SUCCEEDED:complete_ready"]);
});

test("a bundle from a foreign signer is refused by RAUC, with RAUC's reason in the report; the device stays on its slot", async () => {
  const d = await device();
  const r = raucRig();
  fx.server.publish("release", "2.0.0", readFileSync(d.bundle("2.0.0", image("2.0.0"), signer)));
  expect((await r.run(["--once"], d.env)).code).toBe(0);
  // Now booted from B: the refused install targets A, and the rollback must leave B alone.
  const res = await r.run(["install", d.bundle("3.0.0", image("3.0.0"), foreign), "--version", "3.0.0"], d.env);
  expect(res.code).toBe(1);
  const final = fx.server.finals()[1]!;
  expect(final.status).toBe("FAILED");
  expect(final.message).toContain("LastError: signature verification failed");
  expect(final.message).toContain("rolled back");
  expect(d.status()).toMatchObject({ booted: "B", primary: "B", slots: { B: { version: "2.0.0", bootStatus: "good" } } });
  expect(d.slot("A").equals(Buffer.from(FACTORY))).toBe(true);
});

test("a power cut inside rauc install: after the reboot otter installs again and the slot is whole", async () => {
  const d = await device();
  const img = image("2.0.0");
  fx.server.publish("release", "2.0.0", readFileSync(d.bundle("2.0.0", img, signer)));
  const r = raucRig();
  d.pauseInstall();
  const otter = r.start(["--once"], d.env);
  await waitFor(() => d.installPaused(), 20_000, "rauc install to reach the bootloader");
  // Everything on the device dies at once: otter, its install hook (rauc install), RAUC's service.
  otter.kill("SIGKILL");
  killGroup(r.journal().job.hookProcess.pid);
  d.cutPower();
  await otter.exited;
  // The slot was being written: leave half an image in it.
  writeFileSync(join(d.dir, "B.img"), img.slice(0, img.length / 2));
  await d.boot();
  expect(d.status()).toMatchObject({ booted: "A", primary: "A" });
  const res = await r.run(["--once"], d.env);
  expect(res.stdout).toContain("SUCCEEDED complete_ready");
  expect(d.slot("B").equals(Buffer.from(img))).toBe(true);
  expect(d.status()).toMatchObject({ booted: "B", primary: "B", slots: { B: { version: "2.0.0", bootStatus: "good" } } });
});

// A failure after the install: the rollback (told the phase) goes back to slot A and marks B bad;
// it reboots only when the device runs B (after a failed ready check, not after a failed reboot).
for (const [phase, env] of [["ready", { HEALTH_CMD: "false" }], ["restart", { REBOOT_CMD: "false" }]] as const) {
  test(`a failing ${phase} hook rolls back: slot A is primary and booted, B is bad`, async () => {
    const d = await device();
    fx.server.publish("release", "2.0.0", readFileSync(d.bundle("2.0.0", image("2.0.0"), signer)));
    const res = await raucRig().run(["--once"], { ...d.env, ...env });
    expect(res.code).toBe(1);
    const final = fx.server.finals()[0]!;
    expect(final.status).toBe("FAILED");
    expect(final.message).toContain(`${phase} hook failed`);
    expect(final.message).toContain("rolled back");
    const s = d.status();
    expect({ booted: s.booted, primary: s.primary, b: s.slots.B!.bootStatus }).toEqual({ booted: "A", primary: "A", b: "bad" });
    expect(d.slot("A").equals(Buffer.from(FACTORY))).toBe(true);
  });
}
