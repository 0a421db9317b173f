// The downloader: streams a URL into a part file, hashing (native sha256) as bytes arrive,
// with flat memory. Resumes with Range + If-Range and accepts only a 206 whose
// Content-Range starts where it asked with the total it knows (undici's retry-handler
// rule); anything else restarts cleanly from zero. Retries recoverable failures with
// backoff and full jitter, bounded by max_attempts (attempts without progress) and by the
// data budget (bytes fetched per job, kept in the journal through ResumePoint).
import { closeSync, fsyncSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { parseContentRange, retryAfterSeconds, retryDelaySeconds } from "../base/backoff.ts";
import {
  Cancelled, DigestMismatch, DownloadBudget, DownloadHttp, DownloadHttpTransient, DownloadNetwork,
  DownloadNoSpace, DownloadRetriesExhausted, DownloadStalled, DownloadTooLarge, DownloadUrlExpired,
  OtterError, describe,
} from "../base/errors.ts";
import { log } from "../base/log.ts";
import { sleep } from "../base/sleep.ts";
import type { Config } from "../config/config.ts";
import { header, openTransport, redact, send as sendHttp, type HttpResponse, type Transport } from "./http.ts";
import { checkpoint, checkSpace, CHECKPOINT_MS, openPart, restart, resumePoint, settled, type Part } from "./partfile.ts";
import type { DownloadRequest, DownloadResult } from "./request.ts";


/** An attempt that moved the file on by this much does not count against max_attempts. */
const PROGRESS_BYTES = 64 * 1024;

/** Download `req.url` to `req.partPath`; see DownloadRequest. */
export async function download(req: DownloadRequest): Promise<DownloadResult> {
  const local = localPath(req.url, req.options.allow_http);
  const t = local === undefined ? await openTransport(req.options) : undefined;
  const p = await openPart(req);
  try {
    checkSpace(req, p);
    if (local !== undefined) await copyLocal(req, p, local);
    else await fetchLoop(req, p, t!);
    await settled(p);
    fsyncSync(p.fd);
    p.checkpointed = p.offset;
  } finally {
    await p.syncing?.catch(() => {});
    closeSync(p.fd);
    await t?.close();
  }
  const sha256 = p.hash.digest("hex");
  if (req.sha256 && sha256 !== req.sha256.toLowerCase()) {
    unlinkSync(req.partPath);
    throw new DigestMismatch(`downloaded file has sha256 ${sha256}, expected ${req.sha256.toLowerCase()}; file deleted`);
  }
  await req.onCheckpoint?.(resumePoint(p));
  req.onProgress?.({ bytes: p.offset, total: p.offset, bytesPerSecond: 0 });
  return { path: req.partPath, size: p.offset, sha256, fetched: p.fetched };
}

/** The local file a URL names (file:// or an absolute path), or undefined for http(s). */
function localPath(url: string, allowHttp: boolean): string | undefined {
  if (isAbsolute(url)) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DownloadHttp(`not a URL or an absolute path: ${JSON.stringify(redact(url))}`);
  }
  if (u.protocol === "https:") return undefined;
  if (!allowHttp && (u.protocol === "http:" || u.protocol === "file:")) {
    throw new DownloadHttp(`${u.protocol}// URL refused (${redact(url)}); set [download] allow_http = true to allow it`);
  }
  if (u.protocol === "file:") return fileURLToPath(u);
  if (u.protocol === "http:") return undefined;
  throw new DownloadHttp(`unsupported URL scheme ${u.protocol} (${redact(url)})`);
}

async function copyLocal(req: DownloadRequest, p: Part, path: string): Promise<void> {
  p.offset = 0;
  restart(p, "local copy");
  const src = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(2 ** 20);
    for (;;) {
      if (req.signal?.aborted) throw new Cancelled("download cancelled");
      const n = readSync(src, buf, 0, buf.length, p.offset);
      if (n === 0) break;
      p.fetched += n;
      await accept(req, p, buf.subarray(0, n));
    }
  } finally {
    closeSync(src);
  }
  if (req.expectedSize !== undefined && p.offset !== req.expectedSize) {
    throw new DownloadHttp(`${path} has ${p.offset} bytes, expected ${req.expectedSize}`);
  }
}

