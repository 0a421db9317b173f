// The HTTP manifest source, for fleets without AWS: one small JSON manifest per channel
// ([channels] name = URL), polled. Reports go to [service] report_url as a JSON POST per
// status change (retried until a 2xx), and always to the log and the history. Manifests and
// reports go through src/transfer/http.ts, like the files: one CA, client certificate, proxy and
// header set for every HTTP call.
//
// Manifest schema (README "Manifests"):
//   { "version": "1.4.2", "url": "image-1.4.2.tar.gz" (relative to the manifest, or absolute),
//     "sha256": "<64 hex>", "size": 1234, "signature"?: base64 | {value, algorithm?, certificate?},
//     "boards"?: ["rpi4"], "meta"?: string | object, "force"?: false, "archive"?: "gz"|"tar.gz"|"zip" }
import { open } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { ManifestInvalid, SourceRejected, SourceUnavailable, describe } from "../base/errors.ts";
import { log } from "../base/log.ts";
import type { Config } from "../config/config.ts";
import { readCapped, send, withTransport } from "../transfer/http.ts";
import { FieldError, offerFields } from "./offerfields.ts";
import type { Delivery, Offer, Report, Source } from "./source.ts";

const MAX_MANIFEST_BYTES = 1 << 20;

/** A checked manifest, or why a channel has none right now. */
export type ChannelResult = { channel: string; offer: Offer } | { channel: string; error: Error };

function allowed(config: Config, url: string): boolean {
  return url.startsWith("https://") || config.download.allow_http;
}

const tooLarge = (url: string) => () => new ManifestInvalid(`${url}: larger than ${MAX_MANIFEST_BYTES} bytes; a manifest is a small JSON document`);

// The manifest's text, through the download transport ([download] CA, client certificate,
// proxy, headers); never more than MAX_MANIFEST_BYTES read, whatever Content-Length says.
async function fetchText(config: Config, url: string): Promise<string> {
  if (url.startsWith("file:")) return readFileCapped(fileURLToPath(url), tooLarge(url));
  return withTransport(config.download, async (t) => {
    const res = await send(t, url, {
      method: "GET", headers: { ...t.headers, accept: "application/json" }, allowHttp: config.download.allow_http,
      signal: AbortSignal.timeout(config.download.connect_timeout * 1000), fail: (m) => new ManifestInvalid(`${url}: ${m}`),
    });
    const s = res.statusCode;
    if (s < 200 || s > 299) {
      res.discard();
      if (s >= 500 || s === 429 || s === 408) throw new SourceUnavailable(`${url}: HTTP ${s}`);
      throw new ManifestInvalid(`${url}: HTTP ${s}`);
    }
    return readCapped(res, MAX_MANIFEST_BYTES, tooLarge(url));
  });
}

async function readFileCapped(path: string, tooLarge: () => Error): Promise<string> {
  const f = await open(path, "r");
  try {
    const buf = Buffer.alloc(MAX_MANIFEST_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = (await f.read(buf, n, buf.length - n, n)).bytesRead) > 0; ) n += r;
    if (n > MAX_MANIFEST_BYTES) throw tooLarge();
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
    if (!allowed(config, fields.url)) throw new FieldError(`"url": ${fields.url} is not https; set [download] allow_http = true to allow it`);
    return { ...fields, id: `${channel}:${fields.version}:${fields.sha256.slice(0, 12)}`, source: "manifest", channel };
  } catch (err) {
    if (err instanceof FieldError) throw new ManifestInvalid(`manifest ${channel} (${url}): ${err.message}`);
    throw err;
  }
}

/** Every channel's manifest, each with its offer or its error, in config order. */
export function checkChannels(config: Config): Promise<ChannelResult[]> {
  return Promise.all(
    Object.entries(config.channels).map(([channel, url]) =>
      readManifest(config, channel, url).then((offer) => ({ channel, offer }), (error: Error) => ({ channel, error }))),
  );
}

export function createManifestSource(config: Config): Source {
  return {
    name: "manifest",
    async start() {},
    async stop() {},
    async check() {
      const results = await checkChannels(config);
      for (const r of results) if ("error" in r) log.warn(r.error.message, { channel: r.channel });
      if (results.every((r) => "error" in r && r.error instanceof SourceUnavailable)) {
        throw new SourceUnavailable(`no manifest could be fetched (${results.length} channels)`);
      }
      return results.flatMap((r) => ("offer" in r ? [r.offer] : []));
    },
    report: (report) => postReport(config, report),
  };
}

/** POST a report to report_url; without one, the log and history are the record. */
export async function postReport(config: Config, report: Report): Promise<Delivery> {
  log.info(`report ${report.jobId}: ${report.status} ${report.state}`, { message: report.message });
  const url = config.service.report_url;
  if (!url) return "acknowledged";
  let status: number;
  try {
    status = await withTransport(config.download, async (t) => {
      const res = await send(t, url, {
        method: "POST", headers: { ...t.headers, "content-type": "application/json" }, allowHttp: config.download.allow_http,
        body: JSON.stringify({ thing: config.broker.thing_name, ...report }),
        signal: AbortSignal.timeout(config.download.connect_timeout * 1000), fail: (m) => new SourceRejected(m),
      });
      res.discard();
      return res.statusCode;
    });
  } catch (err) {
    throw new SourceUnavailable(`report_url ${url}: ${describe(err)}`, { cause: err });
  }
  if (status >= 200 && status <= 299) return "acknowledged";
  if (status >= 500 || status === 429 || status === 408) throw new SourceUnavailable(`report_url ${url}: HTTP ${status}`);
  throw new SourceRejected(`report_url ${url}: HTTP ${status}`);
}
