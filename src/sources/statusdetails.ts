// AWS IoT Jobs statusDetails rules: a map of string → string with at most 10 pairs, keys of
// 1–128 characters from [a-zA-Z0-9:_-], values of 1–1024 characters without control or
// format characters (Unicode category C). `sanitize` makes anything fit; `problemOf` says
// why a given map would be rejected (the jobs emulator answers InvalidRequest with it).

import { ESCAPES } from "../base/lines.ts";
import { clip } from "../base/printable.ts";

export const MAX_PAIRS = 10;
export const MAX_KEY = 128;
export const MAX_VALUE = 1024;
const KEY = /^[a-zA-Z0-9:_-]{1,128}$/;
const CONTROL = /\p{C}/gu;

/** One statusDetails value from any text: ANSI codes and control characters gone, a `\r`
 *  progress bar reduced to what a terminal would show last, lines joined, ≤ 1024 chars. */
export function sanitizeValue(text: string): string {
  // Line by line: a cut-off escape sequence must not take the lines after it along.
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.slice(line.lastIndexOf("\r") + 1))
    .map((line) => line.replace(ESCAPES, "").replace(CONTROL, "").trim())
    .filter(Boolean);
  const value = lines.join(" ").replace(/\s+/g, " ");
  return value ? clip(value, MAX_VALUE) : "none";
}

/** A key AWS accepts, or "" when nothing of it is usable. */
export function sanitizeKey(key: string): string {
  return key.replace(/[^a-zA-Z0-9:_-]/g, "_").slice(0, MAX_KEY).replace(/^_+$/, "");
}

/** statusDetails that AWS accepts, keeping the first pairs (put state and message first). */
export function sanitize(pairs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(pairs)) {
    const key = sanitizeKey(k);
    if (!key || key in out || n === MAX_PAIRS) continue;
    out[key] = sanitizeValue(String(v ?? ""));
    n++;
  }
  return out;
}

/** Why AWS would reject these statusDetails, or undefined when they are valid. */
export function problemOf(details: unknown): string | undefined {
  if (typeof details !== "object" || details === null || Array.isArray(details)) return "statusDetails must be an object of strings";
  const entries = Object.entries(details);
  if (entries.length > MAX_PAIRS) return `statusDetails has ${entries.length} pairs, at most ${MAX_PAIRS} are allowed`;
  for (const [k, v] of entries) {
    if (!KEY.test(k)) return `statusDetails key "${k}" must be 1-${MAX_KEY} characters of [a-zA-Z0-9:_-]`;
    if (typeof v !== "string") return `statusDetails.${k} must be a string`;
    if (v.length < 1 || v.length > MAX_VALUE) return `statusDetails.${k} must be 1-${MAX_VALUE} characters, got ${v.length}`;
    if (/\p{C}/u.test(v)) return `statusDetails.${k} contains control characters`;
  }
  return undefined;
}
