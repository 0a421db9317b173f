// otter's one HTTP transport (files, manifests, report_url POSTs), with the [download] CA /
// client certificate, HTTPS_PROXY / NO_PROXY and extra headers, so a fleet on a private
// HTTPS server with its own CA works for all three. The certificate and headers go only to
// the origins they were configured for (credentials.ts); redirects are followed by hand
// (send), since both runtimes' own redirects would forward custom headers to any origin.
// Two engines behind one interface:
// - under Bun (the compiled binaries): Bun's native fetch with its `tls` option. Measured on
//   a 1 GiB download it uses ~15 % less CPU and ~45 MiB less peak RSS than undici, whose
//   llhttp parser copies every chunk into WASM memory and whose 512 KiB chunks churn the heap;
// - under Node (dist/otter.mjs), or with OTTER_HTTP=undici: the real undici npm package
//   (never Bun's `undici` shim, which ignores a custom CA), imported lazily so
//   `otter --version` does not pay for it.
import { readFileSync } from "node:fs";
import { ConfigError } from "../base/errors.ts";
import { shownUrl } from "../base/printable.ts";
import type { Config } from "../config/config.ts";
import { originOf, splitUserinfo } from "./credentials.ts";
import { formatBytes } from "./progress.ts";

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
  /**
   * The body's chunks are the reader's own, to keep or free once used (Bun's fetch: each a
   * fresh buffer). Not undici's: its chunks are views of buffers it may still hold.
   */
  chunksOwned?: boolean;
  /** drop the body unread (closes the connection) */
  discard(): void;
}

