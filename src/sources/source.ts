// What a job source (AWS IoT Jobs over MQTT, HTTP manifests, a file given by hand) gives
// the pipeline and takes from it. The pipeline knows nothing of MQTT or HTTP.
import type { ErrorCode } from "../base/errors.ts";
import { clip } from "../base/printable.ts";
import type { Config } from "../config/config.ts";
import type { SignatureSpec } from "../transfer/verify.ts";

/** The archive kinds an offer may name (unpacked before install). */
export const ARCHIVES = ["gz", "tar.gz", "zip"] as const;
export type Archive = (typeof ARCHIVES)[number];

/** An update a source proposes. Validated by the source before it gets here. */
export interface Offer {
  /** Unique id: the AWS job id, or "channel:version:sha256-prefix" for a manifest or TUF target. */
  id: string;
  /** "aws" | "manifest" | "tuf" | "manual" */
  source: string;
  channel?: string;
  version: string;
  url: string;
  size?: number;
  /** lowercase hex */
  sha256?: string;
  signature?: SignatureSpec;
  /** boards this image is for; absent = any */
  boards?: string[];
  /** passed to every hook as-is */
  meta: string;
  force: boolean;
  /** unpack before install */
  archive?: Archive;
  /** AWS: an execution already IN_PROGRESS, with the statusDetails.state it was left in */
  inProgressState?: string;
}

/** A channel's check: its offer (a manifest's, a TUF target's), why it has none right now, or that it offers nothing. */
export type ChannelResult = { channel: string; offer: Offer } | { channel: string; error: Error } | { channel: string; none: string };

export const JOB_STATUSES = ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** One status change of a job, kept in the journal's outbox until the source acknowledges it. */
export interface Report {
  jobId: string;
  /** order within the job, from 1 */
  seq: number;
  status: JobStatus;
  /** Upparat's statusDetails.state vocabulary (download_start, complete_ready, ...) */
  state: string;
  /** short human text; never empty */
  message: string;
  /** a failure's or rejection's stable code (docs/exit-codes.md); statusDetails.code on AWS */
  code?: string;
  /** extra statusDetails pairs (phase, progress, version ...), strings only */
  details?: Record<string, string>;
  /** ISO time the report was made */
  at: string;
}

/** The longest message a report carries (AWS would take 1024): a hook's output or a long
 *  URL in an error stays on the device, in its log and history. */
export const MAX_REPORT_MESSAGE = 500;

/** A report's message as it leaves the device: at most MAX_REPORT_MESSAGE characters,
 *  ending in "…[cut]" when it was longer. Applied where a source sends a report (after its
 *  own filter), so that a report otter made, one it made without the journal (an AWS job
 *  refused, a TUF channel's freeze) and one an older otter left in the outbox are all held to it. */
export function reportMessage(text: string): string {
  return clip(text, MAX_REPORT_MESSAGE, "…[cut]");
}

/** What became of a report the source was given. */
export type Delivery = "acknowledged" | "already-terminal";

export interface SourceEvents {
  /** Something changed upstream (a notification): check again soon. */
  wake(): void;
  /** A job was canceled or removed upstream while it may be running. */
  cancelled(jobId: string): void;
}

/**
 * What a check could not read or understand: one channel's manifest or TUF metadata, or a
 * source as a whole. A freeze (TUF_EXPIRED) is one of its own kind: see isFreeze.
 */
export interface SourceProblem {
  /** "channel NAME", or the source's name */
  where: string;
  /** the errors.ts code: MANIFEST_INVALID (needs a person), SOURCE_UNAVAILABLE (may pass), TUF_EXPIRED (a freeze) ... */
  code: ErrorCode;
  message: string;
}

/**
 * A freeze: a TUF channel's signed metadata has expired, so nothing from it installs until
 * the repository signs fresh metadata. Nothing on the device needs fixing (exit 3, not 5);
 * status and plan call it "frozen".
 */
export function isFreeze(p: Pick<SourceProblem, "code">): boolean {
  return p.code === "TUF_EXPIRED";
}

export interface Source {
  readonly name: string;
  /** Connect and start listening; must not throw when the upstream is unreachable (retry inside). */
  start(events: SourceEvents): Promise<void>;
  /**
   * Ask for pending work once. Offers come in the order they should be considered.
   * dryRun (otter plan): change nothing upstream, e.g. reject no bad job document.
   */
  check(opts?: { dryRun?: boolean }): Promise<Offer[]>;
  /**
   * What the last check() could not read or understand, though it returned the offers it
   * could (a source that reads all or nothing throws instead and needs no such method).
   */
  problems?(): SourceProblem[];
  /** Deliver one report; resolves once the upstream acknowledged it. Throws a transient error to retry. */
  report(report: Report): Promise<Delivery>;
  /** Why the source's link is stuck (connected yet silent past its keepalive), for the watchdog; undefined while it moves. */
  stalled?(): string | undefined;
  /** A fresh copy of an offer (AWS re-signs presigned URLs on every describe). */
  refresh?(offer: Offer): Promise<Offer>;
  stop(): Promise<void>;
}

/** Whether an offer comes from the device itself (otter install, a file:// channel): only such an offer may name a local file. */
export function fromLocalSource(config: Pick<Config, "channels">, offer: Offer): boolean {
  if (offer.source === "manual") return true;
  const channel = offer.source === "manifest" && offer.channel !== undefined ? config.channels[offer.channel] : undefined;
  return channel?.startsWith("file:") ?? false;
}
