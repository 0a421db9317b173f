// Minimal verification (sha256 and size); the downloader issue adds signatures.
import type { Config } from "./config.ts";
import type { DownloadResult } from "./download.ts";
import { DigestMismatch } from "./errors.ts";
import type { SignatureSpec } from "./sources/source.ts";

export async function verifyFile(result: DownloadResult, expect: { sha256?: string; signature?: SignatureSpec; size?: number }, _cfg: Config["verify"]): Promise<void> {
  if (expect.size !== undefined && result.size !== expect.size) throw new DigestMismatch(`size is ${result.size} bytes, the job says ${expect.size}`);
  if (expect.sha256 && result.sha256 !== expect.sha256) throw new DigestMismatch(`sha256 is ${result.sha256}, the job says ${expect.sha256}`);
}
