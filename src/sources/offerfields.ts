// Field-by-field validation of what a manifest or a job document says about an update.
// Never trust either: each bad field is one line naming it, what came and what is expected.
// A value that would pass here and break later is refused here: text that makes a terminal
// or log lie (control, bidi, zero-width characters), a NUL a hook's argv cannot carry, a
// signature field of the wrong JSON type.
import { filePath } from "../base/fileurl.ts";
import { shown, UNSAFE } from "../base/printable.ts";
import { algorithmNamed, type SignatureSpec } from "../transfer/verify.ts";
import { ARCHIVES, type Offer } from "./source.ts";

/** Thrown with a one-line message; the caller wraps it in ManifestInvalid or JobInvalid. */
export class FieldError extends Error {}

type Doc = Record<string, unknown>;

// `field` may name a part ("signature.algorithm"); the example is of the whole field.
function bad(field: string, expected: string, got: unknown, example: string): never {
  throw new FieldError(`"${field}": expected ${expected}, got ${shown(got)}; e.g. "${field.split(".")[0]}": ${example}`);
}

const printable = (v: unknown): v is string => typeof v === "string" && v.trim() !== "" && !UNSAFE.test(v);

function text(doc: Doc, field: string, example: string, max = 128): string {
  const v = doc[field];
  if (!printable(v) || v.length > max) bad(field, `a non-empty string of at most ${max} printable characters (no control or bidi characters)`, v, example);
  return v.trim();
}

function optional<T>(doc: Doc, field: string, read: () => T): T | undefined {
  return doc[field] === undefined || doc[field] === null ? undefined : read();
}

/** The fields every source shares; `base` resolves a relative url (manifests). */
export function offerFields(doc: Doc, base?: string): Omit<Offer, "id" | "source" | "channel"> {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new FieldError("expected a JSON object");
  const version = text(doc, "version", '"1.4.2"');
  const urlField = "url" in doc ? "url" : "file";
  const rawUrl = text(doc, urlField, '"https://updates.example.com/image-1.4.2.tar.gz"', 4096);
  let url: string;
  try {
    url = base ? new URL(rawUrl, base).href : new URL(rawUrl).href;
  } catch {
    bad(urlField, "an absolute URL", rawUrl, '"https://updates.example.com/image.tar.gz"');
  }
  if (url.startsWith("file:")) filePath(url, (why) => new FieldError(`"${urlField}": ${why}`));
  const size = optional(doc, "size", () => {
    const v = doc.size;
    if (!Number.isSafeInteger(v) || (v as number) <= 0) bad("size", "a positive whole number of bytes", v, "104857600");
    return v as number;
  });
  const sha256 = optional(doc, "sha256", () => {
    const v = doc.sha256;
    if (typeof v !== "string" || !/^[0-9a-fA-F]{64}$/.test(v)) bad("sha256", "64 hex digits", v, '"9f86d081884c7d65..."');
    return (v as string).toLowerCase();
  });
  const signature = optional(doc, "signature", () => signatureOf(doc.signature));
  const boards = optional(doc, "boards", () => {
    const v = doc.boards;
    if (!Array.isArray(v) || !v.length || !v.every((b) => printable(b) && b.length <= 128)) bad("boards", "a non-empty list of board names (printable, at most 128 characters each)", v, '["rpi4", "turris-omnia"]');
    return v as string[];
  });
  const meta = optional(doc, "meta", () => (typeof doc.meta === "string" ? doc.meta : JSON.stringify(doc.meta))) ?? "";
  if (meta.length > 65536) bad("meta", "at most 64 KiB", `${meta.length} characters`, '"{\\"slot\\": \\"b\\"}"');
  // Every hook gets meta as an argument, and an argument ends at NUL: refused now, not after the download.
  if (meta.includes("\0")) bad("meta", "text without NUL characters (hooks get it as an argument)", doc.meta, '"{\\"slot\\": \\"b\\"}"');
  const force = optional(doc, "force", () => {
    if (typeof doc.force !== "boolean") bad("force", "true or false", doc.force, "false");
    return doc.force as boolean;
  }) ?? false;
  const archive = optional(doc, "archive", () => {
    if (!(ARCHIVES as readonly unknown[]).includes(doc.archive)) bad("archive", `one of ${ARCHIVES.map((a) => `"${a}"`).join(", ")}`, doc.archive, '"tar.gz"');
    return doc.archive as Offer["archive"];
  });
  return { version, url, size, sha256, signature, boards, meta, force, archive };
}

const SIGNATURE_EG = '{"value": "MEUCIQ...", "algorithm": "ecdsa", "certificate": "-----BEGIN CERTIFICATE-----\\n..."}';
const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

function signatureOf(v: unknown): SignatureSpec {
  if (typeof v === "string" && BASE64.test(v)) return { value: v.replace(/\s/g, "") };
  if (!v || typeof v !== "object" || Array.isArray(v)) bad("signature", 'base64 text or {"value": base64, "algorithm"?, "certificate"?}', v, '"MEUCIQ..."');
  const s = v as Doc;
  if (typeof s.value !== "string" || !BASE64.test(s.value)) bad("signature.value", "base64 text", s.value, SIGNATURE_EG);
  const algorithm = optional(s, "algorithm", () => {
    if (typeof s.algorithm !== "string" || !algorithmNamed(s.algorithm)) {
      bad("signature.algorithm", "one of rsa-pkcs1, rsa-pss, ecdsa, ed25519 (or AWS's sig-sha256-ecdsa, sig-sha256-rsa)", s.algorithm, SIGNATURE_EG);
    }
    return s.algorithm as string;
  });
  const certificate = optional(s, "certificate", () => {
    if (typeof s.certificate !== "string" || !s.certificate.includes("-----BEGIN CERTIFICATE-----")) bad("signature.certificate", "the signer's PEM certificate as text", s.certificate, SIGNATURE_EG);
    return s.certificate as string;
  });
  return { value: s.value.replace(/\s/g, ""), algorithm, certificate };
}
