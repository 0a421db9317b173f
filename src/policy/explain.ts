// `otter plan`'s human rendering of a policy decision: the verdict, then one reason a line.
import type { Offer } from "../sources/source.ts";
import { formatTime, type Decision, type RunningImage } from "./policy.ts";

function name(offer: Offer): string {
  return `${offer.channel ? `${offer.channel} ` : ""}${offer.version} (${offer.id})`;
}

/** The first line: what otter would do now (also `otter --once`'s summary when it waits). */
export function verdict(d: Decision): string {
  switch (d.kind) {
    case "update":
      return `update to ${name(d.offer)}`;
    case "wait": {
      const download = d.downloadAllowed ? "; downloading meanwhile" : "";
      return `wait until ${formatTime(d.until)} (${d.waitingFor}), then ${name(d.offer)}${download}`;
    }
    case "approval": {
      const auto = d.autoApproveAt === undefined ? "" : `; auto-approved at ${formatTime(d.autoApproveAt)}`;
      return `waiting for approval of ${name(d.offer)}: otter approve ${d.approvalId}${auto}`;
    }
    case "nothing":
      return "nothing to do";
  }
}

/** `otter plan`'s line on the running image, saying what otter does not know and how it counts it. */
export function describeRunning(r: RunningImage): string {
  if (r.version === undefined) return "running: nothing installed, as far as otter knows";
  const channel = r.channel ?? "channel unknown (it ranks above every channel until a channel offers its version)";
  const since = r.installedAt !== undefined
    ? `installed ${formatTime(r.installedAt)}`
    : `install time unknown (soak and test period count from ${r.seenAt === undefined ? "now" : formatTime(r.seenAt)}, when otter first saw it)`;
  return `running: ${r.version}, ${channel}, ${since}`;
}

/** Human text for a decision: verdict, reasons ("+" allowed, "-" blocked), rejections. */
export function formatDecision(d: Decision): string {
  const lines = [verdict(d)];
  if (d.reasons.length) lines.push("reasons:");
  for (const r of d.reasons) lines.push(`  ${r.allowed ? "+" : "-"} ${r.offerId} ${r.rule}: ${r.text}`);
  if (d.rejected.length) lines.push("rejected (never downloaded):");
  for (const r of d.rejected) lines.push(`  ${r.offer.id}: ${r.reason}`);
  return lines.join("\n") + "\n";
}