export interface Transport {
  /**
   * One request, no redirects followed; times out on connect_timeout (headers) and
   * stall_timeout (between body chunks). `credentials`: present the client certificate.
   */
  request(url: string, init: HttpRequest, credentials: boolean): Promise<HttpResponse>;
  /** [download] headers */
  headers: Record<string, string>;
  /** whether credentials may go to this origin */
  trusts(origin: string): boolean;
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

interface Tls { ca?: string; cert?: string; key?: string }

/**
 * A transport for one job's requests, with TLS material and proxy settings from the config;
 * `trusted`: the origins that get the client certificate and [download] headers.
 */
export async function openTransport(opts: Options, trusted: readonly string[] = []): Promise<Transport> {
  const origins = new Set(trusted);
  const common = { headers: parseHeaders(opts.headers), trusts: (origin: string) => origins.has(origin) };
  const ca: Tls = opts.cafile ? { ca: readFileSync(opts.cafile, "utf8") } : {};
  const withCert: Tls = {
    ...ca,
    ...(opts.certfile ? { cert: readFileSync(opts.certfile, "utf8") } : {}),
    ...(opts.keyfile ? { key: readFileSync(opts.keyfile, "utf8") } : {}),
  };
  if (typeof Bun !== "undefined" && process.env.OTTER_HTTP !== "undici") return { ...common, ...bunTransport(opts, ca, withCert) };
  return { ...common, ...(await undiciTransport(opts, ca, withCert)) };
}

type Engine = Pick<Transport, "request" | "close">;

// undici: one dispatcher per TLS identity, so a connection made with the certificate is never
// reused for an origin that must not see it.
async function undiciTransport(opts: Options, ca: Tls, withCert: Tls): Promise<Engine> {
  const undici = await loadUndici();
  const agent = (tls: Tls) => {
    const common = {
      connect: { ...tls, timeout: opts.connect_timeout * 1000 },
      headersTimeout: opts.connect_timeout * 1000,
      bodyTimeout: opts.stall_timeout * 1000,
      connections: 1,
    };
    return hasProxyEnv() ? new undici.EnvHttpProxyAgent({ ...common, requestTls: tls }) : new undici.Agent(common);
  };
  const plain = agent(ca);
  const certified = withCert.cert ? agent(withCert) : plain;
  return {
    async request(url, init, credentials) {
      const dispatcher = credentials ? certified : plain;
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
    close: async () => {
      await Promise.all([...new Set([plain, certified])].map((d) => d.destroy().catch(() => {})));
    },
  };
}

/** An error with undici's code for a timeout, so callers classify both engines alike. */
function timeoutError(code: "UND_ERR_HEADERS_TIMEOUT" | "UND_ERR_BODY_TIMEOUT", message: string): Error {
  return Object.assign(new Error(message), { code });
}

// Bun's fetch: no redirects (they are followed by hand), no decompression, the config's TLS
// material; the proxy comes from the environment, as with undici.
function bunTransport(opts: Options, ca: Tls, withCert: Tls): Engine {
  return {
    async request(url, init, credentials) {
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
          redirect: "manual", decompress: false, tls: credentials ? withCert : ca,
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
        // One read always waits while the reader works on the last chunk: Bun's HTTP thread
        // reads the socket only for a pending read, so without it the socket waits for the
        // hashing (measured with 1 ms of work per chunk: 53-155 MB/s in 64-256 KiB chunks;
        // with it 253-323 MB/s in 512 KiB chunks).
        let next: ReturnType<typeof reader.read> | undefined = reader.read();
        try {
          for (;;) {
            const { done: end, value } = await next;
            if (end) return (next = undefined);
            next = reader.read();
            stall.refresh();
            yield value;
          }
        } catch (err) {
          next = undefined;
          throw timedOut ?? err;
        } finally {
          clearTimeout(stall);
          next?.catch(() => {}); // the reader stopped early: the read ahead is dropped
          reader.releaseLock();
          done();
        }
      }
      return {
        statusCode: res.status,
        headers: Object.fromEntries(res.headers),
        body: body(),
        chunksOwned: true,
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

// What each runtime error code means, in otter's words; both engines' codes (Bun says
// ECONNRESET for a close short of Content-Length, undici UND_ERR_SOCKET) read alike.
const NETWORK_WORDS: Record<string, (host: string) => string> = {
  ECONNRESET: () => "connection reset by the server",
  UND_ERR_SOCKET: () => "connection reset by the server",
  EPIPE: () => "connection reset by the server",
  ECONNREFUSED: (host) => `connection refused by ${host}`,
  ENOTFOUND: (host) => `host not found: ${host.replace(/:\d+$/, "")}`,
  EAI_AGAIN: (host) => `host name lookup failed for ${host.replace(/:\d+$/, "")}`,
  ETIMEDOUT: (host) => `connection to ${host} timed out`,
  UND_ERR_CONNECT_TIMEOUT: (host) => `connection to ${host} timed out`,
  EHOSTUNREACH: (host) => `${host} is unreachable`,
  ENETUNREACH: (host) => `network unreachable for ${host}`,
};

/** Strip a runtime's advice ("pass `verbose: true` ...") and cap the length. */
function runtimeText(message: string): string {
  const text = message.split("\n")[0]!.replace(/\s*For more information, pass `verbose: true`.*$/i, "").replace(/^[A-Z_]+: /, "");
  return text.length > 160 ? `${text.slice(0, 150)}…` : text;
}

/**
 * otter's own words for a transport failure, e.g. "connection reset by the server after
 * 1.0 MiB" (`received`: body bytes this attempt got), never a runtime's internal hint.
 */
export function describeNetworkError(err: unknown, url: string, received?: number): string {
  const code = (err as { code?: unknown }).code;
  let host = "the server";
  try {
    host = new URL(url).host;
  } catch {}
  const words = typeof code === "string" ? NETWORK_WORDS[code] : undefined;
  const after = received ? ` after ${formatBytes(received)}` : "";
  if (words) return `${words(host)}${after}`;
  const message = err instanceof Error ? err.message : String(err);
  return `network error${after}: ${runtimeText(message)}${typeof code === "string" && !message.includes(code) ? ` (${code})` : ""}`;
}

/** A request's failure in otter's words; a TimeoutError is AbortSignal.timeout's, the whole request's deadline of `timeout` s. */
export function networkWords(err: unknown, url: string, received: number, timeout: number): string {
  if ((err as Error).name === "TimeoutError") return `no answer within ${timeout} s`;
  return describeNetworkError(err, url, received);
}

const MAX_REDIRECTS = 5;

export interface SendInit extends HttpRequest {
  allowHttp: boolean;
  /** the error to throw for a refused redirect */
  fail(message: string): Error;
}

/**
 * A request; a GET follows up to 5 redirects by hand (https to http only with allowHttp,
 * never to file:). [download] headers, the client certificate and the start URL's userinfo
 * (as Basic authorization) go only to trusted origins, and not past a hop to another one.
 */
export async function send(t: Transport, startUrl: string, init: SendInit): Promise<HttpResponse> {
  const start = splitUserinfo(startUrl);
  const startOrigin = originOf(start.url);
  let url = start.url;
  let trusted = true;
  for (let hops = 0; ; hops++) {
    const origin = originOf(url);
    trusted &&= origin !== undefined && t.trusts(origin);
    const basic: Record<string, string> = trusted && origin === startOrigin && start.basic ? { authorization: start.basic } : {};
    const headers = { ...basic, ...(trusted ? t.headers : {}), ...init.headers };
    const res = await t.request(url, { ...init, headers }, trusted);
    const location = header(res, "location");
    if (init.method !== "GET" || ![301, 302, 303, 307, 308].includes(res.statusCode) || !location) return res;
    res.discard();
    if (hops >= MAX_REDIRECTS) throw init.fail(`more than ${MAX_REDIRECTS} redirects from ${shownUrl(startUrl)}`);
    // a Location's own userinfo is never used
    url = splitUserinfo(new URL(location, url).toString()).url;
    const scheme = url.slice(0, url.indexOf(":") + 1);
    if (scheme !== "https:" && !(scheme === "http:" && init.allowHttp)) {
      throw init.fail(`redirect from ${shownUrl(startUrl)} to a ${scheme}// URL refused${scheme === "http:" ? "; set [download] allow_http = true to allow it" : ""}`);
    }
  }
}

/** Read a whole body as text, never more than `max` bytes (Content-Length is not trusted); `got` counts what arrived. */
export async function readCapped(res: HttpResponse, max: number, tooLarge: () => Error, got = { bytes: 0 }): Promise<string> {
  return (await readCappedBytes(res, max, tooLarge, got)).toString("utf8");
}

/** readCapped's bytes as they came (signed metadata is hashed as sent, never re-encoded). */
export async function readCappedBytes(res: HttpResponse, max: number, tooLarge: () => Error, got = { bytes: 0 }): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += chunk.length;
    got.bytes = n;
    if (n > max) {
      res.discard();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Open a transport for `opts` (credentials for `trusted` origins), run `fn`, close it. */
export async function withTransport<T>(opts: Options, trusted: readonly string[], fn: (t: Transport) => Promise<T>): Promise<T> {
  const t = await openTransport(opts, trusted);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}
