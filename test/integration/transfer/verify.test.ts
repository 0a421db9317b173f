// Verification before install: digests and detached signatures made by openssl at test time.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OtterError } from "../../../src/base/errors.ts";
import { parseConfig, type Config } from "../../../src/config/config.ts";
import type { DownloadResult } from "../../../src/transfer/request.ts";
import { verifyFile, type SignatureSpec } from "../../../src/transfer/verify.ts";
import { issue, makeCA, makeKey, tempDir, type KeyKind } from "../../helpers/pki.ts";

const dir = tempDir();
const DATA = randomBytes(300_000);

function ssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

type Scheme = "rsa-pkcs1" | "rsa-pss" | "ecdsa-p256" | "ecdsa-p384" | "ed25519";
const KIND: Record<Scheme, KeyKind> = { "rsa-pkcs1": "rsa", "rsa-pss": "rsa", "ecdsa-p256": "ec256", "ecdsa-p384": "ec384", ed25519: "ed25519" };
const NAME: Record<Scheme, string> = { "rsa-pkcs1": "rsa-pkcs1", "rsa-pss": "rsa-pss", "ecdsa-p256": "ecdsa", "ecdsa-p384": "ecdsa", ed25519: "ed25519" };

/** A base64 detached signature over `file`, as the doc comment in src/transfer/verify.ts defines it. */
function sign(scheme: Scheme, keyFile: string, file: string): string {
  const sig = `${file}.${scheme}.sig`;
  if (scheme === "ed25519") {
    writeFileSync(`${file}.sha256`, createHash("sha256").update(readFileSync(file)).digest());
    ssl("pkeyutl", "-sign", "-rawin", "-inkey", keyFile, "-in", `${file}.sha256`, "-out", sig);
  } else if (scheme === "rsa-pss") {
    ssl("dgst", "-sha256", "-sign", keyFile, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", "-out", sig, file);
  } else {
    ssl("dgst", "-sha256", "-sign", keyFile, "-out", sig, file);
  }
  return readFileSync(sig).toString("base64");
}

function publicKey(keyFile: string): string {
  ssl("pkey", "-in", keyFile, "-pubout", "-out", `${keyFile}.pub`);
  return `${keyFile}.pub`;
}

/** A fresh copy of DATA (verification deletes failures) and its download result. */
function downloaded(data: Uint8Array = DATA): DownloadResult {
  const path = join(tempDir(), "update.bin");
  writeFileSync(path, data);
  return { path, size: data.length, sha256: createHash("sha256").update(data).digest("hex"), fetched: data.length };
}

function verifyCfg(lines: string): Config["verify"] {
  return parseConfig(`[verify]\n${lines}`, "/tmp/otter-test.ini").verify;
}

async function rejects(result: DownloadResult, p: Promise<void>, code: string): Promise<OtterError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(OtterError);
  expect((caught as OtterError).code).toBe(code as OtterError["code"]);
  expect(existsSync(result.path)).toBe(false);
  return caught as OtterError;
}

const source = join(dir, "source.bin");
writeFileSync(source, DATA);
const ca = makeCA(dir, "signing-ca");
const otherCA = makeCA(dir, "other-ca");

describe.each(["rsa-pkcs1", "rsa-pss", "ecdsa-p256", "ecdsa-p384", "ed25519"] as Scheme[])("%s", (scheme) => {
  const key = makeKey(dir, `${scheme}-signer`, KIND[scheme]);
  const wrong = makeKey(dir, `${scheme}-wrong`, KIND[scheme]);
  const sig = sign(scheme, key, source);
  const spec: SignatureSpec = { value: sig, algorithm: NAME[scheme] };
  const byKey = verifyCfg(`public_key = ${publicKey(key)}`);
  const signer = issue(dir, ca, `${scheme}-cert`, { kind: KIND[scheme] });
  const certSig = sign(scheme, signer.keyFile, source);
  const byCA = verifyCfg(`ca = ${ca.certFile}\nrequire_signature = true`);

  test("good signature with [verify] public_key", async () => {
    const r = downloaded();
    await verifyFile(r, { sha256: r.sha256, signature: spec, size: DATA.length }, byKey);
    expect(existsSync(r.path)).toBe(true);
  });

  test("wrong key", async () => {
    const r = downloaded();
    await rejects(r, verifyFile(r, { signature: spec }, verifyCfg(`public_key = ${publicKey(wrong)}`)), "SIGNATURE_INVALID");
  });

  test("tampered file", async () => {
    const data = Buffer.from(DATA);
    data[1000]! ^= 1;
    const r = downloaded(data);
    await rejects(r, verifyFile(r, { signature: spec }, byKey), "SIGNATURE_INVALID");
  });

  test("good signer certificate chained to [verify] ca", async () => {
    const r = downloaded();
    await verifyFile(r, { signature: { value: certSig, certificate: signer.cert, algorithm: NAME[scheme] } }, byCA);
    expect(existsSync(r.path)).toBe(true);
  });

  test("expired signer certificate", async () => {
    const old = issue(dir, ca, `${scheme}-expired`, { kind: KIND[scheme], days: -1 });
    const r = downloaded();
    const err = await rejects(r, verifyFile(r, { signature: { value: sign(scheme, old.keyFile, source), certificate: old.cert, algorithm: NAME[scheme] } }, byCA), "CERT_INVALID");
    expect(err.message).toContain("expired");
  });

  test("signer certificate from another CA", async () => {
    const stranger = issue(dir, otherCA, `${scheme}-stranger`, { kind: KIND[scheme] });
    const r = downloaded();
    const err = await rejects(r, verifyFile(r, { signature: { value: sign(scheme, stranger.keyFile, source), certificate: stranger.cert, algorithm: NAME[scheme] } }, byCA), "CERT_INVALID");
    expect(err.message).toContain("does not chain");
  });
});

