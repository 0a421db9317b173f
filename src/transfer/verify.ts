// Verification before install, never after: size, sha256 and a detached signature. A file
// that fails is deleted, so it can never reach the install hook.
//
// What is signed (the bytes a signer must produce a signature over):
// - rsa-pkcs1, rsa-pss, ecdsa: the file's bytes, hashed with SHA-256 by the signature scheme
//   itself, i.e. `openssl dgst -sha256 -sign key -out sig file`. This is AWS IoT code
//   signing's form ("sig-sha256-ecdsa": base64 of a DER ECDSA-SHA256 signature, with the
//   signer certificate): AWS's own OTA agent (FreeRTOS ota-for-aws-iot-embedded-sdk, POSIX
//   PAL `otaPal_CheckFileSignature`) verifies it with EVP_DigestVerifyInit(EVP_sha256) fed
//   with the whole file and the public key of the signer certificate; we do the same and,
//   unlike that PAL, also require the certificate to chain to [verify] ca. ECDSA signatures
//   may be DER (as AWS and openssl write them) or raw r||s (IEEE P1363). RSA-PSS uses MGF1
//   with SHA-256; any salt length is accepted.
// - ed25519: pure Ed25519 over the 32 raw bytes of SHA-256(file), i.e.
//   `openssl dgst -sha256 -binary file > d; openssl pkeyutl -sign -rawin -inkey key -in d`
//   (Ed25519 cannot stream, so it signs the digest); or, for a file of at most
//   ED25519_WHOLE_MAX bytes, pure Ed25519 over the file itself, as
//   `openssl pkeyutl -sign -rawin -inkey key -in file` makes it (the file is then read whole).
// The signature travels base64 in SignatureSpec.value.
import { constants, createHash, createPublicKey, createVerify, verify as verifyRaw, X509Certificate, type KeyObject } from "node:crypto";
import { createReadStream, readFileSync, rmSync, statSync } from "node:fs";
import { CertInvalid, DigestMismatch, DigestMissing, SignatureInvalid, SignatureMissing } from "../base/errors.ts";
import { signaturePolicy, type Config } from "../config/config.ts";
import type { DownloadResult } from "./request.ts";

/** A detached signature over the file's sha256 digest. */
export interface SignatureSpec {
  /** base64 signature bytes */
  value: string;
  /** rsa-pkcs1 | rsa-pss | ecdsa | ed25519; inferred from the key when absent */
  algorithm?: string;
  /** PEM signer certificate that must chain to [verify] ca (AWS code-signing carries one) */
  certificate?: string;
}

export type Algorithm = "rsa-pkcs1" | "rsa-pss" | "ecdsa" | "ed25519";

export interface Expectation { sha256?: string; signature?: SignatureSpec; size?: number }

/** Check a downloaded file; on any failure delete it and throw DigestMismatch / SignatureInvalid / SignatureMissing / CertInvalid. */
export async function verifyFile(result: DownloadResult, expect: Expectation, cfg: Config["verify"], now: Date = new Date()): Promise<void> {
  try {
    await check(result, expect, cfg, now);
  } catch (err) {
    rmSync(result.path, { force: true });
    throw err;
  }
}

