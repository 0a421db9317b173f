// `otter status`: who holds the lock, the current job and its phase, reports waiting,
// the running image and the last results. Reads state_dir; takes no lock, changes nothing.
import type { Config } from "./config.ts";
import { readHistory } from "./history.ts";
import { Journal } from "./journal.ts";
import { lockOwner } from "./lock.ts";

export function statusOf(config: Config) {
  const dir = config.service.state_dir;
  const journal = Journal.open(dir).data;
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
    history: readHistory(dir).slice(-10),
  };
}

export function formatStatus(s: ReturnType<typeof statusOf>): string {
  const lines = [
    s.lock ? `otter: running (pid ${s.lock.pid}, ${s.lock.command}, since ${s.lock.since})` : "otter: not running",
    `installed: ${s.running.version ?? "unknown"}${s.running.channel ? ` (${s.running.channel})` : ""}${s.running.installedAt ? ` since ${new Date(s.running.installedAt).toISOString()}` : ""}`,
  ];
  if (s.job) {
    const pct = s.job.size ? ` (${Math.floor((100 * s.job.downloadedBytes) / s.job.size)}%)` : "";
    lines.push(`job: ${s.job.id} version ${s.job.version}, ${s.job.state}, downloaded ${s.job.downloadedBytes} bytes${pct}, since ${s.job.startedAt}`);
  } else lines.push("job: none");
  lines.push(`reports waiting: ${s.outbox}`);
  for (const h of s.history) lines.push(`  ${h.endedAt} ${h.id} ${h.status} ${h.state}: ${h.message}`);
  return lines.join("\n") + "\n";
}
