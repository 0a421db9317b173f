// `otter install URL|PATH`: a file given by hand (a USB stick, a service laptop) as a
// one-offer source, so it goes through the same pipeline, journal and reports. When another
// otter holds the lock (the daemon), the request is queued in state_dir/install-queue.json
// instead, and that otter takes it as its next job. The operator's file is local by
// definition: a path (or file:// URL) needs no [download] allow_http.
import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createFileAtomic } from "../base/atomic.ts";
import { describe } from "../base/errors.ts";
import { filePath } from "../base/fileurl.ts";
import { log } from "../base/log.ts";
import { longText, object, optional, shortText, type Check } from "../base/shape.ts";
import { loadOwned, loadShared } from "../base/statefile.ts";
import type { Config } from "../config/config.ts";
import { postReport } from "./manifest.ts";
import { FieldError, offerFields } from "./offerfields.ts";
import type { Offer, Source } from "./source.ts";

/** What `otter install` was asked to install. */
export interface InstallRequest {
  /** an absolute path, or a URL */
  where: string;
  version: string;
  sha256?: string;
  signature?: { value: string; certificate?: string };
}

/** A queued request, as state_dir/install-queue.json holds it. */
interface Queued extends InstallRequest {
  /** names the job (manual:VERSION:ID), so a request already taken is never taken twice */
  id: string;
  /** ISO time it was queued */
  queuedAt: string;
}

export const INSTALL_QUEUE_FILE = "install-queue.json";
const ID_PREFIX = "manual:";

/** The offer for a request, every field checked as a manifest's are; throws FieldError naming the bad one. */
export function manualOffer(req: InstallRequest, id: string): Offer {
  const local = req.where.startsWith("/") ? req.where : req.where.startsWith("file:") ? filePath(req.where, (why) => new FieldError(`"url": ${why}`)) : undefined;
  const fields = offerFields({ version: req.version, url: local ? pathToFileURL(local).href : req.where, sha256: req.sha256, signature: req.signature, force: true });
  // An absolute path is read as a local file whatever allow_http says (transfer/download.ts).
  return { ...fields, url: local ?? fields.url, id: `${ID_PREFIX}${fields.version}:${id}`, source: "manual" };
}

/** The one-offer source `otter install` runs with when it holds the lock itself. */
export function manualSource(config: Config, req: InstallRequest): Source {
  const offer = manualOffer(req, (req.sha256 ?? "").slice(0, 12) || String(Date.now()));
  let given = false;
  return {
    name: "manual",
    async start() {},
    async stop() {},
    async check() {
      if (given) return [];
      given = true;
      return [offer];
    },
    report: (report) => postReport(config, report),
  };
}

/**
 * A configured source that also carries the jobs `otter install` queued: their reports go
 * where otter install's own go (report_url, else the log), never to AWS, which knows no
 * such job; and their URL is never re-signed.
 */
export function withQueuedInstalls(config: Config, source: Source): Source {
  const refresh = source.refresh;
  return {
    name: source.name,
    start: (events) => source.start(events),
    stop: () => source.stop(),
    check: (opts) => source.check(opts),
    problems: () => source.problems?.() ?? [],
    stalled: () => source.stalled?.(),
    report: (r) => (r.jobId.startsWith(ID_PREFIX) ? postReport(config, r) : source.report(r)),
    ...(refresh ? { refresh: async (o: Offer) => (o.source === "manual" ? o : refresh.call(source, o)) } : {}),
  };
}

const queuedShape: Check<Queued> = object<Queued>({
  id: shortText, queuedAt: shortText, where: shortText, version: shortText, sha256: optional(shortText),
  signature: optional(object<NonNullable<InstallRequest["signature"]>>({ value: longText, certificate: optional(longText) })),
});

const queuePath = (config: Config) => join(config.service.state_dir, INSTALL_QUEUE_FILE);

/** Queue a request for the otter holding the lock; false when one is queued already (it is never replaced). */
export function queueInstall(config: Config, req: InstallRequest): boolean {
  manualOffer(req, "check"); // refuse now what the daemon would refuse later
  const queued: Queued = { ...req, id: randomBytes(6).toString("hex"), queuedAt: new Date().toISOString() };
  return createFileAtomic(queuePath(config), JSON.stringify(queued, null, 1));
}

/** The queued request as "VERSION from WHERE, queued at T" (otter status), if any. */
export function describeQueued(config: Config): string | undefined {
  const q = loadShared<Queued | undefined>("install queue", queuePath(config), queuedShape, undefined);
  return q && `${q.version} from ${q.where}, queued at ${q.queuedAt}`;
}

/**
 * For the otter holding the lock: the queued request's offer, if there is one it has not
 * taken yet (`taken(offerId)`: the journal or the history has it, so the file outlived a
 * crash after its job was journaled). A file of the wrong shape is moved aside, and a
 * request that cannot run (its file is gone) dropped, with one line each.
 */
export function takeQueuedInstall(config: Config, taken: (offerId: string) => boolean): Offer | undefined {
  const path = queuePath(config);
  const q = loadOwned<Queued | undefined>("install queue", path, queuedShape, undefined);
  if (!q) return undefined;
  let offer: Offer | undefined;
  try {
    offer = manualOffer(q, q.id);
    if (offer.url.startsWith("/") && !existsSync(offer.url)) throw new Error(`${offer.url}: no such file any more`);
  } catch (err) {
    log.error(`queued otter install of ${q.version} dropped: ${describe(err)}`);
    offer = undefined;
  }
  if (!offer || taken(offer.id)) return void dropQueuedInstall(config);
  return offer;
}

/** Once the queued request's job is journaled (or it cannot run): the request is done with. */
export function dropQueuedInstall(config: Config): void {
  rmSync(queuePath(config), { force: true });
}
