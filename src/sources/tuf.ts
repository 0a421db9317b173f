// TUF channels: `[channels] release = tuf+https://updates.example.com/metadata` is a channel
// backed by a TUF repository whose root.json the device pins ([tuf] trusted_root). Each repository
// is refreshed once per check (tufclient.ts: tuf-js's workflow, otter's transport, the cache
// in STATE_DIR/tuf/), then each of its channels offers the target CHANNEL/TARGET, made only
// from verified metadata (tufoffer.ts). How each channel's last refresh went is kept
// (tufhealth.ts), so `otter status` can say a channel is frozen.
import { readFileSync } from "node:fs";
import { OtterError, TufRefused, describe } from "../base/errors.ts";
import { tufUrl, type Config } from "../config/config.ts";
import { credentialOrigins } from "../transfer/credentials.ts";
import { withTransport } from "../transfer/http.ts";
import type { ChannelResult, Offer } from "./source.ts";
import { FieldError } from "./offerfields.ts";
import { refreshRepository } from "./tufclient.ts";
import { recordHealth, reportFreezes } from "./tufhealth.ts";
import { targetChange, targetPath, tufOffer } from "./tufoffer.ts";
import { openStore, repoDir } from "./tufstore.ts";

/** Where a repository's target files are: [tuf] targets_url, else `targets/` beside the metadata. */
export function targetsUrlOf(config: Config, metadataUrl: string): string {
  return config.tuf.targets_url ?? new URL("../targets/", metadataUrl.endsWith("/") ? metadataUrl : `${metadataUrl}/`).href;
}

/** Every TUF channel's offer (or error), refreshing each repository once; `dryRun` writes nothing. */
export async function checkTufChannels(config: Config, channels: [string, string][], dryRun = false): Promise<ChannelResult[]> {
  const byRepo = new Map<string, string[]>();
  for (const [name, url] of channels) byRepo.set(tufUrl(url)!, [...(byRepo.get(tufUrl(url)!) ?? []), name]);
  const results = new Map<string, ChannelResult>();
  const pinned = readFileSync(config.tuf.trusted_root!);
  await withTransport(config.download, credentialOrigins(config), async (t) => {
    for (const [url, names] of byRepo) {
      const what = names.length === 1 ? `channel ${names[0]} (tuf+${url})` : `TUF repository tuf+${url} (channels ${names.join(", ")})`;
      try {
        if (!url.startsWith("https://") && !config.download.allow_http) throw new TufRefused(`${what}: not https; set [download] allow_http = true to allow it`);
        const store = openStore(repoDir(config.service.state_dir, url, pinned), pinned, dryRun);
        const repo = await refreshRepository(config, t, store, url, what);
        for (const name of names) results.set(name, await channelOffer(config, repo, url, name));
      } catch (err) {
        const error = err instanceof OtterError ? err : new TufRefused(`${what}: ${describe(err)}`, { cause: err });
        for (const name of names) results.set(name, { channel: name, error });
      }
    }
  });
  if (!dryRun) await reportFreezes(config, recordHealth(config, results));
  return channels.map(([name]) => results.get(name)!);
}

/**
 * Before a TUF offer installs: its channel, refreshed now, must still sign this very target.
 * The refresh is an update cycle of its own (TUF 5.1 judges expiry at a cycle's start, and a
 * job outlives the cycle it began in: a long download, a closed window, a reboot). Expired
 * metadata (TUF_EXPIRED) or an unreachable repository pauses the job; refused metadata, or a
 * target signed otherwise now or no more, ends it (TUF_REFUSED).
 */
export async function recheckTufOffer(config: Config, offer: Offer): Promise<void> {
  const channel = offer.channel ?? "";
  const url = config.channels[channel];
  if (!url || !tufUrl(url)) throw new TufRefused(`${offer.id}: channel ${channel} is no longer a TUF channel in the config; not installed`);
  const [r] = await checkTufChannels(config, [[channel, url]]);
  if ("error" in r!) throw r.error;
  const change = targetChange(offer, "offer" in r! ? r.offer : undefined, targetPath(channel, config.tuf.target));
  if (change) throw new TufRefused(`channel ${channel} (${url}): ${change}; not installed`);
}

// The channel's target, if the verified metadata names one, as an offer.
async function channelOffer(config: Config, repo: Awaited<ReturnType<typeof refreshRepository>>, url: string, channel: string): Promise<ChannelResult> {
  const path = targetPath(channel, config.tuf.target);
  const info = await repo.target(path);
  if (!info) return { channel, none: `the repository names no target ${path}` };
  try {
    return { channel, offer: tufOffer(channel, { path, length: info.length, hashes: info.hashes, custom: info.custom }, targetsUrlOf(config, url), repo.consistentSnapshot) };
  } catch (err) {
    if (err instanceof FieldError) return { channel, error: new TufRefused(`channel ${channel} (tuf+${url}): target ${path}: ${err.message}`) };
    throw err;
  }
}
