// otter's TUF client: tuf-js runs the whole metadata workflow (root rotation, versions of
// timestamp, snapshot and targets, expiry, signature thresholds, delegations); otter gives
// it two things of its own: a fetcher through otter's one HTTP transport (CA, client
// certificate, proxy, headers per origin, timeouts), and the metadata store (tufstore.ts),
// so the cache is written atomically. Target files are not fetched here: the pipeline's
// resumable downloader fetches them and checks length and sha256 from the verified target.
// Loaded only when a TUF channel is configured (tuf-js is not parsed otherwise).
import { Updater, type Fetcher, type TargetFile, type UpdaterOptions } from "tuf-js";
import { DownloadHTTPError, ExpiredMetadataError } from "tuf-js/dist/error.js";
import { OtterError, SourceUnavailable, TufExpired, TufRefused, describe } from "../base/errors.ts";
import type { Config } from "../config/config.ts";
import { networkWords, readCappedBytes, send, type Transport } from "../transfer/http.ts";
import type { MetadataStore } from "./tufstore.ts";

export type { TargetFile };

/** A refreshed repository: the targets its verified metadata names. */
export interface TrustedRepository {
  /** the target at `path` (delegations followed), undefined when the repository names none */
  target(path: string): Promise<TargetFile | undefined>;
  /** the trusted root asks for hash-prefixed target file names */
  consistentSnapshot: boolean;
}

// tuf-js's Updater reads and writes its metadata folder through these two methods; otter's
// subclass routes them to the store. They are private in tuf-js's types (hence the cast),
// so a tuf-js that renamed them must fail loudly here, never write around the store.
interface StoreHooks {
  loadLocalMetadata(role: string): Buffer;
  persistMetadata(role: string, bytes: Buffer): void;
}
interface UpdaterApi {
  refresh(): Promise<void>;
  getTargetInfo(path: string): Promise<TargetFile | undefined>;
}
for (const m of ["loadLocalMetadata", "persistMetadata"]) {
  if (typeof (Updater.prototype as unknown as Record<string, unknown>)[m] !== "function") throw new Error(`tuf-js has no Updater.${m}: otter's TUF metadata store must be adapted to this tuf-js`);
}

function storedUpdater(store: MetadataStore, options: UpdaterOptions): UpdaterApi {
  const Base = Updater as unknown as new (o: UpdaterOptions) => UpdaterApi & StoreHooks;
  class Stored extends Base {
    override loadLocalMetadata(role: string): Buffer {
      return store.read(role);
    }
    override persistMetadata(role: string, bytes: Buffer): void {
      store.write(role, bytes);
    }
  }
  return new Stored(options);
}

/** A fetcher through otter's transport; `unreachable` keeps the failure that was the network's. */
function transportFetcher(config: Config, t: Transport): Fetcher & { unreachable?: OtterError } {
  const o = config.download;
  const f: Fetcher & { unreachable?: OtterError } = {
    async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
      try {
        const res = await send(t, url, {
          method: "GET", headers: { accept: "application/json" }, allowHttp: o.allow_http,
          signal: AbortSignal.timeout(o.connect_timeout * 1000), fail: (m) => new TufRefused(`${url}: ${m}`),
        });
        const s = res.statusCode;
        if (s >= 200 && s <= 299) return await readCappedBytes(res, maxLength, () => new TufRefused(`${url}: larger than ${maxLength} bytes`));
        res.discard();
        if (s >= 500 || s === 429 || s === 408) throw new SourceUnavailable(`${url}: HTTP ${s}`);
        // tuf-js's own class: a 404 for the next root version means "no newer root".
        throw new DownloadHTTPError(`${url}: HTTP ${s}`, s);
      } catch (err) {
        if (err instanceof DownloadHTTPError || err instanceof TufRefused) throw err;
        const e = err instanceof SourceUnavailable ? err : new SourceUnavailable(`${url}: ${networkWords(err, url, 0, o.connect_timeout)}`, { cause: err });
        f.unreachable = e;
        throw e;
      }
    },
    downloadFile() {
      throw new Error("otter fetches TUF targets with its own downloader");
    },
  };
  return f;
}

// What a refused refresh means to otter. tuf-js wraps snapshot and targets failures into a
// RuntimeError of its own text, so an expiry is known by its class or by that text.
function classify(err: unknown, what: string, unreachable: OtterError | undefined): OtterError {
  if (unreachable) return unreachable;
  if (err instanceof OtterError) return err;
  const text = describe(err);
  if (err instanceof ExpiredMetadataError || /ExpiredMetadataError|is expired/.test(text)) {
    // tuf-js's own words name the file ("Final timestamp.json is expired"), under its wrappers.
    const which = /(?:Final )?[\w.%-]+\.json is expired/.exec(text)?.[0] ?? text;
    return new TufExpired(`${what}: signed metadata expired (${which}): nothing from it installs until the repository signs fresh metadata (a freeze, or a stalled repository)`, { cause: err });
  }
  return new TufRefused(`${what}: metadata refused: ${text}`, { cause: err });
}

/** Refresh the repository at `metadataUrl` into `store` (the TUF client workflow), over `t`. */
export async function refreshRepository(config: Config, t: Transport, store: MetadataStore, metadataUrl: string, what: string): Promise<TrustedRepository> {
  const fetcher = transportFetcher(config, t);
  let updater: UpdaterApi;
  try {
    updater = storedUpdater(store, { metadataDir: store.dir, metadataBaseUrl: metadataUrl, fetcher });
    await updater.refresh();
  } catch (err) {
    throw classify(err, what, fetcher.unreachable);
  }
  const root = JSON.parse(store.read("root").toString("utf8")) as { signed?: { consistent_snapshot?: unknown } };
  return {
    consistentSnapshot: root.signed?.consistent_snapshot === true,
    async target(path) {
      try {
        return await updater.getTargetInfo(path);
      } catch (err) {
        throw classify(err, what, fetcher.unreachable);
      }
    },
  };
}