describe("verify", () => {
  const ecKey = makeKey(dir, "ec-extra", "ec256");

  test("AWS code-signing form: sig-sha256-ecdsa, base64 DER, signer certificate", async () => {
    const signer = issue(dir, ca, "aws-signer", { kind: "ec256" });
    const r = downloaded();
    const signature = { value: sign("ecdsa-p256", signer.keyFile, source), algorithm: "sig-sha256-ecdsa", certificate: signer.cert };
    await verifyFile(r, { signature }, verifyCfg(`ca = ${ca.certFile}`));
    expect(existsSync(r.path)).toBe(true);
  });

  test("an intermediate CA carried with the signer certificate", async () => {
    const mid = issue(dir, ca, "intermediate", { ext: ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign"] });
    const signer = issue(dir, mid, "leaf-under-mid");
    const r = downloaded();
    await verifyFile(r, { signature: { value: sign("ecdsa-p256", signer.keyFile, source), certificate: signer.cert + mid.cert } }, verifyCfg(`ca = ${ca.certFile}`));
    expect(existsSync(r.path)).toBe(true);
  });

  test("a signer certificate for TLS servers, not code signing, is refused", async () => {
    const tlsCert = issue(dir, ca, "not-codesigning", { ext: ["keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth"] });
    const r = downloaded();
    const err = await rejects(r, verifyFile(r, { signature: { value: sign("ecdsa-p256", tlsCert.keyFile, source), certificate: tlsCert.cert } }, verifyCfg(`ca = ${ca.certFile}`)), "CERT_INVALID");
    expect(err.message).toContain("codeSigning");
  });

  test("a signer certificate whose key usage lacks digitalSignature is refused", async () => {
    const c = issue(dir, ca, "no-digsig", { ext: ["keyUsage=critical,keyEncipherment"] });
    const r = downloaded();
    await rejects(r, verifyFile(r, { signature: { value: sign("ecdsa-p256", c.keyFile, source), certificate: c.cert } }, verifyCfg(`ca = ${ca.certFile}`)), "CERT_INVALID");
  });

  test("a raw r||s ECDSA signature is accepted", async () => {
    const der = Buffer.from(sign("ecdsa-p256", ecKey, source), "base64");
    const { createPrivateKey, sign: signRaw } = await import("node:crypto");
    const p1363 = signRaw("sha256", DATA, { key: createPrivateKey(readFileSync(ecKey)), dsaEncoding: "ieee-p1363" });
    expect(p1363.length).toBe(64);
    expect(der[0]).toBe(0x30);
    const r = downloaded();
    await verifyFile(r, { signature: { value: p1363.toString("base64") } }, verifyCfg(`public_key = ${publicKey(ecKey)}`));
  });

  // Found by CI: such a signature was taken for DER by its first byte and refused.
  test("a raw r||s ECDSA signature that starts with 0x30 (1 in 256 do) is accepted", async () => {
    const { createPrivateKey, sign: signRaw } = await import("node:crypto");
    const key = createPrivateKey(readFileSync(ecKey));
    let p1363 = Buffer.alloc(0);
    for (let i = 0; i < 20_000 && p1363[0] !== 0x30; i++) p1363 = signRaw("sha256", DATA, { key, dsaEncoding: "ieee-p1363" });
    expect(p1363[0]).toBe(0x30);
    const r = downloaded();
    await verifyFile(r, { signature: { value: p1363.toString("base64") } }, verifyCfg(`public_key = ${publicKey(ecKey)}`));
  });

  test("require_signature refuses an unsigned file", async () => {
    const r = downloaded();
    await rejects(r, verifyFile(r, { sha256: r.sha256 }, verifyCfg("require_signature = true")), "SIGNATURE_MISSING");
  });

  test("unsigned and not required: the digest alone decides", async () => {
    const r = downloaded();
    await verifyFile(r, { sha256: r.sha256, size: DATA.length }, verifyCfg(""));
    await rejects(r, verifyFile(r, { sha256: "ab".repeat(32) }, verifyCfg("")), "DIGEST_MISMATCH");
  });

  test("a file changed on disk after download is caught before install", async () => {
    const r = downloaded();
    const spec = { value: sign("ecdsa-p256", ecKey, source) };
    const data = Buffer.from(DATA);
    data[5]! ^= 0xff;
    writeFileSync(r.path, data);
    await rejects(r, verifyFile(r, { signature: spec }, verifyCfg(`public_key = ${publicKey(ecKey)}`)), "DIGEST_MISMATCH");
    const r2 = downloaded();
    appendFileSync(r2.path, "x");
    await rejects(r2, verifyFile(r2, { signature: spec }, verifyCfg(`public_key = ${publicKey(ecKey)}`)), "DIGEST_MISMATCH");
  });

  test("an algorithm that does not match the key is refused", async () => {
    const r = downloaded();
    await rejects(r, verifyFile(r, { signature: { value: sign("ecdsa-p256", ecKey, source), algorithm: "ed25519" } }, verifyCfg(`public_key = ${publicKey(ecKey)}`)), "SIGNATURE_INVALID");
  });

  test("a signer certificate without [verify] ca is refused", async () => {
    const signer = issue(dir, ca, "no-anchor");
    const r = downloaded();
    await rejects(r, verifyFile(r, { signature: { value: sign("ecdsa-p256", signer.keyFile, source), certificate: signer.cert } }, verifyCfg("")), "CERT_INVALID");
  });
});