// Attempts until the file is complete; each attempt is one request (plus redirects).
async function fetchLoop(req: DownloadRequest, p: Part, t: Transport): Promise<void> {
  let url = req.url;
  let last: OtterError | undefined;
  let failures = 0;
  // Killed after the last byte but before the rename: the digest can say it is all there.
  if (p.offset > 0 && p.offset === req.expectedSize && req.sha256 && p.hash.copy().digest("hex") === req.sha256.toLowerCase()) return;
  for (;;) {
    if (req.signal?.aborted) throw new Cancelled("download cancelled");
    if (p.attempts >= req.options.max_attempts) {
      throw new DownloadRetriesExhausted(`download failed after ${p.attempts} attempts without progress: ${last ? describe(last) : "no answer"}`, { cause: last });
    }
    p.attempts++;
    const before = p.offset;
    try {
      const outcome = await attempt(req, p, t, url);
      if (outcome === "done") return;
      if (typeof outcome === "object") url = outcome.url;
      continue; // restart or fresh URL: go again at once
    } catch (err) {
      last = classify(err, req.signal);
      if (p.offset - before >= PROGRESS_BYTES || (req.expectedSize !== undefined && p.offset === req.expectedSize)) {
        p.attempts = 0;
        failures = 0;
      }
      // Only the network may heal within a job; other errors go to the caller at once.
      if (!(last instanceof DownloadNetwork || last instanceof DownloadStalled || last instanceof DownloadHttpTransient)) throw last;
      const wait = retryDelaySeconds(failures++, req.options.retry_base, req.options.retry_cap, (last as { retryAfter?: number }).retryAfter);
      log.info("download: retrying", { reason: describe(last), at: p.offset, in_s: Number(wait.toFixed(2)), attempt: p.attempts });
      await pause(wait * 1000, req.signal);
    }
  }
}

type Outcome = "done" | "restart" | { url: string };

// One request: send, check the answer, stream the body into the part file.
async function attempt(req: DownloadRequest, p: Part, t: Transport, startUrl: string): Promise<Outcome> {
  const ranged = p.offset > 0;
  const headers: Record<string, string> = { ...t.headers, "accept-encoding": "identity" };
  if (ranged) {
    headers.range = `bytes=${p.offset}-`;
    const validator = p.etag && !p.etag.startsWith("W/") ? p.etag : p.lastModified;
    // Without a validator a changed file could be spliced on; only the digest could tell.
    if (validator) headers["if-range"] = validator;
    else if (!req.sha256) {
      restart(p, "no ETag or Last-Modified to resume safely");
      return attempt(req, p, t, startUrl);
    }
  }
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  req.signal?.addEventListener("abort", onAbort);
  const guard = lowSpeedGuard(req.options, p, ac);
  try {
    const res = await send(req, t, startUrl, headers, ac.signal);
    const check = answer(req, p, res, ranged);
    if (check !== "stream") {
      res.discard();
      if (check === "refresh") return { url: await refresh(req, p) };
      return check === "check-disk" ? checkDisk(req, p) : "restart";
    }
    // A new file (or a restart): journal its validator before its first byte lands, so the
    // bytes a resume keeps always belong to the validator the journal names.
    if (p.offset === 0) await req.onCheckpoint?.(resumePoint(p));
    const end = res.statusCode === 206 ? parseContentRange(header(res, "content-range"))!.end + 1 : undefined;
    try {
      for await (const chunk of res.body) {
        p.fetched += chunk.length;
        await accept(req, p, chunk);
      }
    } catch (err) {
      // A body cut exactly at the expected size is complete; the digest decides. Only a
      // transport error is forgiven so: our own refusals (too large, budget, disk) stand.
      if (err instanceof OtterError || req.expectedSize === undefined || p.offset !== req.expectedSize || ac.signal.aborted) throw err;
    }
    const want = req.expectedSize ?? end ?? p.total;
    if (want !== undefined && p.offset < want) throw new DownloadNetwork(`body ended at ${p.offset} of ${want} bytes`);
    return "done";
  } catch (err) {
    if (guard.stalled) throw new DownloadStalled(`slower than ${req.options.low_speed_limit} B/s for ${req.options.low_speed_time} s`);
    throw err;
  } finally {
    guard.stop();
    req.signal?.removeEventListener("abort", onAbort);
  }
}

