// Verification and archives at the pipeline level, from the built binary: signed manifests
// install; a tampered file or a wrong signature never reaches the install hook and the
// report says verification_failed; require_signature refuses an unsigned manifest; a
// tar.gz gives the install hook a folder; a zip-slip tar is refused with archive_rejected
// and nothing is written outside.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { issue, makeCA, makeKey, tempDir } from "../../helpers/pki.ts";
import { perTest, type Ini, type Rig } from "../../helpers/rig.ts";
import { tarball } from "../../helpers/tarball.ts";

const fx = perTest();

// The install hook records what it was given: a file's text, or a folder's listing.
function rig(set: Ini = {}): Rig {
  const r = fx.rig({ hooks: ["install"], set });
  r.writeHook("install", 'if [ -d "$4" ]; then (cd "$4" && find . -type f | sort) > "$T/given"; echo dir >> "$T/given"; else cp "$4" "$T/given"; fi');
  return r;
}

const given = (r: Rig) => (existsSync(join(r.dir, "given")) ? readFileSync(join(r.dir, "given"), "utf8") : undefined);
const finals = () => fx.server.finals().map((x) => `${x.status}:${x.state}`);

/** base64 of `openssl dgst -sha256 -sign key` over body */
function sign(keyFile: string, body: string | Buffer): string {
  const dir = tempDir();
  writeFileSync(join(dir, "f"), body);
  execFileSync("openssl", ["dgst", "-sha256", "-sign", keyFile, "-out", join(dir, "sig"), join(dir, "f")]);
  return readFileSync(join(dir, "sig")).toString("base64");
}

function publicKey(keyFile: string): string {
  const out = join(dirname(keyFile), "signer.pub.pem");
  execFileSync("openssl", ["pkey", "-in", keyFile, "-pubout", "-out", out]);
  return out;
}

describe("signed manifests", () => {
  test("ECDSA P-256 with [verify] public_key installs", async () => {
    const key = makeKey(tempDir(), "signer", "ec256");
    fx.server.publish("release", "1.0.0", "image 1.0.0", { signature: sign(key, "image 1.0.0") });
    const r = rig({ verify: { public_key: publicKey(key), require_signature: "true" } });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(given(r)).toBe("image 1.0.0");
    expect(finals()).toEqual(["SUCCEEDED:complete_no_version_check"]);
  });

  test("AWS form (sig-sha256-ecdsa + signer certificate) chained to [verify] ca installs", async () => {
    const dir = tempDir();
    const ca = makeCA(dir, "code-ca");
    const signer = issue(dir, ca, "signer");
    fx.server.publish("release", "1.0.0", "image 1.0.0", { signature: { value: sign(signer.keyFile, "image 1.0.0"), algorithm: "sig-sha256-ecdsa", certificate: signer.cert } });
    const r = rig({ verify: { ca: ca.certFile, require_signature: "true" } });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(given(r)).toBe("image 1.0.0");
  });

  test("a signer certificate from another CA is refused", async () => {
    const dir = tempDir();
    const ca = makeCA(dir, "code-ca");
    const rogue = makeCA(dir, "rogue-ca");
    const signer = issue(dir, rogue, "signer");
    fx.server.publish("release", "1.0.0", "image 1.0.0", { signature: { value: sign(signer.keyFile, "image 1.0.0"), algorithm: "sig-sha256-ecdsa", certificate: signer.cert } });
    const r = rig({ verify: { ca: ca.certFile } });
    const res = await r.run();
    expect(res.code).toBe(1);
    expect(given(r)).toBeUndefined();
    expect(finals()).toEqual(["FAILED:verification_failed"]);
  });

  test("a tampered file (not the manifest's sha256) never reaches the install hook", async () => {
    const key = makeKey(tempDir(), "signer", "ec256");
    fx.server.publish("release", "1.0.0", "image 1.0.0", { signature: sign(key, "image 1.0.0") });
    fx.server.files.set("/release-1.0.0.img", new TextEncoder().encode("image 1.0.X"));
    const r = rig({ verify: { public_key: publicKey(key) } });
    const res = await r.run();
    expect(res.code).toBe(1);
    expect(given(r)).toBeUndefined();
    expect(r.log().some((l) => l.startsWith("install"))).toBe(false);
    expect(finals()).toEqual(["FAILED:verification_failed"]);
    expect(readdirSync(join(r.dir, "dl"))).toEqual([]);
  });

  test("a wrong signature (file and sha256 swapped together) never reaches the install hook", async () => {
    const key = makeKey(tempDir(), "signer", "ec256");
    fx.server.publish("release", "1.0.0", "evil 1.0.0", { signature: sign(key, "image 1.0.0") });
    const r = rig({ verify: { public_key: publicKey(key) } });
    const res = await r.run();
    expect(res.code).toBe(1);
    expect(given(r)).toBeUndefined();
    const final = fx.server.finals()[0]!;
    expect(final.state).toBe("verification_failed");
    expect(final.message).toContain("signature does not match");
  });

  test("require_signature refuses an unsigned manifest", async () => {
    const key = makeKey(tempDir(), "signer", "ec256");
    fx.server.publish("release", "1.0.0", "image 1.0.0");
    const r = rig({ verify: { public_key: publicKey(key), require_signature: "true" } });
    const res = await r.run();
    expect(res.code).toBe(1);
    expect(given(r)).toBeUndefined();
    expect(finals()).toEqual(["FAILED:verification_failed"]);
    expect(fx.server.finals()[0]!.message).toContain("not signed");
  });
});

describe("archives", () => {
  function publishArchive(bytes: Buffer): void {
    fx.server.files.set("/release-1.0.0.tar.gz", new Uint8Array(bytes));
    const manifest = { version: "1.0.0", url: "release-1.0.0.tar.gz", size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), archive: "tar.gz" };
    fx.server.files.set("/release.json", new TextEncoder().encode(JSON.stringify(manifest)));
  }

  test('"archive": "tar.gz" gives the install hook a folder', async () => {
    publishArchive(gzipSync(tarball([{ name: "boot/", type: "5" }, { name: "boot/kernel", body: "K" }, { name: "rootfs.img", body: "R" }])));
    const r = rig();
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(given(r)).toBe("./boot/kernel\n./rootfs.img\ndir\n");
  });

  test("a zip-slip tar (../) is refused with archive_rejected and nothing is written outside", async () => {
    publishArchive(gzipSync(tarball([{ name: "ok.txt", body: "ok" }, { name: "../../evil.txt", body: "pwned" }, { name: "../evil2.txt", body: "pwned" }])));
    const r = rig();
    const res = await r.run();
    expect(res.code).toBe(1);
    expect(given(r)).toBeUndefined();
    expect(finals()).toEqual(["FAILED:archive_rejected"]);
    for (const d of [r.dir, join(r.dir, "dl"), dirname(r.dir)]) {
      expect(existsSync(join(d, "evil.txt"))).toBe(false);
      expect(existsSync(join(d, "evil2.txt"))).toBe(false);
    }
    expect(readdirSync(join(r.dir, "dl"))).toEqual([]);
  });
});
