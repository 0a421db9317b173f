// Minimal downloader (stream to the part file, sha256 as bytes arrive); the downloader
// issue replaces it with the resumable one behind the same interface.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Config } from "./config.ts";
import { DownloadHttp, DownloadTooLarge } from "./errors.ts";

export interface ResumePoint { bytes: number; etag?: string; lastModified?: string; fetched: number; attempts: number }
export interface DownloadProgress { bytes: number; total?: number; bytesPerSecond: number }
export interface DownloadRequest {
  url: string;
  partPath: string;
  expectedSize?: number;
  sha256?: string;
  resume?: ResumePoint;
  signal?: AbortSignal;
  refreshUrl?: () => Promise<string>;
  onProgress?: (p: DownloadProgress) => void;
  onCheckpoint?: (r: ResumePoint) => void | Promise<void>;
  options: Config["download"];
}
export interface DownloadResult { path: string; size: number; sha256: string; fetched: number }

export async function download(req: DownloadRequest): Promise<DownloadResult> {
  const body = await open(req);
  const hash = createHash("sha256");
  const out = createWriteStream(req.partPath);
  let bytes = 0;
  const started = Date.now();
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > req.options.max_file_size) throw new DownloadTooLarge(`${req.url}: more than max_file_size (${req.options.max_file_size} bytes)`);
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
    req.onProgress?.({ bytes, total: req.expectedSize, bytesPerSecond: bytes / Math.max(0.001, (Date.now() - started) / 1000) });
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { path: req.partPath, size: bytes, sha256: hash.digest("hex"), fetched: bytes };
}

async function open(req: DownloadRequest): Promise<AsyncIterable<Uint8Array>> {
  if (req.url.startsWith("/") || req.url.startsWith("file:")) {
    return createReadStream(req.url.startsWith("/") ? req.url : fileURLToPath(req.url));
  }
  const res = await fetch(req.url, { signal: req.signal });
  if (!res.ok || !res.body) throw new DownloadHttp(`${req.url}: HTTP ${res.status}`);
  return res.body as unknown as AsyncIterable<Uint8Array>;
}
