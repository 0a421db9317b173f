// A tiny entry that runs download() the way the pipeline will, for the built-binary test and
// what built artifacts do without the pipeline:
//   fetch-cli CONFIG URL PART [--sha256 HEX] [--size N] [--journal FILE]
// The journal holds the last ResumePoint (written atomically at each checkpoint), so a
// killed run resumes as otter does (see src/transfer/partfile.ts). Prints the DownloadResult as JSON.
import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../../src/base/atomic.ts";
import { describe, exitCodeOf, OtterError } from "../../src/base/errors.ts";
import { loadConfig } from "../../src/config/config.ts";
import { download } from "../../src/transfer/download.ts";
import type { ResumePoint } from "../../src/transfer/request.ts";

const [config, url, part, ...rest] = process.argv.slice(2);
const flag = (name: string) => {
  const i = rest.indexOf(name);
  return i < 0 ? undefined : rest[i + 1];
};
const journal = flag("--journal");
const size = flag("--size");

async function main(): Promise<void> {
  const resume: ResumePoint | undefined = journal && existsSync(journal) ? JSON.parse(readFileSync(journal, "utf8")) : undefined;
  const result = await download({
    url: url!,
    partPath: part!,
    sha256: flag("--sha256"),
    expectedSize: size ? Number(size) : undefined,
    resume,
    options: loadConfig(config!).download,
    credentialOrigins: /^https?:/.test(url!) ? [new URL(url!).origin] : [], // the URL given is the one configured
    onCheckpoint: journal ? (r) => writeFileAtomic(journal, JSON.stringify(r)) : undefined,
  });
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((err) => {
  process.stderr.write(`fetch-cli: ${err instanceof OtterError ? err.code + " " : ""}${describe(err)}\n`);
  process.exit(exitCodeOf(err));
});
