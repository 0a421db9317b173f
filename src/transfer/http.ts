// otter's one HTTP transport (files, manifests, report_url POSTs), with the [download] CA /
// client certificate, HTTPS_PROXY / NO_PROXY and extra headers, so a fleet on a private
// HTTPS server with its own CA works for all three. Two engines behind one interface:
// - under Bun (the compiled binaries): Bun's native fetch with its `tls` option. Measured on
//   a 1 GiB download it uses ~15 % less CPU and ~45 MiB less peak RSS than undici, whose
//   llhttp parser copies every chunk into WASM memory and whose 512 KiB chunks churn the heap;
// - under Node (dist/otter.mjs), or with OTTER_HTTP=undici: the real undici npm package
//   (never Bun's `undici` shim, which ignores a custom CA), imported lazily so
//   `otter --version` does not pay for it.
import { readFileSync } from "node:fs";
import { ConfigError } from "../base/errors.ts";
import type { Config } from "../config/config.ts";

type Undici = typeof import("undici");
type Options = Config["download"];

export interface HttpRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  statusCode: number;
  /** lower-case names */
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array>;
  /** drop the body unread (closes the connection) */
  discard(): void;
}

export interface Transport {
  /** one request, no redirects followed; times out on connect_timeout (headers) and stall_timeout (between body chunks) */
  request(url: string, init: HttpRequest): Promise<HttpResponse>;
  /** [download] headers */
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

/** A transport for one job's requests, with TLS material and proxy settings from the config. */
export async function openTransport(opts: Options): Promise<Transport> {
  const headers = parseHeaders(opts.headers);
  const tls = {
    ...(opts.cafile ? { ca: readFileSync(opts.cafile, "utf8") } : {}),
    ...(opts.certfile ? { cert: readFileSync(opts.certfile, "utf8") } : {}),
    ...(opts.keyfile ? { key: readFileSync(opts.keyfile, "utf8") } : {}),
  };
  if (typeof Bun !== "undefined" && process.env.OTTER_HTTP !== "undici") return bunTransport(opts, tls, headers);
  const undici = await loadUndici();
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
    headers,
    async request(url, init) {
      const res = await undici.request(url, { dispatcher, method: init.method, headers: init.headers, body: init.body, signal: init.signal });
      return {
        statusCode: res.statusCode,
        headers: res.headers,
        body: res.body,
        discard() {
          // destroying a body without an error listener would throw
          res.body.on("error", () => {});
          res.body.destroy();
        },
      };
    },
    close: () => dispatcher.destroy().catch(() => {}),
  };
}

/** An error with undici's code for a timeout, so callers classify both engines alike. */
function timeoutError(code: "UND_ERR_HEADERS_TIMEOUT" | "UND_ERR_BODY_TIMEOUT", message: string): Error {
  return Object.assign(new Error(message), { code });
}

// Bun's fetch: no redirects (they are followed by hand), no decompression, the config's TLS
// material; the proxy comes from the environment, as with undici.
function bunTransport(opts: Options, tls: { ca?: string; cert?: string; key?: string }, headers: Record<string, string>): Transport {
  return {
    headers,
    async request(url, init) {
      const ac = new AbortController();
      let timedOut: Error | undefined;
      const abort = () => ac.abort(init.signal?.reason);
      init.signal?.addEventListener("abort", abort, { once: true });
      const done = () => init.signal?.removeEventListener("abort", abort);
      const timer = setTimeout(() => {
        timedOut = timeoutError("UND_ERR_HEADERS_TIMEOUT", `no response headers within ${opts.connect_timeout} s`);
        ac.abort(timedOut);
      }, opts.connect_timeout * 1000);
      let res: Response;
      try {
        res = await fetch(url, {
          // Bun would ask for gzip by default; bodies are taken as sent, never decompressed
          method: init.method, headers: { "accept-encoding": "identity", ...init.headers }, body: init.body, signal: ac.signal,
          redirect: "manual", decompress: false, tls,
        } as RequestInit);
      } catch (err) {
        done();
        throw timedOut ?? err;
      } finally {
        clearTimeout(timer);
      }
      const reader = res.body?.getReader();
      async function* body(): AsyncGenerator<Uint8Array> {
        if (!reader) return done();
        // Re-armed at each chunk: stall_timeout without a byte aborts the request.
        const stall = setTimeout(() => {
          timedOut = timeoutError("UND_ERR_BODY_TIMEOUT", `no data for ${opts.stall_timeout} s`);
          ac.abort(timedOut);
        }, opts.stall_timeout * 1000);
        try {
          for (;;) {
            const { done: end, value } = await reader.read();
            if (end) return;
            stall.refresh();
            yield value;
          }
        } catch (err) {
          throw timedOut ?? err;
        } finally {
          clearTimeout(stall);
          reader.releaseLock();
          done();
        }
      }
      return {
        statusCode: res.status,
        headers: Object.fromEntries(res.headers),
        body: body(),
        discard() {
          done();
          reader?.cancel().catch(() => {});
          ac.abort();
        },
      };
    },
    async close() {},
  };
}

/** One response header (the first, when repeated). */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
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

export interface SendInit extends HttpRequest {
  allowHttp: boolean;
  /** the error to throw for a refused redirect */
  fail(message: string): Error;
}

/** A request; a GET follows up to 5 redirects by hand (https to http only with allowHttp, never to file:). */
export async function send(t: Transport, startUrl: string, init: SendInit): Promise<HttpResponse> {
  let url = startUrl;
  for (let hops = 0; ; hops++) {
    const res = await t.request(url, init);
    const location = header(res, "location");
    if (init.method !== "GET" || ![301, 302, 303, 307, 308].includes(res.statusCode) || !location) return res;
    res.discard();
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
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += chunk.length;
    if (n > max) {
      res.discard();
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