async function check(result: DownloadResult, expect: Expectation, cfg: Config["verify"], now: Date): Promise<void> {
  const size = statSync(result.path).size;
  if (size !== result.size || (expect.size !== undefined && size !== expect.size)) {
    throw new DigestMismatch(`file is ${size} bytes, expected ${expect.size ?? result.size}; file deleted`);
  }
  const want = expect.sha256?.toLowerCase();
  if (!want && cfg.require_sha256) throw new DigestMissing("the update names no sha256 and [verify] require_sha256 is set; file deleted");
  if (want && result.sha256 !== want) throw new DigestMismatch(`sha256 is ${result.sha256}, expected ${want}; file deleted`);
  if (!expect.signature) {
    const policy = signaturePolicy(cfg);
    if (policy.required) throw new SignatureMissing(`the update is not signed; ${policy.why}; file deleted`);
    return;
  }
  const key = signerKey(expect.signature, cfg, now);
  const algorithm = algorithmFor(key, expect.signature.algorithm);
  const signature = Buffer.from(expect.signature.value, "base64");
  if (signature.length === 0) throw new SignatureInvalid("signature is empty or not base64; file deleted");
  // One pass over the bytes on disk: the digest again (they may have changed since) and the signature.
  const hash = createHash("sha256");
  const verifier = algorithm === "ed25519" ? undefined : createVerify("sha256");
  for await (const chunk of createReadStream(result.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    verifier?.update(chunk);
  }
  const digest = hash.digest();
  if (digest.toString("hex") !== result.sha256) throw new DigestMismatch(`file changed on disk since download (sha256 ${digest.toString("hex")}); file deleted`);
  if (!signatureHolds(algorithm, key, signature, digest, verifier) && !(algorithm === "ed25519" && wholeFileEd25519(result, key, signature))) {
    throw new SignatureInvalid(`${algorithm} signature does not match the file and key; file deleted`);
  }
}

/** Largest file whose pure Ed25519 signature (over the file, not its digest) is checked: it is held in memory. */
export const ED25519_WHOLE_MAX = 64 * 2 ** 20;

// Pure Ed25519 over the whole file, for a file small enough to hold; the bytes held are the ones hashed.
function wholeFileEd25519(result: DownloadResult, key: KeyObject, sig: Buffer): boolean {
  if (result.size > ED25519_WHOLE_MAX) return false;
  const bytes = readFileSync(result.path);
  try {
    return createHash("sha256").update(bytes).digest("hex") === result.sha256 && verifyRaw(null, bytes, key, sig);
  } catch {
    return false;
  }
}

function signatureHolds(algorithm: Algorithm, key: KeyObject, sig: Buffer, digest: Buffer, verifier?: ReturnType<typeof createVerify>): boolean {
  try {
    if (algorithm === "ed25519") return verifyRaw(null, digest, key, sig);
    if (algorithm === "rsa-pss") return verifier!.verify({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig);
    if (algorithm === "rsa-pkcs1") return verifier!.verify({ key, padding: constants.RSA_PKCS1_PADDING }, sig);
    // A Verify object is good for one try: r||s when the signature has that shape, else DER.
    const coord = key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? 48 : 32;
    if (sig.length === 2 * coord && !isDerEcdsa(sig)) return verifier!.verify({ key, dsaEncoding: "ieee-p1363" }, sig);
    return verifier!.verify({ key, dsaEncoding: "der" }, sig);
  } catch {
    return false;
  }
}

// DER is SEQUENCE { INTEGER r, INTEGER s } filling the buffer exactly. A first byte of 0x30
// alone says nothing: 1 raw r||s signature in 256 starts with it.
function isDerEcdsa(sig: Buffer): boolean {
  if (sig.length < 8 || sig[0] !== 0x30 || sig[1] !== sig.length - 2 || sig[2] !== 0x02) return false;
  const r = sig[3]!;
  return sig[4 + r] === 0x02 && 6 + r + sig[5 + r]! === sig.length;
}

const ALIASES: Record<string, Algorithm> = {
  "rsa-pkcs1": "rsa-pkcs1", rsa: "rsa-pkcs1", "rsa-pkcs1v15": "rsa-pkcs1", "sig-sha256-rsa": "rsa-pkcs1", sha256withrsa: "rsa-pkcs1",
  "rsa-pss": "rsa-pss", pss: "rsa-pss", "sig-sha256-rsa-pss": "rsa-pss",
  ecdsa: "ecdsa", "ecdsa-sha256": "ecdsa", "sig-sha256-ecdsa": "ecdsa", sha256withecdsa: "ecdsa",
  ed25519: "ed25519", eddsa: "ed25519",
};

/** The scheme a name stands for (otter's, AWS code signing's, common aliases), if any. */
export function algorithmNamed(name: string): Algorithm | undefined {
  return Object.hasOwn(ALIASES, name.toLowerCase()) ? ALIASES[name.toLowerCase()] : undefined;
}

/** The scheme for a key, checked against the one the job names (if any). */
export function algorithmFor(key: KeyObject, named?: string): Algorithm {
  const type = key.asymmetricKeyType;
  const asked = named ? algorithmNamed(named) : undefined;
  if (named && !asked) throw new SignatureInvalid(`unknown signature algorithm "${named}"; expected rsa-pkcs1, rsa-pss, ecdsa or ed25519`);
  let algorithm: Algorithm;
  if (type === "rsa" || type === "rsa-pss") {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new SignatureInvalid("RSA signing key shorter than 2048 bits refused");
    algorithm = asked === "rsa-pss" || type === "rsa-pss" ? "rsa-pss" : "rsa-pkcs1";
  } else if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== "prime256v1" && curve !== "secp384r1") throw new SignatureInvalid(`ECDSA curve ${curve} refused; expected P-256 or P-384`);
    algorithm = "ecdsa";
  } else if (type === "ed25519") {
    algorithm = "ed25519";
  } else {
    throw new SignatureInvalid(`signing key type ${type} not supported`);
  }
  if (asked && asked !== algorithm) throw new SignatureInvalid(`job says ${named} but the key is ${type}`);
  return algorithm;
}

