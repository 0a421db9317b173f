// Upparat's job document, checked before anything acts on it:
//   {"action": "upparat-update", "version": "1.2.3", "file": "https://…", "meta": "…", "force": false}
// plus otter's optional extras (sha256, size, signature, boards, archive), validated field by
// field by offerFields like a manifest. A bad field is one line naming the job and the field.
import { JobInvalid } from "../base/errors.ts";
import { shown } from "../base/printable.ts";
import { FieldError, offerFields } from "./offerfields.ts";
import type { Offer } from "./source.ts";

export const ACTION = "upparat-update";
const PLACEHOLDER = /\$\{aws:iot:s3-presigned-url:/;
const EXAMPLE = `{"action": "${ACTION}", "version": "1.2.3", "file": "https://…"}`;

type Doc = Record<string, unknown>;

/** The document as an object: AWS sends it as JSON, some tools as a JSON string. */
function parse(jobId: string, document: unknown): Doc {
  let doc = document;
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc);
    } catch (err) {
      throw new JobInvalid(`job ${jobId}: document is not JSON (${(err as Error).message}); e.g. ${EXAMPLE}`);
    }
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new JobInvalid(`job ${jobId}: document must be a JSON object, got ${shown(doc)}; e.g. ${EXAMPLE}`);
  }
  return doc as Doc;
}

/** Upparat's own tooling writes force as a JSON boolean; "True"/"false"/"" are read as meant. */
function force(v: unknown): unknown {
  return typeof v === "string" && /^(true|false|)$/i.test(v.trim()) ? v.trim().toLowerCase() === "true" : v;
}

/** An Offer from an AWS job id and document; throws JobInvalid naming the first bad field. */
export function offerFromJob(jobId: string, document: unknown, prefix: string): Offer {
  if (!jobId.startsWith(prefix)) {
    throw new JobInvalid(`job ${jobId}: id must start with "${prefix}" ([broker] job_prefix); name the job e.g. ${prefix}${jobId}`);
  }
  const doc = parse(jobId, document);
  const field = (message: string) => new JobInvalid(`job ${jobId}: document field ${message}`);
  if (doc.action !== ACTION) throw field(`"action": expected "${ACTION}", got ${shown(doc.action)}; e.g. "action": "${ACTION}"`);
  if (typeof doc.file === "string" && PLACEHOLDER.test(doc.file)) {
    throw field(`"file": the presigned-URL placeholder was not replaced; AWS replaces \${aws:iot:s3-presigned-url:…} only for a job created with a presignedUrlConfig`);
  }
  let fields: ReturnType<typeof offerFields>;
  try {
    const { url: _notUpparat, ...upparat } = doc; // the file is in "file"; never let "url" override it
    fields = offerFields({ ...upparat, force: force(doc.force) });
  } catch (err) {
    if (err instanceof FieldError) throw field(err.message);
    throw err;
  }
  if (!/^(https|http|file):/.test(fields.url)) throw field(`"file": expected an https://, http:// or file:// URL, got ${shown(doc.file)}; e.g. "file": "https://updates.example.com/image-1.2.3.bin"`);
  return { ...fields, id: jobId, source: "aws" };
}
