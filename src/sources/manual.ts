// `otter install URL|PATH`: a one-offer source for a file given by hand (a USB stick, a
// service laptop), so it goes through the same pipeline, journal and reports.
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Config } from "../config/config.ts";
import { postReport } from "./manifest.ts";
import type { Offer, Source } from "./source.ts";

export function manualSource(config: Config, where: string, version: string, sha256?: string): Source {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(where) ? where : pathToFileURL(isAbsolute(where) ? where : resolve(where)).href;
  const offer: Offer = { id: `manual:${version}:${(sha256 ?? "").slice(0, 12) || Date.now()}`, source: "manual", version, url, sha256: sha256?.toLowerCase(), meta: "", force: true };
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