// The key to check with: the job's signer certificate (chained to [verify] ca) or [verify] public_key.
function signerKey(spec: SignatureSpec, cfg: Config["verify"], now: Date): KeyObject {
  if (spec.certificate && cfg.ca) return checkChain(spec.certificate, readFileSync(cfg.ca, "utf8"), now).publicKey;
  if (cfg.public_key) return createPublicKey(readFileSync(cfg.public_key));
  if (spec.certificate) throw new CertInvalid("the update carries a signer certificate but [verify] ca is not set; file deleted");
  if (cfg.ca) {
    throw new CertInvalid(`the signature carries no "certificate", and [verify] ca can only check a signer certificate: send "signature": {"value", "certificate": PEM}, or set [verify] public_key; file deleted`);
  }
  throw new SignatureInvalid("the update is signed but neither [verify] public_key nor [verify] ca is set; file deleted");
}

function certificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new CertInvalid(`unreadable certificate: ${(err as Error).message}`);
  }
}

function checkDates(cert: X509Certificate, now: Date): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (now.getTime() < from) throw new CertInvalid(`certificate ${cert.subject.replace(/\n/g, ", ")} is not valid before ${cert.validFrom}`);
  if (now.getTime() > to) throw new CertInvalid(`certificate ${cert.subject.replace(/\n/g, ", ")} expired ${cert.validTo}`);
}

/** Check that the first certificate in `pem` (plus any intermediates after it) chains to a CA in `caPem`. */
export function checkChain(pem: string, caPem: string, now: Date): X509Certificate {
  const [leaf, ...intermediates] = certificates(pem);
  const anchors = certificates(caPem);
  if (!leaf) throw new CertInvalid("signer certificate missing or not PEM");
  if (anchors.length === 0) throw new CertInvalid("[verify] ca holds no PEM certificate");
  checkDates(leaf, now);
  checkUsage(leaf);
  let current = leaf;
  for (let depth = 0; depth <= intermediates.length; depth++) {
    const anchor = anchors.find((a) => current.checkIssued(a) && current.verify(a.publicKey));
    if (anchor) {
      checkDates(anchor, now);
      return leaf;
    }
    const next = intermediates.find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) break;
    checkDates(next, now);
    current = next;
  }
  throw new CertInvalid(`signer certificate ${leaf.subject.replace(/\n/g, ", ")} does not chain to [verify] ca; file deleted`);
}

// Key usage, when present, must allow digitalSignature; extended key usage, when present, codeSigning.
function checkUsage(cert: X509Certificate): void {
  const ext = extensions(cert.raw);
  const ku = ext.get("551d0f");
  if (ku) {
    const bits = der(ku, 0);
    if (bits.tag !== 0x03 || (ku[bits.start + 1]! & 0x80) === 0) throw new CertInvalid("signer certificate key usage lacks digitalSignature");
  }
  const eku = ext.get("551d25");
  if (eku) {
    const oids = children(eku, der(eku, 0)).map((t) => eku.subarray(t.start, t.end).toString("hex"));
    if (!oids.includes("2b06010505070303") && !oids.includes("551d2500")) throw new CertInvalid("signer certificate extended key usage lacks codeSigning");
  }
}

interface Tlv { tag: number; start: number; end: number }

// One DER element at `pos`: its tag and where its contents start and end.
function der(buf: Buffer, pos: number): Tlv {
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) throw new CertInvalid("malformed certificate (DER length)");
  return { tag, start, end: start + len };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.start; pos < parent.end; ) {
    const t = der(buf, pos);
    out.push(t);
    pos = t.end;
  }
  return out;
}

// Extension OID (hex of its DER contents) → the extension's value (the OCTET STRING's contents).
function extensions(raw: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const tbs = children(raw, der(raw, 0))[0]!;
  const wrapper = children(raw, tbs).find((t) => t.tag === 0xa3);
  if (!wrapper) return out;
  for (const ext of children(raw, der(raw, wrapper.start))) {
    const parts = children(raw, ext);
    const oid = parts[0]!;
    const value = parts.at(-1)!;
    out.set(raw.subarray(oid.start, oid.end).toString("hex"), raw.subarray(value.start, value.end));
  }
  return out;
}
