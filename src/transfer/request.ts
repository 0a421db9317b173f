// What a download is asked (DownloadRequest) and what it answers: the types shared by the
// downloader, its part file, verify and the journal, which records ResumePoint and
// DownloadResult.
import type { Config } from "../config/config.ts";

export interface ResumePoint {
  /** fsynced: survives a power cut */
  bytes: number;
  /** the validator of every byte in the part file */
  etag?: string;
  lastModified?: string;
  fetched: number;
  attempts: number;
  /** boot id at the checkpoint: within the same boot, bytes written after it are kept too */
  boot?: string;
}
export interface DownloadProgress { bytes: number; total?: number; bytesPerSecond: number }
export interface DownloadRequest {
  /** https://, http:// (only if options.allow_http), file:// or an absolute path (only if allowLocal) */
  url: string;
  /** the offer comes from a local source (a file:// channel, otter install PATH): local files may be read */
  allowLocal?: boolean;
  /** where bytes land (the caller renames it after verification) */
  partPath: string;
  expectedSize?: number;
  /** expected, lowercase hex; a mismatch deletes the part file and throws DigestMismatch */
  sha256?: string;
  /** from the journal after a crash/reboot; undefined = fresh */
  resume?: ResumePoint;
  signal?: AbortSignal;
  /** on 403 from a presigned URL: a fresh URL; the download resumes at the same offset */
  refreshUrl?: () => Promise<string>;
  /** at most about once a second, plus once at the end */
  onProgress?: (p: DownloadProgress) => void;
  /** a failed attempt is retried after waitMs (the watchdog's sign that a quiet download still moves) */
  onRetry?: (waitMs: number) => void;
  /** after the part file is fsynced up to r.bytes (every options.sync_interval bytes or CHECKPOINT_MS) */
  onCheckpoint?: (r: ResumePoint) => void | Promise<void>;
  options: Config["download"];
  /** origins that get [download] headers, the client certificate and URL userinfo (credentials.ts) */
  credentialOrigins?: readonly string[];
}
export interface DownloadResult { path: string; size: number; sha256: string; fetched: number }
