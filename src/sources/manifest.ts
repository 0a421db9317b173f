// The HTTP manifest source, for fleets without AWS: one small JSON manifest per channel
// ([channels] name = URL), polled. Reports go to [service] report_url as a JSON POST per
// status change (retried until a 2xx), and always to the log and the history. Manifests and
// reports go through src/transfer/http.ts, like the files: one CA, client certificate, proxy and
// header set for every HTTP call.
//
// Manifest schema (docs/manifests-and-jobs.md):
//   { "version": "1.4.2", "url": "image-1.4.2.tar.gz" (relative to the manifest, or absolute),
//     "sha256": "<64 hex>", "size": 1234, "signature"?: base64 | {value, algorithm?, certificate?},
//     "boards"?: ["rpi4"], "meta"?: string | object, "force"?: false, "archive"?: "gz"|"tar.gz"|"zip" }
import { retryAfterSeconds, retryDelaySeconds } from "../base/backoff.ts";
import { ManifestInvalid, OtterError, SourceUnavailable, codeOf, describe } from "../base/errors.ts";
import { filePath } from "../base/fileurl.ts";
import { log } from "../base/log.ts";
import { printable } from "../base/printable.ts";
import { sleep } from "../base/sleep.ts";
import { tufUrl, type Config } from "../config/config.ts";
import { credentialOrigins } from "../transfer/credentials.ts";
import { openRegularFile } from "../transfer/localfile.ts";
import { header, networkWords, readCapped, send, withTransport, type Transport } from "../transfer/http.ts";
import { FieldError, offerFields } from "./offerfields.ts";
import { postToReportUrl } from "./reporturl.ts";
import { reportMessage, type ChannelResult, type Delivery, type Offer, type Report, type Source, type SourceProblem } from "./source.ts";

const MAX_MANIFEST_BYTES = 1 << 20;


// http:// only with allow_http; file:// channels are the device's own files (their file
// URLs may be local too), while a manifest from the network may not name a local file.
function allowed(config: Config, url: string): boolean {
  return url.startsWith("https://") || url.startsWith("file:") || (url.startsWith("http://") && config.download.allow_http);
}

const tooLarge = (url: string) => () => new ManifestInvalid(`${url}: larger than ${MAX_MANIFEST_BYTES} bytes; a manifest is a small JSON document`);

// Within one check a manifest is asked at most this often, and again only when the retry
// rule (base/backoff.ts) waits no longer than MAX_CHECK_WAIT_S: a drop after part of the
// body, a short Retry-After. A longer wait is the next check's.
const MANIFEST_ATTEMPTS = 3;
const MAX_CHECK_WAIT_S = 5;

// The manifest's text, through the download transport ([download] CA, client certificate,
// proxy, headers); never more than MAX_MANIFEST_BYTES read, whatever Content-Length says.
async function fetchText(config: Config, url: string): Promise<string> {
  if (url.startsWith("file:")) return readFileCapped(filePath(url, (why) => new ManifestInvalid(why)), url);
  const o = config.download;
  return withTransport(o, credentialOrigins(config), async (t) => {
    for (let attempt = 1, failures = 0; ; attempt++) {
      const got = { bytes: 0 };
      try {
        return await fetchOnce(config, t, url, got);
      } catch (err) {
        const e = err instanceof OtterError ? err : new SourceUnavailable(`${url}: ${networkWords(err, url, got.bytes, o.connect_timeout)}`, { cause: err });
        if (!(e instanceof SourceUnavailable)) throw e;
        const progressed = got.bytes > 0;
        failures = progressed ? 0 : failures + 1;
        const wait = retryDelaySeconds({ progressed, failures, base: o.retry_base, cap: o.retry_cap, retryAfter: e.retryAfter });
        if (attempt >= MANIFEST_ATTEMPTS || wait > MAX_CHECK_WAIT_S) throw e;
        log.info("manifest: retrying", { reason: e.message, in_s: Number(wait.toFixed(2)), attempt: `${attempt + 1}/${MANIFEST_ATTEMPTS}` });
        await sleep(wait * 1000);
      }
    }
  });
}

// One GET of a manifest; `got` counts the body bytes that arrived.
async function fetchOnce(config: Config, t: Transport, url: string, got: { bytes: number }): Promise<string> {
  const res = await send(t, url, {
    method: "GET", headers: { accept: "application/json" }, allowHttp: config.download.allow_http,
    signal: AbortSignal.timeout(config.download.connect_timeout * 1000), fail: (m) => new ManifestInvalid(`${url}: ${m}`),
  });
  const s = res.statusCode;
  if (s < 200 || s > 299) {
    res.discard();
    if (s >= 500 || s === 429 || s === 408) throw new SourceUnavailable(`${url}: HTTP ${s}`, { retryAfter: retryAfterSeconds(header(res, "retry-after"), Date.now()) });
    throw new ManifestInvalid(`${url}: HTTP ${s}`);
  }
  return readCapped(res, MAX_MANIFEST_BYTES, tooLarge(url), got);
}