type Response = HttpResponse;

// GET with redirects followed by hand (never from https to http unless allow_http).
function send(req: DownloadRequest, t: Transport, startUrl: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  return sendHttp(t, startUrl, { method: "GET", headers, signal, allowHttp: req.options.allow_http, fail: (m) => new DownloadHttp(m) });
}

// Decide what to do with a response before reading its body.
function answer(req: DownloadRequest, p: Part, res: Response, ranged: boolean): "stream" | "restart" | "check-disk" | "refresh" {
  const s = res.statusCode;
  const where = redact(req.url);
  if (s === 200) {
    if (ranged) restart(p, "server answered 200 to a Range request");
    p.etag = header(res, "etag");
    p.lastModified = header(res, "last-modified");
    const length = Number(header(res, "content-length") ?? NaN);
    p.hint = Number.isFinite(length) ? length : undefined;
    checkSpace(req, p);
    if (length > req.options.max_file_size) throw new DownloadTooLarge(`${where} is ${length} bytes, over max_file_size ${req.options.max_file_size}`);
    return "stream";
  }
  if (s === 206) {
    const cr = parseContentRange(header(res, "content-range"));
    const etag = header(res, "etag");
    const total = req.expectedSize ?? p.total;
    if (!ranged || !cr || cr.start !== p.offset || (total !== undefined && cr.total !== total) || (p.etag && etag && etag !== p.etag)) {
      restart(p, `unexpected 206 (Content-Range ${header(res, "content-range") ?? "missing"} for offset ${p.offset})`);
      return "restart";
    }
    if (cr.total !== undefined && cr.total > req.options.max_file_size) throw new DownloadTooLarge(`${where} is ${cr.total} bytes, over max_file_size ${req.options.max_file_size}`);
    p.total = cr.total;
    checkSpace(req, p);
    return "stream";
  }
  if (s === 416 && ranged) return "check-disk";
  if (s === 403 && req.refreshUrl) return "refresh";
  if (s === 408 || s === 429 || s >= 500) {
    const err = new DownloadHttpTransient(`HTTP ${s} from ${where}`);
    Object.assign(err, { retryAfter: retryAfterSeconds(header(res, "retry-after"), Date.now()) });
    throw err;
  }
  throw new DownloadHttp(`HTTP ${s} from ${where}`);
}

// 416: what is on disk may already be the whole file, but only the digest can say so.
function checkDisk(req: DownloadRequest, p: Part): "done" | "restart" {
  const complete = req.sha256 !== undefined && (req.expectedSize === undefined || p.offset === req.expectedSize);
  if (complete && p.hash.copy().digest("hex") === req.sha256!.toLowerCase()) return "done";
  restart(p, "server answered 416 and the bytes on disk do not match the digest");
  return "restart";
}

// 403 on a presigned URL: one fresh URL per stretch of progress, then the same offset again.
async function refresh(req: DownloadRequest, p: Part): Promise<string> {
  if (p.refreshed) throw new DownloadUrlExpired(`HTTP 403 from ${redact(req.url)} again after a fresh URL`);
  p.refreshed = true;
  log.info("download: URL refused (403); asking for a fresh one", { at: p.offset });
  return req.refreshUrl!();
}

