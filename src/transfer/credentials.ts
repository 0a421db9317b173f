// Where otter's HTTP credentials may go: [download] headers (an Authorization token), the
// client certificate and a URL's userinfo go only to the origins they were configured for
// (scheme + host + port of a channel, of report_url, or listed in credential_origins), as
// browsers and curl do. A redirect to another origin drops them for the rest of the chain,
// and a file URL a manifest or job names on another origin gets none. Pure: no I/O.
import type { Config } from "../config/config.ts";

/** scheme://host[:port] of an http(s) URL, else undefined. */
export function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/** The origins credentials may go to: the channels', report_url's and [download] credential_origins (checked by config.ts). */
export function credentialOrigins(config: Pick<Config, "channels" | "service" | "download" | "tuf">): string[] {
  // a TUF channel (tuf+https://…) trusts its metadata's origin and its targets_url's
  const channels = Object.values(config.channels).map((u) => u.replace(/^tuf\+/, ""));
  const urls = [...config.download.credential_origins, ...channels, config.tuf.targets_url ?? "", config.service.report_url ?? ""];
  return [...new Set(urls.map(originOf).filter((o): o is string => o !== undefined))];
}

/** The URL without userinfo, and the Basic authorization its userinfo stands for (if any). */
export function splitUserinfo(url: string): { url: string; basic?: string } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url };
  const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = u.password = "";
  return { url: u.href, basic: `Basic ${Buffer.from(pair).toString("base64")}` };
}
