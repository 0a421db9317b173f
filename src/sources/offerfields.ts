// Field-by-field validation of what a manifest or a job document says about an update.
// Never trust either: each bad field is one line naming it, what came and what is expected.
import type { SignatureSpec } from "../transfer/verify.ts";
import type { Offer } from "./source.ts";

/** Thrown with a one-line message; the caller wraps it in ManifestInvalid or JobInvalid. */
export class FieldError extends Error {}

type Doc = Record<string, unknown>;

function bad(field: string, expected: string, got: unknown, example: string): never {
  const shown = got === undefined ? "nothing" : JSON.stringify(got)?.slice(0, 80);
  throw new FieldError(`"${field}": expected ${expected}, got ${shown}; e.g. "${field}": ${example}`);
}

const PRINTABLE = /^[^\x00-\x1f\x7f]+$/;

function text(doc: Doc, field: string, example: string, max = 128): string {
  const v = doc[field];
  if (typeof v !== "string" || !v.trim() || v.length > max || !PRINTABLE.test(v)) bad(field, `a non-empty string of at most ${max} printable characters`, v, example);
  return v.trim();
}

function optional<T>(doc: Doc, field: string, read: () => T): T | undefined {
  return doc[field] === undefined || doc[field] === null ? undefined : read();
}

/** The fields every source shares; `base` resolves a relative url (manifests). */
export function offerFields(doc: Doc, base?: string): Omit<Offer, "id" | "source" | "channel"> {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new FieldError("expected a JSON object");
  const version = text(doc, "version", '"1.4.2"');
  const rawUrl = text(doc, "url" in doc ? "url" : "file", '"https://updates.example.com/image-1.4.2.tar.gz"', 4096);
  let url: string;
  try {
    url = base ? new URL(rawUrl, base).href : new URL(rawUrl).href;
  } catch {
    bad("url" in doc ? "url" : "file", "an absolute URL", rawUrl, '"https://updates.example.com/image.tar.gz"');
  }
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
    if (!Array.isArray(v) || !v.length || !v.every((b) => typeof b === "string" && b && PRINTABLE.test(b))) bad("boards", "a non-empty list of board names", v, '["rpi4", "turris-omnia"]');
    return v as string[];
  });
  const meta = optional(doc, "meta", () => (typeof doc.meta === "string" ? doc.meta : JSON.stringify(doc.meta))) ?? "";
  if (meta.length > 65536) bad("meta", "at most 64 KiB", `${meta.length} characters`, '"{\\"slot\\": \\"b\\"}"');
  const force = optional(doc, "force", () => {
    if (typeof doc.force !== "boolean") bad("force", "true or false", doc.force, "false");
    return doc.force as boolean;
  }) ?? false;
  const archive = optional(doc, "archive", () => {
    if (!["gz", "tar.gz", "zip"].includes(doc.archive as string)) bad("archive", 'one of "gz", "tar.gz", "zip"', doc.archive, '"tar.gz"');
    return doc.archive as Offer["archive"];
  });
  return { version, url, size, sha256, signature, boards, meta, force, archive };
}

function signatureOf(v: unknown): SignatureSpec {
  if (typeof v === "string" && /^[A-Za-z0-9+/=\s]+$/.test(v)) return { value: v.replace(/\s/g, "") };
  if (v && typeof v === "object" && typeof (v as Doc).value === "string") {
    const s = v as Doc;
    return { value: String(s.value).replace(/\s/g, ""), algorithm: s.algorithm as string | undefined, certificate: s.certificate as string | undefined };
  }
  return bad("signature", 'base64 text or {"value": base64, "algorithm"?, "certificate"?}', v, '"MEUCIQ..."');
}
