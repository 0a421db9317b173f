// Upparat's job document, checked field by field before anything acts on it:
//   {"action": "upparat-update", "version": "1.2.3", "file": "https://…", "meta": "…", "force": false}
// plus otter's optional extras: sha256, size, signature {value, algorithm?, certificate?},
// boards, archive. A bad field is one line naming the field, what came and what is expected.
import { JobInvalid } from "../errors.ts";
import type { Offer, SignatureSpec } from "./source.ts";

export const ACTION = "upparat-update";
const ALGORITHMS = ["rsa-pkcs1", "rsa-pss", "ecdsa", "ed25519"];
const ARCHIVES = ["gz", "tar.gz", "zip"] as const;
const PLACEHOLDER = /\$\{aws:iot:s3-presigned-url:/;

type Doc = Record<string, unknown>;

function shown(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

class Fields {
  constructor(readonly jobId: string, readonly doc: Doc) {}

  fail(field: string, expected: string, example: string): never {
    throw new JobInvalid(`job ${this.jobId}: document field "${field}": expected ${expected}, got ${shown(this.doc[field])}; e.g. "${field}": ${example}`);
  }

  text(field: string, example: string): string {
    const v = this.doc[field];
    if (typeof v !== "string" || !v.trim() || /[\0-\x1f\x7f]/.test(v)) this.fail(field, "a non-empty string without control characters", example);
    return v;
  }

  optional<T>(field: string, read: (v: unknown) => T | undefined, expected: string, example: string): T | undefined {
    const v = this.doc[field];
    if (v === undefined || v === null) return undefined;
    const out = read(v);
    if (out === undefined) this.fail(field, expected, example);
    return out;
  }
}

function url(f: Fields): string {
  const file = f.text("file", '"https://updates.example.com/image-1.2.3.bin"');
  if (PLACEHOLDER.test(file)) f.fail("file", "a URL (AWS replaces ${aws:iot:s3-presigned-url:…} only when the job has a presignedUrlConfig)", '"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/bucket/image.bin}" with presignedUrlConfig set');
  let parsed: URL | undefined;
  try {
    parsed = new URL(file);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !["https:", "http:", "file:"].includes(parsed.protocol)) f.fail("file", "an https://, http:// or file:// URL", '"https://updates.example.com/image-1.2.3.bin"');
  return file;
}

function force(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  // Upparat's own tooling writes a JSON boolean; strings are read the way people mean them.
  if (typeof v === "string" && /^(true|false|)$/i.test(v.trim())) return v.trim().toLowerCase() === "true";
  return undefined;
}

function signature(v: unknown): SignatureSpec | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const { value, algorithm, certificate } = v as Record<string, unknown>;
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  if (algorithm !== undefined && (typeof algorithm !== "string" || !ALGORITHMS.includes(algorithm))) return undefined;
  if (certificate !== undefined && (typeof certificate !== "string" || !certificate.includes("-----BEGIN CERTIFICATE-----"))) return undefined;
  return { value, ...(algorithm ? { algorithm } : {}), ...(certificate ? { certificate } : {}) };
}

function boards(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return v.every((b) => typeof b === "string" && b.trim() !== "") ? (v as string[]) : undefined;
}

/** The document as an object: AWS sends it as JSON, some tools as a JSON string. */
function parse(jobId: string, document: unknown): Doc {
  let doc = document;
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc);
    } catch (err) {
      throw new JobInvalid(`job ${jobId}: document is not JSON (${(err as Error).message}); e.g. {"action": "${ACTION}", "version": "1.2.3", "file": "https://…"}`);
    }
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new JobInvalid(`job ${jobId}: document must be a JSON object, got ${shown(doc)}; e.g. {"action": "${ACTION}", "version": "1.2.3", "file": "https://…"}`);
  }
  return doc as Doc;
}

/** An Offer from an AWS job id and document; throws JobInvalid naming the first bad field. */
export function offerFromJob(jobId: string, document: unknown, prefix: string): Offer {
  if (!jobId.startsWith(prefix)) {
    throw new JobInvalid(`job ${jobId}: id must start with "${prefix}" ([broker] job_prefix); name the job e.g. ${prefix}${jobId}`);
  }
  const f = new Fields(jobId, parse(jobId, document));
  if (f.doc.action !== ACTION) f.fail("action", `"${ACTION}"`, `"${ACTION}"`);
  const version = f.text("version", '"1.2.3"');
  const file = url(f);
  const meta = f.optional("meta", (v) => (typeof v === "string" && !v.includes("\0") ? v : undefined), "a string (passed to every hook)", '"rootfs-b"') ?? "";
  const offer: Offer = {
    id: jobId,
    source: "aws",
    version,
    url: file,
    meta,
    force: f.optional("force", force, "true or false", "false") ?? false,
  };
  const sha256 = f.optional("sha256", (v) => (typeof v === "string" && /^[0-9a-fA-F]{64}$/.test(v) ? v.toLowerCase() : undefined), "64 hex digits", '"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"');
  const size = f.optional("size", (v) => (Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : undefined), "a whole number of bytes above 0", "104857600");
  const sig = f.optional("signature", signature, `{"value": base64, "algorithm"?: one of ${ALGORITHMS.join(", ")}, "certificate"?: PEM}`, '{"value": "MEUCIQ…"}');
  const bs = f.optional("boards", boards, "a non-empty list of board names", '["rpi4", "rpi5"]');
  const archive = f.optional("archive", (v) => ARCHIVES.find((a) => a === v), `one of ${ARCHIVES.join(", ")}`, '"tar.gz"');
  if (sha256) offer.sha256 = sha256;
  if (size) offer.size = size;
  if (sig) offer.signature = sig;
  if (bs) offer.boards = bs;
  if (archive) offer.archive = archive;
  return offer;
}
