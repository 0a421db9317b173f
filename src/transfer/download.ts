// The downloader: streams a URL into a part file, each chunk hashed (native sha256) and
// written as it arrives, with flat memory.
// Resumes with Range + If-Range and accepts only a 206 whose Content-Range starts where it
// asked with the total it knows (undici's retry-handler rule); anything else restarts
// cleanly from zero. Retries network failures by the rule of
// base/backoff.ts (1-2 s after progress, else full-jitter backoff), bounded by max_attempts
// (attempts without progress in a row), a low-speed floor, and the data budget (bytes
// fetched per job, kept in the journal through ResumePoint). Local storage faults are not
// retried here: they pause the job (StorageUnavailable).
import { closeSync, fsyncSync, unlinkSync, writeSync } from "node:fs";
import { isAbsolute } from "node:path";
import { parseContentRange, retryAfterSeconds, retryDelaySeconds } from "../base/backoff.ts";
import { monotonicMs } from "../base/clock.ts";
import { filePath } from "../base/fileurl.ts";
import {
  Cancelled, DigestMismatch, DownloadHttp, DownloadHttpTransient, DownloadNetwork,
  DownloadRetriesExhausted, DownloadStalled, DownloadTooLarge, DownloadUrlExpired,
  OtterError, storageError,
} from "../base/errors.ts";
import { log } from "../base/log.ts";
import { shownUrl } from "../base/printable.ts";
import { describeNetworkError, header, openTransport, send as sendHttp, type HttpResponse, type Transport } from "./http.ts";
import { checkBudget, lowSpeedGuard, pause, throttle } from "./limits.ts";
import { openRegularFile } from "./localfile.ts";
import { formatBytes } from "./progress.ts";
import { checkpoint, checkSpace, CHECKPOINT_MS, openPart, restart, resumePoint, settled, type Part } from "./partfile.ts";
import type { DownloadRequest, DownloadResult } from "./request.ts";

/** An attempt that moved the file on by this much does not count against max_attempts. */
const PROGRESS_BYTES = 64 * 1024;

/** Download `req.url` to `req.partPath`; see DownloadRequest. */
export async function download(req: DownloadRequest): Promise<DownloadResult> {
  const max = req.options.max_file_size;
  if (req.expectedSize !== undefined && req.expectedSize > max) {
    throw new DownloadTooLarge(`the update is ${req.expectedSize} bytes, over max_file_size ${max}; nothing was fetched`);
  }
  const local = localPath(req);
  const t = local === undefined ? await openTransport(req.options, req.credentialOrigins) : undefined;
  try {
    return await transfer(req, t, local);
  } catch (err) {
    // the part file's disk full or read-only: a pause, not a network failure
    throw storageError(err, req.partPath) ?? err;
  } finally {
    await t?.close();
  }
}

