// `otter install URL|PATH`: a one-offer source for a file given by hand (a USB stick, a
// service laptop), so it goes through the same pipeline, journal and reports.
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { UsageError } from "../base/errors.ts";
import type { Config } from "../config/config.ts";
import { postReport } from "./manifest.ts";
import { FieldError, offerFields } from "./offerfields.ts";
import type { Offer, Source } from "./source.ts";

/** Throws UsageError naming the option when --version or --sha256 would not pass as a manifest's field. */
export function manualSource(config: Config, where: string, version: string, sha256?: string): Source {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(where) ? where : pathToFileURL(isAbsolute(where) ? where : resolve(where)).href;
  let fields: ReturnType<typeof offerFields>;
  try {
    fields = offerFields({ version, url, sha256 });
  } catch (err) {
    throw err instanceof FieldError ? new UsageError(`otter install: ${err.message.replace(/^"(version|sha256)"/, "--$1")}`) : err;
  }
  const offer: Offer = { ...fields, id: `manual:${fields.version}:${(fields.sha256 ?? "").slice(0, 12) || Date.now()}`, source: "manual", force: true };
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
