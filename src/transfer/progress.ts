// A one-line progress bar for a TTY (`otter run --once`, `otter install`), fed by
// download()'s onProgress. Writes nothing when the stream is not a terminal.
import type { DownloadProgress } from "./request.ts";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${UNITS[i]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** The bar's text for one progress event, `width` columns wide at most. */
export function renderProgress(p: DownloadProgress, width = 80): string {
  const rate = `${formatBytes(p.bytesPerSecond)}/s`;
  if (!p.total) return `${formatBytes(p.bytes)}  ${rate}`.slice(0, width);
  const frac = Math.min(1, p.bytes / p.total);
  const eta = p.bytesPerSecond > 0 ? (p.total - p.bytes) / p.bytesPerSecond : Infinity;
  const tail = ` ${String(Math.floor(frac * 100)).padStart(3)}% ${formatBytes(p.bytes)}/${formatBytes(p.total)} ${rate} ETA ${formatSeconds(eta)}`;
  const barWidth = Math.max(10, Math.min(40, width - tail.length - 2));
  const filled = Math.round(frac * barWidth);
  return `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]${tail}`.slice(0, width);
}

export interface ProgressBar {
  update(p: DownloadProgress): void;
  /** end the line (call once, success or not) */
  done(): void;
}

/** A bar on `stream` (default stderr) if it is a TTY, else a no-op. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update() {}, done() {} };
  let drawn = false;
  return {
    update(p) {
      stream.write(`\r${renderProgress(p, (stream.columns || 80) - 1)}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write("\n");
      drawn = false;
    },
  };
}
