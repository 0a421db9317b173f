// otter's one HTTP transport (files, manifests, report_url POSTs): the real undici (never
// Bun's built-in shim, which ignores a custom CA), with the [download] CA / client
// certificate, HTTPS_PROXY / NO_PROXY and extra headers, so a fleet on a private HTTPS
// server with its own CA works for all three. undici is imported lazily so
// `otter --version` does not pay for it.
import { readFileSync } from "node:fs";
import type { Config } from "./config.ts";
import { ConfigError } from "./errors.ts";

type Undici = typeof import("undici");
type Options = Config["download"];

export interface Transport {
  undici: Undici;
  dispatcher: import("undici").Dispatcher;
  headers: Record<string, string>;
  close(): Promise<void>;
}

// The explicit file path makes Bun (run or compiled) and esbuild load the npm package.
async function loadUndici(): Promise<Undici> {
  return (await import("undici/index.js")) as unknown as Undici;
}

/** Parse [download] headers ("Name: value" lines) into a header object. */
export function parseHeaders(lines: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines ?? []) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`[download] headers: expected "Name: value", got ${JSON.stringify(line.slice(0, 40))}; e.g. Authorization: Bearer TOKEN`);
    out[m[1]!.toLowerCase()] = m[2]!;
  }
  return out;
}

function hasProxyEnv(): boolean {
  return ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"].some((k) => !!process.env[k]);
}

/** A dispatcher for one download, with TLS material and proxy settings from the config. */
export async function openTransport(opts: Options): Promise<Transport> {
  const undici = await loadUndici();
  const tls = {
    ...(opts.cafile ? { ca: readFileSync(opts.cafile) } : {}),
    ...(opts.certfile ? { cert: readFileSync(opts.certfile) } : {}),
    ...(opts.keyfile ? { key: readFileSync(opts.keyfile) } : {}),
  };
  const common = {
    connect: { ...tls, timeout: opts.connect_timeout * 1000 },
    headersTimeout: opts.connect_timeout * 1000,
    bodyTimeout: opts.stall_timeout * 1000,
    connections: 1,
  };
  const dispatcher = hasProxyEnv()
    ? new undici.EnvHttpProxyAgent({ ...common, requestTls: tls })
    : new undici.Agent(common);
  return {
    undici,
    dispatcher,
    headers: parseHeaders(opts.headers),
    close: () => dispatcher.destroy().catch(() => {}),
  };
}

export type HttpResponse = Awaited<ReturnType<Undici["request"]>>;

/** One response header (the first, when repeated). */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Drop a body we will not read (destroying it without a listener would throw). */
export function discard(res: HttpResponse): void {
  res.body.on("error", () => {});
  res.body.destroy();
}

/** A URL for logs and messages: no query string (presigned URLs carry credentials there). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.split("?")[0]!;
  }
}

const MAX_REDIRECTS = 5;

export interface SendInit {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  allowHttp: boolean;
  /** the error to throw for a refused redirect */
  fail(message: string): Error;
}

/** A request; a GET follows up to 5 redirects by hand (https to http only with allowHttp, never to file:). */
export async function send(t: Transport, startUrl: string, init: SendInit): Promise<HttpResponse> {
  let url = startUrl;
  for (let hops = 0; ; hops++) {
    const res = await t.undici.request(url, { dispatcher: t.dispatcher, method: init.method, headers: init.headers, body: init.body, signal: init.signal });
    const location = header(res, "location");
    if (init.method !== "GET" || ![301, 302, 303, 307, 308].includes(res.statusCode) || !location) return res;
    discard(res);
    if (hops >= MAX_REDIRECTS) throw init.fail(`more than ${MAX_REDIRECTS} redirects from ${redact(startUrl)}`);
    url = new URL(location, url).toString();
    const scheme = url.slice(0, url.indexOf(":") + 1);
    if (scheme !== "https:" && !(scheme === "http:" && init.allowHttp)) {
      throw init.fail(`redirect from ${redact(startUrl)} to a ${scheme}// URL refused${scheme === "http:" ? "; set [download] allow_http = true to allow it" : ""}`);
    }
  }
}

/** Read a whole body as text, never more than `max` bytes (Content-Length is not trusted). */
export async function readCapped(res: HttpResponse, max: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) {
      discard(res);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Open a transport for `opts`, run `fn`, close it. */
export async function withTransport<T>(opts: Options, fn: (t: Transport) => Promise<T>): Promise<T> {
  const t = await openTransport(opts);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}
