// examples/swupdate/ driving SWUpdate 2022.12 for real: the built otter runs the example's
// hooks on .swu files built by examples/swupdate/make-swu (CMS-signed sw-description), which
// SWUpdate installs into a file-backed target. SWUpdate checks what otter cannot: the
// signature of sw-description, each image's sha256 and the hardware compatibility.
import { afterAll, afterEach, beforeAll, expect } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { testIf, missingCommand } from "../../helpers/needs.ts";
import { ROOT } from "../../helpers/otter.ts";
import { makeCA, signingCert, tempDir, type Issued } from "../../helpers/pki.ts";
import { perTest, type Rig } from "../../helpers/rig.ts";

const test = testIf("examples/swupdate", missingCommand(["swupdate", "cpio", "openssl"]));
const EXAMPLE = join(ROOT, "examples/swupdate");
const HARDWARE = "otter-board:1.0";
const fx = perTest();
let pki: string;
let ca: Issued;
let signer: Issued;
let device: string;

beforeAll(() => {
  pki = tempDir("otter-swupdate-pki-");
  ca = makeCA(pki, "device-ca");
  signer = signingCert(pki, ca);
});
afterAll(() => rmSync(pki, { recursive: true, force: true }));
afterEach(() => rmSync(device, { recursive: true, force: true }));

const image = (version: string) => Buffer.from(`image ${version} block\n`.repeat(4000));
const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/** A device: an empty file-backed target, sw-versions saying 1.0.0, its own TMPDIR for SWUpdate's sockets. */
function newDevice(): Record<string, string> {
  device = tempDir("otter-swupdate-");
  writeFileSync(join(device, "target.img"), "");
  writeFileSync(join(device, "sw-versions"), "rootfs 1.0.0\n");
  mkdirSync(join(device, "tmp"));
  return {
    SWUPDATE_CA: ca.certFile, SWUPDATE_HWREVISION: HARDWARE, SW_VERSIONS: join(device, "sw-versions"),
    REBOOT_CMD: "true", TMPDIR: join(device, "tmp"),
  };
}

/** A .swu of `version` for this device, signed by `by`: the image into target.img, the version into sw-versions. */
function swu(version: string, by = signer) {
  const dir = join(device, `swu-${version}`);
  mkdirSync(dir);
  const versions = `rootfs ${version}\n`;
  writeFileSync(join(dir, "rootfs.img"), image(version));
  writeFileSync(join(dir, "sw-versions"), versions);
  writeFileSync(join(dir, "sw-description"), `software = {
  version = "${version}";
  hardware-compatibility = [ "${HARDWARE.split(":")[1]}" ];
  images: ({ filename = "rootfs.img"; device = "${device}/target.img"; type = "raw"; sha256 = "${sha256(image(version))}"; });
  files: ({ filename = "sw-versions"; path = "${device}/sw-versions"; type = "rawfile"; sha256 = "${sha256(versions)}"; });
};
`);
  const out = join(device, `${version}.swu`);
  execFileSync(join(EXAMPLE, "make-swu"), [out, by.keyFile, by.certFile, dir], { stdio: ["ignore", "ignore", "inherit"] });
  return readFileSync(out);
}

function swupdateRig(): Rig {
  const hooks = Object.fromEntries(["version", "install", "restart"].map((h) => [h, join(EXAMPLE, "hooks", h)]));
  return fx.rig({ hooks: [], set: { hooks } });
}

test("otter install of a signed .swu: SWUpdate writes the target and the new version is confirmed", async () => {
  const env = newDevice();
  const file = join(device, "update.swu");
  writeFileSync(file, swu("2.0.0"));
  const res = await swupdateRig().run(["install", file, "--version", "2.0.0"], env);
  expect(res.stdout).toContain("SUCCEEDED complete_no_ready_check");
  expect(res.code).toBe(0);
  expect(readFileSync(join(device, "target.img")).equals(image("2.0.0"))).toBe(true);
  expect(readFileSync(join(device, "sw-versions"), "utf8")).toBe("rootfs 2.0.0\n");
});

test("a .swu tampered after signing is refused by SWUpdate, with its reason in the report; the target is untouched", async () => {
  const env = newDevice();
  const bytes = swu("2.0.0");
  // The image inside changes after sw-description (and its sha256 of the image) was signed.
  const at = bytes.indexOf(image("2.0.0").subarray(0, 64));
  bytes[at + 100] ^= 1;
  // The manifest's sha256 is of the tampered file, so otter's own check passes: only SWUpdate's catches it.
  fx.server.publish("release", "2.0.0", bytes);
  const res = await swupdateRig().run(["--once"], env);
  expect(res.code).toBe(1);
  const final = fx.server.finals()[0]!;
  expect(final).toMatchObject({ status: "FAILED" });
  expect(final.message).toContain("HASH mismatch");
  expect(readFileSync(join(device, "target.img")).length).toBe(0);
  expect(readFileSync(join(device, "sw-versions"), "utf8")).toBe("rootfs 1.0.0\n");
});

test("a .swu signed by another CA is refused by SWUpdate's signature check", async () => {
  const env = newDevice();
  const other = signingCert(pki, makeCA(pki, "other-ca"), "other");
  fx.server.publish("release", "2.0.0", swu("2.0.0", other));
  const res = await swupdateRig().run(["--once"], env);
  expect(res.code).toBe(1);
  expect(fx.server.finals()[0]!.message).toContain("Authentication of all signatures failed");
  expect(readFileSync(join(device, "target.img")).length).toBe(0);
});
