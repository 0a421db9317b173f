// The download transport: the real undici (never Bun's built-in shim, which ignores a
// custom CA), with the [download] CA / client certificate, HTTPS_PROXY / NO_PROXY and extra
// headers. undici is imported lazily so `otter --version` does not pay for it.
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
