// Update windows ("Mon-Fri 02:00-05:00, Sat 00:00-24:00"), in the device's local time.
// Pure: the date is passed in and read with Date's local getters.
//
// Grammar: entries separated by commas; each is `[DAYS] HH:MM-HH:MM`, DAYS being a day
// (`Sat`), a range (`Mon-Fri`, wrapping allowed: `Fri-Mon`), or absent for every day.
// `24:00` ends a day. An entry whose end is not after its start runs overnight and
// belongs to the day it starts on: `Fri 22:00-02:00` covers Friday 22:00 to Saturday 02:00.
import { ConfigError } from "./errors.ts";

const DAY_MINUTES = 1440;
const WEEK_MINUTES = 7 * DAY_MINUTES;
const EXAMPLE = "e.g. window = Mon-Fri 02:00-05:00, Sat 00:00-24:00";

/** One opening: minutes since Sunday 00:00 local; `end` may pass the week's end (wraps). */
export interface Span {
  start: number;
  end: number;
}

/** A parsed window; an empty list of spans means "always open". */
export interface Window {
  text: string;
  spans: Span[];
}

// Thrown with the whole window text and the fix, as config errors are.
function bad(text: string, what: string): ConfigError {
  return new ConfigError(`[policy] window: "${text}": ${what}; ${EXAMPLE}`);
}

const NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

// A day by its name or a prefix of three letters or more ("Mon", "Tues", "Friday").
function day(text: string, word: string): number {
  const w = word.toLowerCase();
  const i = w.length >= 3 ? NAMES.findIndex((n) => n.startsWith(w)) : -1;
  if (i < 0) throw bad(text, `unknown day "${word}"`);
  return i;
}

function minutes(text: string, word: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(word);
  const value = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  if (!m || Number(m[2]) > 59 || value > DAY_MINUTES) throw bad(text, `bad time "${word}" (expected HH:MM, 00:00 to 24:00)`);
  return value;
}

// The days an entry's DAYS part names, in order from its first day.
function days(text: string, word: string | undefined): number[] {
  if (word === undefined) return [0, 1, 2, 3, 4, 5, 6];
  const [from, to, extra] = word.split("-");
  if (extra !== undefined) throw bad(text, `bad day range "${word}" (expected e.g. Mon-Fri)`);
  const first = day(text, from!);
  const last = to === undefined ? first : day(text, to);
  const count = ((last - first + 7) % 7) + 1;
  return Array.from({ length: count }, (_, k) => (first + k) % 7);
}

/** Parse a window string. Throws ConfigError naming the part that is wrong. */
export function parseWindow(text: string | undefined): Window {
  const spans: Span[] = [];
  if (text === undefined || text.trim() === "") return { text: "", spans };
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (!entry) throw bad(text, "empty entry between commas");
    const words = entry.split(/\s+/);
    if (words.length > 2) throw bad(text, `"${entry}" has ${words.length} parts (expected DAYS HH:MM-HH:MM)`);
    const range = words[words.length - 1]!;
    const [from, to, extra] = range.split("-");
    if (to === undefined || extra !== undefined || !/^\d/.test(from!)) throw bad(text, `"${entry}" has no time range HH:MM-HH:MM`);
    const start = minutes(text, from!);
    let end = minutes(text, to);
    if (start === DAY_MINUTES) throw bad(text, `"${entry}" starts at 24:00 (use 00:00)`);
    if (end <= start) end += DAY_MINUTES;
    for (const d of days(text, words.length === 2 ? words[0] : undefined)) {
      spans.push({ start: d * DAY_MINUTES + start, end: d * DAY_MINUTES + end });
    }
  }
  return { text, spans };
}

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
