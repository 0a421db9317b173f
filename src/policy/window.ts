// Update windows, in the device's local time: whether one is open, when it opens next.
// Pure: the date is passed in and read with Date's local getters.
import { DAY_MINUTES, NAMES, parseWindow, WEEK_MINUTES, type Window } from "../config/window.ts";

// Minutes since Sunday 00:00, local time.
function weekMinute(date: Date): number {
  return date.getDay() * DAY_MINUTES + date.getHours() * 60 + date.getMinutes();
}

/** Whether updates may start at `date`. No window = always. */
export function isOpen(window: Window, date: Date): boolean {
  if (window.spans.length === 0) return true;
  const m = weekMinute(date);
  return window.spans.some((s) => (s.start <= m && m < s.end) || (s.start <= m + WEEK_MINUTES && m + WEEK_MINUTES < s.end));
}

/** When the window is next open at or after `date` (`date` itself when open now). */
export function nextOpen(window: Window, date: Date): Date {
  if (isOpen(window, date)) return date;
  const now = weekMinute(date);
  let best: Date | undefined;
  for (const span of window.spans) {
    const start = span.start % WEEK_MINUTES;
    // Days ahead, built with the local-time constructor so DST shifts land on the wall clock.
    let ahead = Math.floor(start / DAY_MINUTES) - date.getDay();
    if (ahead < 0 || (ahead === 0 && start <= now)) ahead += 7;
    const minute = start % DAY_MINUTES;
    const at = new Date(date.getFullYear(), date.getMonth(), date.getDate() + ahead, Math.floor(minute / 60), minute % 60);
    if (!best || at < best) best = at;
  }
  return best!;
}

/** A short human description of when the window opens next, e.g. "Mon 02:00". */
export function describeOpen(date: Date): string {
  const d = NAMES[date.getDay()]!;
  const hh = String(date.getHours()).padStart(2, "0");
  const mm = String(date.getMinutes()).padStart(2, "0");
  return `${d[0]!.toUpperCase()}${d.slice(1, 3)} ${hh}:${mm}`;
}

/** When a closed window opens (ms epoch), or undefined when `now` is inside it (or there is none). */
export function closedUntil(text: string | undefined, now: number): number | undefined {
  const window = parseWindow(text);
  const date = new Date(now);
  return isOpen(window, date) ? undefined : nextOpen(window, date).getTime();
}
