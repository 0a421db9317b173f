// What bounds a download besides its size: the data budget, the low-speed floor and the
// bandwidth cap (and the cancellable wait the retries and the cap use).
import { monotonicMs } from "../base/clock.ts";
import { Cancelled, DownloadBudget } from "../base/errors.ts";
import { sleep } from "../base/sleep.ts";
import type { Config } from "../config/config.ts";
import type { Part } from "./partfile.ts";
import type { DownloadRequest } from "./request.ts";

// The data budget: the bytes fetched for this job (restarts and earlier runs included) stay
// within budget_factor × the size. An attempt whose `need` bytes would pass it is not made,
// or its body not read, so the budget stops the download before it is spent.
export function checkBudget(req: DownloadRequest, p: Part, need: number): void {
  const size = req.expectedSize ?? p.total ?? p.hint;
  if (size === undefined) return;
  const factor = req.options.budget_factor;
  const budget = Math.floor(factor * size);
  if (p.fetched + need > budget) {
    const what = need > 0 ? `the ${need} bytes still needed would pass the data budget` : "over the data budget";
    throw new DownloadBudget(`${what}: ${p.fetched} bytes already fetched for a ${size}-byte file, at most ${budget} (budget_factor ${factor})`);
  }
}

const pace = new WeakMap<Part, { since: number; bytes: number }>();

// Sleep as needed so bytes over the last seconds stay under the cap.
export async function throttle(p: Part, n: number, limit: number, signal?: AbortSignal): Promise<void> {
  const now = monotonicMs();
  let w = pace.get(p);
  if (!w || now - w.since > 5000) pace.set(p, (w = { since: now, bytes: 0 }));
  w.bytes += n;
  const ahead = (w.bytes / limit) * 1000 - (now - w.since);
  if (ahead > 20) await pause(ahead, signal);
}

// Abort the attempt when fewer than the floor's bytes/s arrive over low_speed_time: the
// low_speed_limit, but at most half a bandwidth_limit (otter's own pace must never trip it).
export function lowSpeedGuard(o: Config["download"], p: Part, ac: AbortController): { stalled: boolean; floor: number; stop(): void } {
  const floor = o.bandwidth_limit > 0 ? Math.min(o.low_speed_limit, o.bandwidth_limit / 2) : o.low_speed_limit;
  const g = { stalled: false, floor, stop: () => {} };
  if (floor <= 0) return g;
  const windowMs = o.low_speed_time * 1000;
  // bytes received (fetched), not the offset: a restart from zero is no stall
  const samples: { t: number; b: number }[] = [{ t: monotonicMs(), b: p.fetched }];
  const timer = setInterval(() => {
    const now = monotonicMs();
    samples.push({ t: now, b: p.fetched });
    while (samples.length > 2 && now - samples[1]!.t >= windowMs) samples.shift();
    const first = samples[0]!;
    if (now - first.t >= windowMs && p.fetched - first.b < (floor * (now - first.t)) / 1000) {
      g.stalled = true;
      ac.abort();
    }
  }, Math.min(1000, windowMs / 4));
  g.stop = () => clearInterval(timer);
  return g;
}

// Wait, but stop with Cancelled as soon as the job is cancelled or otter stops.
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, signal);
  if (signal?.aborted) throw new Cancelled("download cancelled");
}