async function readFileCapped(path: string, url: string): Promise<string> {
  const f = await openRegularFile(path, (why) => new ManifestInvalid(`${url}: ${why}`));
  try {
    const buf = Buffer.alloc(MAX_MANIFEST_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = (await f.read(buf, n, buf.length - n, n)).bytesRead) > 0; ) n += r;
    if (n > MAX_MANIFEST_BYTES) throw tooLarge(url)();
    return buf.subarray(0, n).toString("utf8");
  } finally {
    await f.close();
  }
}

/** Fetch and validate one channel's manifest. */
export async function readManifest(config: Config, channel: string, url: string): Promise<Offer> {
  if (!allowed(config, url)) throw new ManifestInvalid(`[channels] ${channel}: ${url} is not https; set [download] allow_http = true to allow it`);
  let text: string;
  try {
    text = await fetchText(config, url);
  } catch (err) {
    if (err instanceof ManifestInvalid || err instanceof SourceUnavailable) throw err;
    throw new SourceUnavailable(`manifest ${channel} (${url}): ${describe(err)}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ManifestInvalid(`manifest ${channel} (${url}): not JSON: ${describe(err)}`);
  }
  try {
    const fields = offerFields(doc as Record<string, unknown>, url);
    if (!fields.sha256) throw new FieldError(`"sha256": expected 64 hex digits, got nothing; a manifest must name its file's digest`);
    if (fields.url.startsWith("file:") && !url.startsWith("file:")) {
      throw new FieldError(`"url": ${fields.url} is a local file, refused in a manifest from the network; local files come only from a file:// channel`);
    }
    if (!allowed(config, fields.url)) throw new FieldError(`"url": ${fields.url} is not https; set [download] allow_http = true to allow it`);
    return { ...fields, id: `${channel}:${fields.version}:${fields.sha256.slice(0, 12)}`, source: "manifest", channel };
  } catch (err) {
    if (err instanceof FieldError) throw new ManifestInvalid(`manifest ${channel} (${url}): ${err.message}`);
    throw err;
  }
}

/**
 * Every channel's manifest or TUF target, each with its offer or its error, in config order.
 * tuf-js is loaded only when a TUF channel is configured. `dryRun` (otter plan): TUF
 * metadata learnt is not written to the cache.
 */
export async function checkChannels(config: Config, dryRun = false): Promise<ChannelResult[]> {
  const all = Object.entries(config.channels);
  const tuf = all.filter(([, url]) => tufUrl(url));
  const [plain, signed] = await Promise.all([
    Promise.all(all.filter(([, url]) => !tufUrl(url)).map(([channel, url]) =>
      readManifest(config, channel, url).then((offer): ChannelResult => ({ channel, offer }), (error: Error) => ({ channel, error })))),
    tuf.length ? import("./tuf.ts").then((m) => m.checkTufChannels(config, tuf, dryRun)) : [],
  ]);
  const by = new Map([...plain, ...signed].map((r) => [r.channel, r]));
  return all.map(([channel]) => by.get(channel)!);
}

/** The channels a check could not read or understand (a freeze among them), one problem each. */
export function channelProblems(results: ChannelResult[]): SourceProblem[] {
  return results.flatMap((r) => ("error" in r ? [{ where: `channel ${r.channel}`, code: codeOf(r.error), message: describe(r.error) }] : []));
}

export function createManifestSource(config: Config): Source {
  let problems: SourceProblem[] = [];
  return {
    name: "manifest",
    async start() {},
    async stop() {},
    async check() {
      const results = await checkChannels(config);
      for (const r of results) if ("error" in r) log.warn(r.error.message, { channel: r.channel });
      problems = channelProblems(results);
      if (results.every((r) => "error" in r && r.error instanceof SourceUnavailable)) {
        throw new SourceUnavailable(`no manifest could be fetched (${results.length} channels)`);
      }
      return results.flatMap((r) => ("offer" in r ? [r.offer] : []));
    },
    problems: () => problems,
    report: (report) => postReport(config, report),
  };
}

/** POST a report to report_url; without one, the log and history are the record. */
export function postReport(config: Config, report: Report): Promise<Delivery> {
  const message = reportMessage(printable(report.message));
  log.info(`report ${report.jobId}: ${report.status} ${report.state}`, { message });
  return postToReportUrl(config, { thing: config.broker.thing_name, ...report, message });
}
