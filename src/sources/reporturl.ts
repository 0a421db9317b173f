// [service] report_url: one JSON POST per message, through otter's one transport. It carries
// a job's reports (manifest.ts) and a TUF channel's own events (tufhealth.ts: a freeze began
// or ended), which name no job. A 2xx acknowledges; no answer, 5xx, 429 or 408 is transient
// (sent again later), any other status final.
import { retryAfterSeconds } from "../base/backoff.ts";
import { OtterError, SourceRejected, SourceUnavailable } from "../base/errors.ts";
import type { Config } from "../config/config.ts";
import { credentialOrigins } from "../transfer/credentials.ts";
import { header, networkWords, send, withTransport } from "../transfer/http.ts";
import type { Delivery } from "./source.ts";

/** POST `body` to report_url; "acknowledged" at once when none is set (the log is the record). */
export async function postToReportUrl(config: Config, body: Record<string, unknown>): Promise<Delivery> {
  const url = config.service.report_url;
  if (!url) return "acknowledged";
  let res: { status: number; retryAfter?: number };
  try {
    res = await withTransport(config.download, credentialOrigins(config), async (t) => {
      const r = await send(t, url, {
        method: "POST", headers: { "content-type": "application/json" }, allowHttp: config.download.allow_http,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(config.download.connect_timeout * 1000), fail: (m) => new SourceRejected(m),
      });
      r.discard();
      return { status: r.statusCode, retryAfter: retryAfterSeconds(header(r, "retry-after"), Date.now()) };
    });
  } catch (err) {
    if (err instanceof SourceUnavailable) throw err;
    const why = err instanceof OtterError ? err.message : networkWords(err, url, 0, config.download.connect_timeout);
    throw new SourceUnavailable(`report_url ${url}: ${why}`, { cause: err });
  }
  const { status, retryAfter } = res;
  if (status >= 200 && status <= 299) return "acknowledged";
  if (status >= 500 || status === 429 || status === 408) throw new SourceUnavailable(`report_url ${url}: HTTP ${status}`, { retryAfter });
  throw new SourceRejected(`report_url ${url}: HTTP ${status}`);
}
