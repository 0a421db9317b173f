// The syntax of [policy] window ("Mon-Fri 02:00-05:00, Sat 00:00-24:00"): parsed here, where
// the config is checked; policy/window.ts says whether a parsed window is open at a time.
//
// Grammar: entries separated by commas; each is `[DAYS] HH:MM-HH:MM`, DAYS being a day
// (`Sat`), a range (`Mon-Fri`, wrapping allowed: `Fri-Mon`), or absent for every day.
// `24:00` ends a day. An entry whose end is not after its start runs overnight and
// belongs to the day it starts on: `Fri 22:00-02:00` covers Friday 22:00 to Saturday 02:00.
import { ConfigError } from "../base/errors.ts";

export const DAY_MINUTES = 1440;
export const WEEK_MINUTES = 7 * DAY_MINUTES;
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

export const NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

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
