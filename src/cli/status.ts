// `otter status`: who holds the lock, the current job and its phase, reports waiting,
// the running image, pending approvals and the last results. Reads state_dir; takes no
// lock, changes nothing.
import { lockOwner } from "../base/lock.ts";
import { stillRunning } from "../base/proc.ts";
import type { Config } from "../config/config.ts";
import { describeQueued } from "../sources/manual.ts";
import { isFreeze } from "../sources/source.ts";
import { readApprovals } from "../policy/approvalfile.ts";
import { pendingIds } from "../policy/approvals.ts";
import { readHistory } from "../agent/history.ts";
import { Journal } from "../agent/journal.ts";
import { tufUrl } from "../config/config.ts";
import { readChannelHealth } from "../sources/tufhealth.ts";
import { readSourceProblems } from "../agent/sourcestatus.ts";

export function statusOf(config: Config) {
  const dir = config.service.state_dir;
  const journal = Journal.peek(dir);
  const job = journal.job;
  return {
    lock: lockOwner(dir) ?? null,
    running: journal.running,
    job: job
      ? {
          id: job.offer.id, version: job.offer.version, channel: job.offer.channel, state: job.state, startedAt: job.startedAt,
          downloadedBytes: job.download?.result?.size ?? job.download?.resume?.bytes ?? 0, size: job.offer.size ?? null,
        }
      : null,
    outbox: journal.outbox.length,
    queuedInstall: describeQueued(config) ?? null,
    sourceProblems: readSourceProblems(dir),
    pendingApprovals: pendingOf(config),
    history: readHistory(dir).slice(-10),
    tufChannels: tufHealthOf(config),
  };
}

// Each TUF channel's last refresh, in config order.
function tufHealthOf(config: Config) {
  const health = readChannelHealth(config.service.state_dir);
  return Object.entries(config.channels).filter(([, url]) => tufUrl(url)).map(([channel]) => ({ channel, ...health[channel] }));
}

// Pending approval ids, oldest first, with when they became pending and are auto-approved.
function pendingOf(config: Config) {
  const state = readApprovals(config.service.state_dir);
  const after = config.policy.auto_approve_after;
  return pendingIds(state)
    .map((id) => ({ id, since: state.pendingSince[id]!, autoApproveAt: after === undefined ? null : state.pendingSince[id]! + after * 1000 }))
    .sort((a, b) => a.since - b.since);
}

export function formatStatus(s: ReturnType<typeof statusOf>): string {
  const lines = [
    s.lock ? `otter: running (pid ${s.lock.pid}, ${s.lock.command}, since ${s.lock.since})` : "otter: not running",
    `installed: ${s.running.version ?? "unknown"}${s.running.channel ? ` (${s.running.channel})` : ""}${s.running.installedAt ? ` since ${new Date(s.running.installedAt).toISOString()}` : s.running.seenAt ? `, install time unknown (otter first saw it ${new Date(s.running.seenAt).toISOString()})` : ""}`,
  ];
  if (s.job) {
    const pct = s.job.size ? ` (${Math.floor((100 * s.job.downloadedBytes) / s.job.size)}%)` : "";
    lines.push(`job: ${s.job.id} version ${s.job.version}, ${s.job.state}, downloaded ${s.job.downloadedBytes} bytes${pct}, since ${s.job.startedAt}`);
  } else lines.push("job: none");
  lines.push(`reports waiting: ${s.outbox}`);
  if (s.queuedInstall) lines.push(`queued otter install: ${s.queuedInstall}`);
  // One line per problem; a frozen TUF channel's is its freeze.
  for (const p of s.sourceProblems) lines.push(`${isFreeze(p) ? "frozen" : "source problem"}: ${p.where} since ${p.since} (${p.code}): ${p.message}`);
  const w = s.running;
  const reflashed = w.reflashes ? ` (after ${w.reflashes} reflash${w.reflashes > 1 ? "es" : ""} in a row)` : "";
  // A workload recorded before a power cut (another boot) is not running, whatever has its pid now.
  const alive = w.workloadProcess && stillRunning(w.workloadProcess);
  if (w.workloadRunning || w.workloadDied) lines.push(`workload: ${w.workloadDied ? "died" : alive ? `running (pid ${w.workloadProcess!.pid})` : "to be started"}${reflashed}`);
  for (const p of s.pendingApprovals) {
    const auto = p.autoApproveAt === null ? "" : `, auto-approved at ${new Date(p.autoApproveAt).toISOString()} unless denied`;
    lines.push(`pending approval: ${p.id} since ${new Date(p.since).toISOString()}${auto}: otter approve ${p.id} | otter deny ${p.id}`);
  }
  // A refused or frozen channel's line is its source problem's, above.
  for (const c of s.tufChannels) {
    if (c.at === undefined) lines.push(`channel ${c.channel}: TUF, not checked yet`);
    else if (!c.code) lines.push(`channel ${c.channel}: TUF metadata verified (checked ${new Date(c.at).toISOString()})`);
  }
  for (const h of s.history) lines.push(`  ${h.endedAt} ${h.id} ${h.status} ${h.state}: ${h.message}`);
  return lines.join("\n") + "\n";
}
