// `otter plan`'s human rendering of a policy decision: the verdict, then one reason a line.
import type { Offer } from "../sources/source.ts";
import { formatTime, type Decision } from "./policy.ts";

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

/** Human text for a decision: verdict, reasons ("+" allowed, "-" blocked), rejections. */
export function formatDecision(d: Decision): string {
  const lines = [verdict(d)];
  if (d.reasons.length) lines.push("reasons:");
  for (const r of d.reasons) lines.push(`  ${r.allowed ? "+" : "-"} ${r.offerId} ${r.rule}: ${r.text}`);
  if (d.rejected.length) lines.push("rejected (never downloaded):");
  for (const r of d.rejected) lines.push(`  ${r.offer.id}: ${r.reason}`);
  return lines.join("\n") + "\n";
}
