// scripts/tuf-client: the TUF conformance suite's client CLI on top of otter's TUF client
// (src/sources/tufclient.ts: tuf-js's workflow, otter's transport and atomic metadata store)
// and otter's resumable downloader, so the public suite can be run against otter:
//   tuf-client --metadata-dir DIR init TRUSTED_ROOT
//   tuf-client --metadata-dir DIR --metadata-url URL refresh
//   tuf-client --metadata-dir DIR --metadata-url URL --target-name NAME --target-base-url URL --target-dir DIR download
// Metadata is kept in DIR by plain role names (root.json, timestamp.json, ...). Exit 0 on
// success, 1 on any failure (the reason on stderr). Plain http:// is allowed: the suite
// serves its repositories on localhost.
import { copyFileSync, createReadStream, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseConfig } from "../src/config/config.ts";
import { describe } from "../src/base/errors.ts";
import { download } from "../src/transfer/download.ts";
import { withTransport } from "../src/transfer/http.ts";
import { refreshRepository } from "../src/sources/tufclient.ts";
import { targetUrl } from "../src/sources/tufoffer.ts";
import { openStore } from "../src/sources/tufstore.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "metadata-dir": { type: "string" }, "metadata-url": { type: "string" }, "target-name": { type: "string" },
    "target-base-url": { type: "string" }, "target-dir": { type: "string" },
  },
});
const config = parseConfig("[download]\nallow_http = true\nconnect_timeout = 10\nretry_base = 0.1\nretry_cap = 1\nmax_attempts = 3\n", "tuf-client", { env: {} });

function need(name: keyof typeof values): string {
  const v = values[name];
  if (typeof v !== "string" || !v) throw new Error(`--${name} is required for ${positionals[0]}`);
  return v;
}

async function main(): Promise<void> {
  const dir = need("metadata-dir");
  const [command, root] = positionals;
  if (command === "init") {
    if (!root) throw new Error("init needs the trusted root.json: tuf-client --metadata-dir DIR init ROOT");
    mkdirSync(dir, { recursive: true });
    copyFileSync(root, join(dir, "root.json"));
    return;
  }
  if (command !== "refresh" && command !== "download") throw new Error(`unknown command ${JSON.stringify(command)}; expected init, refresh or download`);
  const metadataUrl = need("metadata-url");
  await withTransport(config.download, [], async (t) => {
    const repo = await refreshRepository(config, t, openStore(dir, undefined, false), metadataUrl, metadataUrl);
    if (command === "refresh") return;
    const name = need("target-name");
    const info = await repo.target(name);
    if (!info) throw new Error(`no target ${name}`);
    const targetDir = need("target-dir");
    mkdirSync(targetDir, { recursive: true });
    const final = join(targetDir, encodeURIComponent(name));
    const part = `${final}.part`;
    rmSync(part, { force: true });
    const url = targetUrl(need("target-base-url"), name, Object.values(info.hashes)[0] ?? "", repo.consistentSnapshot);
    await download({ url, partPath: part, expectedSize: info.length, sha256: info.hashes.sha256, options: config.download });
    // Every hash the target lists, by tuf-js (the downloader checked sha256 and the length).
    await info.verify(createReadStream(part));
    renameSync(part, final);
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`tuf-client: ${describe(err)}`);
    process.exit(1);
  },
);
