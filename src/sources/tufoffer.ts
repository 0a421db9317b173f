// A TUF channel's offer, made only from what verified targets metadata says: the file's
// length and sha256 from the target itself, every claim (version, boards, meta, force,
// archive, signature) from its signed `custom` fields, checked field by field like a
// manifest's. Pure.
import { FieldError, offerFields } from "./offerfields.ts";
import type { Offer } from "./source.ts";

/** The part of a verified TUF target an offer is made of. */
export interface VerifiedTarget {
  path: string;
  length: number;
  hashes: Record<string, string>;
  custom: Record<string, unknown>;
}

/** The target a channel offers: CHANNEL/TARGET ([tuf] target), e.g. release/image. */
export function targetPath(channel: string, target: string): string {
  return `${channel}/${target}`;
}

/** Where the file is: targets_url + path; with consistent snapshots the file name is prefixed with its sha256 (TUF 5.7.3). */
export function targetUrl(targetsUrl: string, path: string, sha256: string, consistentSnapshot: boolean): string {
  const base = targetsUrl.endsWith("/") ? targetsUrl : `${targetsUrl}/`;
  const slash = path.lastIndexOf("/");
  const name = consistentSnapshot ? `${path.slice(0, slash + 1)}${sha256}.${path.slice(slash + 1)}` : path;
  return new URL(name.replace(/^\/+/, ""), base).href;
}

/** The offer for `target` of `channel`; throws FieldError naming the field. */
export function tufOffer(channel: string, target: VerifiedTarget, targetsUrl: string, consistentSnapshot: boolean): Offer {
  const sha256 = target.hashes.sha256;
  if (typeof sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw new FieldError(`"hashes": expected a sha256 among the target's hashes (otter checks the file by it), got ${Object.keys(target.hashes).join(", ") || "none"}`);
  }
  if (!Object.keys(target.custom).length) throw new FieldError(`"custom": expected the target's custom fields, at least {"version": "1.4.2"}, got none`);
  const doc = { ...target.custom, url: targetUrl(targetsUrl, target.path, sha256.toLowerCase(), consistentSnapshot), sha256, size: target.length };
  const fields = offerFields(doc);
  return { ...fields, id: `${channel}:${fields.version}:${fields.sha256!.slice(0, 12)}`, source: "tuf", channel };
}

// The claims a job installs by: the file and everything signed about it (the URL is otter's, from [tuf] targets_url).
const CLAIMS = ["version", "sha256", "size", "boards", "meta", "force", "archive", "signature"] as const;

/** How the target a channel signs now differs from the offer a job was made of; undefined: the same. */
export function targetChange(was: Offer, now: Offer | undefined, path: string): string | undefined {
  if (!now) return `the repository no longer names ${path}`;
  const changed = CLAIMS.filter((c) => JSON.stringify(was[c]) !== JSON.stringify(now[c]));
  if (!changed.length) return undefined;
  return `${path} is signed now as version ${now.version} (${now.id}), not as this job's ${was.version} (${was.id}): ${changed.join(", ")} changed`;
}