// Fill the part file from the network (t) or a local file, then check the digest.
async function transfer(req: DownloadRequest, t: Transport | undefined, local: string | undefined): Promise<DownloadResult> {
  const p = await openPart(req);
  try {
    checkSpace(req, p);
    if (local !== undefined) await copyLocal(req, p, local);
    else await fetchLoop(req, p, t!);
    await settled(p);
    fsyncSync(p.fd);
    p.checkpointed = p.offset;
  } finally {
    // no fsync may outlive the descriptor (its number could be reused)
    await p.syncing?.catch(() => {});
    closeSync(p.fd);
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

/**
 * The local file a URL names (file:// or an absolute path), or undefined for http(s). Local
 * files are read only for an offer from a local source (req.allowLocal): a manifest or job
 * from the network must not make otter, as root, read the device's own files.
 */
function localPath(req: DownloadRequest): string | undefined {
  const { url } = req;
  let path: string | undefined;
  if (isAbsolute(url)) path = url;
  else {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new DownloadHttp(`not a URL or an absolute path: ${JSON.stringify(shownUrl(url))}`);
    }
    if (u.protocol === "https:") return undefined;
    if (u.protocol === "http:") {
      if (!req.options.allow_http) throw new DownloadHttp(`http:// URL refused (${shownUrl(url)}); set [download] allow_http = true to allow it`);
      return undefined;
    }
    if (u.protocol !== "file:") throw new DownloadHttp(`unsupported URL scheme ${u.protocol} (${shownUrl(url)})`);
    path = filePath(u, (why) => new DownloadHttp(why));
  }
  if (!req.allowLocal) throw new DownloadHttp(`local file ${shownUrl(path)} refused: local files come only from a file:// channel or otter install PATH`);
  return path;
}

// Copy a local file (regular files only, opened without blocking); async reads keep the
// event loop free, so a stop or cancel is seen at the next chunk.
async function copyLocal(req: DownloadRequest, p: Part, path: string): Promise<void> {
  p.offset = 0;
  restart(p, "local copy");
  const src = await openRegularFile(path, (why) => new DownloadHttp(why));
  try {
    const buf = Buffer.allocUnsafe(2 ** 20);
    for (;;) {
      if (req.signal?.aborted) throw new Cancelled("download cancelled");
      const { bytesRead } = await src.read(buf, 0, buf.length, p.offset);
      if (bytesRead === 0) break;
      p.fetched += bytesRead;
      await accept(req, p, buf.subarray(0, bytesRead), false);
    }
  } finally {
    await src.close();
  }
  if (req.expectedSize !== undefined && p.offset !== req.expectedSize) {
    throw new DownloadHttp(`${path} has ${p.offset} bytes, expected ${req.expectedSize}`);
  }
}

// Attempts until the file is complete; each attempt is one request (plus redirects). A
// failure after progress retries within 1-2 s; failures without progress back off (see
// base/backoff.ts) and, max_attempts in a row, end the download.
async function fetchLoop(req: DownloadRequest, p: Part, t: Transport): Promise<void> {
  const o = req.options;
  let url = req.url;
  // Killed after the last byte but before the rename: the digest can say it is all there.
  if (p.offset > 0 && p.offset === req.expectedSize && req.sha256 && p.hash.copy().digest("hex") === req.sha256.toLowerCase()) return;
  for (;;) {
    if (req.signal?.aborted) throw new Cancelled("download cancelled");
    const fetchedBefore = p.fetched;
    let failure: OtterError;
    try {
      const outcome = await attempt(req, p, t, url);
      if (outcome === "done") return;
      if (outcome !== "restart") url = outcome.url;
      continue; // restart or fresh URL: go again at once
    } catch (err) {
      failure = classify(err, req, url, p.fetched - fetchedBefore);
    }
    const progressed = p.fetched - fetchedBefore >= PROGRESS_BYTES || (req.expectedSize !== undefined && p.offset === req.expectedSize);
    // Only the network may heal within a job; other errors go to the caller at once.
    if (!(failure instanceof DownloadNetwork || failure instanceof DownloadStalled || failure instanceof DownloadHttpTransient)) throw failure;
    p.attempts = progressed ? 0 : p.attempts + 1;
    if (p.attempts >= o.max_attempts) {
      throw new DownloadRetriesExhausted(`download failed after ${p.attempts} attempts in a row without progress; the last: ${failure.message}`, { cause: failure });
    }
    await req.onCheckpoint?.(resumePoint(p)); // the count survives a crash
    const wait = retryDelaySeconds({ progressed, failures: p.attempts, base: o.retry_base, cap: o.retry_cap, retryAfter: failure.retryAfter });
    log.info("download: retrying", { reason: failure.message, at: p.offset, in_s: Number(wait.toFixed(2)), without_progress: `${p.attempts}/${o.max_attempts}` });
    req.onRetry?.(wait * 1000);
    await pause(wait * 1000, req.signal);
  }
}

type Outcome = "done" | "restart" | { url: string };

// One request: send, check the answer, stream the body into the part file.
async function attempt(req: DownloadRequest, p: Part, t: Transport, startUrl: string): Promise<Outcome> {
  const known = req.expectedSize ?? p.total ?? p.hint;
  // a server that ignored a Range once sends the whole file again
  if (known !== undefined) checkBudget(req, p, p.ignoresRange ? known : known - p.offset);
  const ranged = p.offset > 0;
  const headers: Record<string, string> = { "accept-encoding": "identity" };
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
        const wait = accept(req, p, chunk, res.chunksOwned === true);
        if (wait) await wait;
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
    if (guard.stalled) throw new DownloadStalled(`slower than ${formatBytes(guard.floor)}/s for ${req.options.low_speed_time} s`);
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
  const where = shownUrl(req.url);
  if (s === 200) {
    if (ranged) {
      restart(p, "server answered 200 to a Range request");
      p.ignoresRange = true;
    }
    p.etag = header(res, "etag");
    p.lastModified = header(res, "last-modified");
    const length = Number(header(res, "content-length") ?? NaN);
    p.hint = Number.isFinite(length) ? length : undefined;
    if (length > req.options.max_file_size) throw new DownloadTooLarge(`${where} is ${length} bytes, over max_file_size ${req.options.max_file_size}`);
    if (req.expectedSize !== undefined && length > req.expectedSize) throw new DownloadTooLarge(`${where} is larger than the declared size ${req.expectedSize} (Content-Length ${length})`);
    checkSpace(req, p);
    checkBudget(req, p, req.expectedSize ?? p.hint ?? 0);
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
    throw new DownloadHttpTransient(`HTTP ${s} from ${where}`, { retryAfter: retryAfterSeconds(header(res, "retry-after"), Date.now()) });
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
  if (p.refreshed) throw new DownloadUrlExpired(`HTTP 403 from ${shownUrl(req.url)} again after a fresh URL`);
  p.refreshed = true;
  log.info("download: URL refused (403); asking for a fresh one", { at: p.offset });
  return req.refreshUrl!();
}

// Write one chunk at the current offset and hash it, checkpoint and report; what the stream
// must wait for before its next chunk, if anything (most chunks: nothing, so no promise is
// made for them). Written on this thread right after the copy that brought it here, the
// chunk is still in this core's cache: a write from the thread pool (tried: writes beside
// the hashing, one writev in flight) cost 0.1 s/GiB more and the pool's wake-ups, and held
// up to 1.5 MiB more. An `owned` chunk (HttpResponse.chunksOwned) is freed once written.
function accept(req: DownloadRequest, p: Part, chunk: Uint8Array, owned: boolean): Promise<void> | undefined {
  const o = req.options;
  if (p.syncError) throw p.syncError;
  const n = chunk.length; // 0 once freed
  const end = p.offset + n;
  // Past the size the job or a 206's Content-Range declared: a server that lies.
  const declared = req.expectedSize ?? p.total;
  if (declared !== undefined && end > declared) throw new DownloadTooLarge(`${shownUrl(req.url)} is larger than the declared size ${declared}`);
  if (end > o.max_file_size) throw new DownloadTooLarge(`${shownUrl(req.url)} sent more than max_file_size ${o.max_file_size} bytes`);
  checkBudget(req, p, 0);
  try {
    for (let at = 0; at < n; ) at += writeSync(p.fd, chunk, at, n - at, p.offset + at);
  } catch (err) {
    throw storageError(err, req.partPath) ?? err;
  }
  p.hash.update(chunk);
  if (owned) free(chunk);
  p.offset = end;
  p.refreshed = false;
  const now = monotonicMs();
  if (!p.syncing && (end - p.checkpointed >= o.sync_interval || now - p.checkpointAt >= CHECKPOINT_MS)) checkpoint(req, p);
  if (req.onProgress && now - p.progressAt >= 1000) {
    req.onProgress({ bytes: end, total: req.expectedSize ?? p.total ?? p.hint, bytesPerSecond: ((end - p.progressBytes) * 1000) / (now - p.progressAt) });
    p.progressAt = now;
    p.progressBytes = end;
  }
  const unsynced = p.syncing !== undefined && end - p.checkpointed >= 1.5 * o.sync_interval;
  if (unsynced || o.bandwidth_limit > 0) return pace(req, p, n, unsynced);
  return undefined;
}

// The waits before the next chunk: the fsync bound (unsynced), the bandwidth cap.
async function pace(req: DownloadRequest, p: Part, n: number, unsynced: boolean): Promise<void> {
  if (unsynced) await settled(p);
  if (req.options.bandwidth_limit > 0) await throttle(p, n, req.options.bandwidth_limit, req.signal);
}

// Detach a buffer we alone hold so its memory goes back at once (ArrayBuffer.prototype.transfer
// to length 0) rather than waiting, with ~32 MiB of spent chunks, for the garbage collector.
function free(chunk: Uint8Array): void {
  const buffer = chunk.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  if (chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) buffer.transfer?.(0);
}

/** Map anything thrown during an attempt (which got `received` body bytes) to an OtterError. */
function classify(err: unknown, req: DownloadRequest, url: string, received: number): OtterError {
  if (req.signal?.aborted) return new Cancelled("download cancelled", { cause: err });
  if (err instanceof OtterError) return err;
  const code = (err as { code?: string }).code ?? "";
  const after = received ? ` after ${formatBytes(received)}` : "";
  if (code === "UND_ERR_BODY_TIMEOUT") return new DownloadStalled(`no data for ${req.options.stall_timeout} s${after}`, { cause: err });
  if (code === "UND_ERR_HEADERS_TIMEOUT") return new DownloadStalled(`no response headers within ${req.options.connect_timeout} s`, { cause: err });
  const storage = storageError(err, req.partPath);
  if (storage) return storage;
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL/.test(code)) return new DownloadHttp(`TLS: ${describeNetworkError(err, url)}; check [download] cafile`, { cause: err });
  return new DownloadNetwork(describeNetworkError(err, url, received), { cause: err });
}