// Write one chunk at the current offset, hash it, and checkpoint / report / throttle.
async function accept(req: DownloadRequest, p: Part, chunk: Uint8Array): Promise<void> {
  const o = req.options;
  if (p.syncError) throw p.syncError;
  const end = p.offset + chunk.length;
  const size = req.expectedSize ?? p.total ?? p.hint;
  if (size !== undefined && p.fetched > o.budget_factor * size) {
    throw new DownloadBudget(`fetched ${p.fetched} bytes for a ${size}-byte file (budget_factor ${o.budget_factor})`);
  }
  if (end > o.max_file_size) throw new DownloadTooLarge(`${redact(req.url)} sent more than max_file_size ${o.max_file_size} bytes`);
  // Past the size the job or a 206's Content-Range announced: a server that lies.
  const cap = req.expectedSize ?? p.total;
  if (cap !== undefined && end > cap) throw new DownloadTooLarge(`${redact(req.url)} sent more than the expected ${cap} bytes`);
  try {
    writeSync(p.fd, chunk, 0, chunk.length, p.offset);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOSPC") throw new DownloadNoSpace(`disk full writing ${req.partPath}`, { cause: err });
    throw err;
  }
  p.hash.update(chunk);
  p.offset = end;
  p.refreshed = false;
  const now = Date.now();
  if (!p.syncing && (end - p.checkpointed >= o.sync_interval || now - p.checkpointAt >= CHECKPOINT_MS)) checkpoint(req, p);
  if (p.syncing && end - p.checkpointed >= 1.5 * o.sync_interval) await settled(p);
  if (req.onProgress && now - p.progressAt >= 1000) {
    req.onProgress({ bytes: end, total: size, bytesPerSecond: ((end - p.progressBytes) * 1000) / (now - p.progressAt) });
    p.progressAt = now;
    p.progressBytes = end;
  }
  if (o.bandwidth_limit > 0) await throttle(p, chunk.length, o.bandwidth_limit, req.signal);
}

const pace = new WeakMap<Part, { since: number; bytes: number }>();

// Sleep as needed so bytes over the last seconds stay under the cap.
async function throttle(p: Part, n: number, limit: number, signal?: AbortSignal): Promise<void> {
  const now = Date.now();
  let w = pace.get(p);
  if (!w || now - w.since > 5000) pace.set(p, (w = { since: now, bytes: 0 }));
  w.bytes += n;
  const ahead = (w.bytes / limit) * 1000 - (now - w.since);
  if (ahead > 20) await pause(ahead, signal);
}

// Abort the attempt when fewer than low_speed_limit bytes/s arrive over low_speed_time.
function lowSpeedGuard(o: Config["download"], p: Part, ac: AbortController): { stalled: boolean; stop(): void } {
  const g = { stalled: false, stop: () => {} };
  if (o.low_speed_limit <= 0) return g;
  const windowMs = o.low_speed_time * 1000;
  const samples: { t: number; b: number }[] = [{ t: Date.now(), b: p.offset }];
  const timer = setInterval(() => {
    const now = Date.now();
    samples.push({ t: now, b: p.offset });
    while (samples.length > 2 && now - samples[1]!.t >= windowMs) samples.shift();
    const first = samples[0]!;
    if (now - first.t >= windowMs && p.offset - first.b < (o.low_speed_limit * (now - first.t)) / 1000) {
      g.stalled = true;
      ac.abort();
    }
  }, Math.min(1000, windowMs / 4));
  g.stop = () => clearInterval(timer);
  return g;
}

/** Map anything thrown during an attempt to an OtterError. */
function classify(err: unknown, signal?: AbortSignal): OtterError {
  if (signal?.aborted) return new Cancelled("download cancelled", { cause: err });
  if (err instanceof OtterError) return err;
  const code = (err as { code?: string }).code ?? "";
  const msg = describe(err);
  if (code === "UND_ERR_BODY_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT") return new DownloadStalled(`no data for too long (${msg})`, { cause: err });
  if (code === "ENOSPC") return new DownloadNoSpace(msg, { cause: err });
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL/.test(code)) return new DownloadHttp(`TLS: ${msg} (${code}); check [download] cafile`, { cause: err });
  return new DownloadNetwork(`${msg}${code ? ` (${code})` : ""}`, { cause: err });
}

// Wait, but stop with Cancelled as soon as the job is cancelled or otter stops.
async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, signal);
  if (signal?.aborted) throw new Cancelled("download cancelled");
}
