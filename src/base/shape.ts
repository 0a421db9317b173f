// A tiny shape checker for otter's own state files (journal, approvals, history): each
// file's validator is built from these checks, so a file that is valid JSON but of the
// wrong shape is refused on read with one line naming the field, instead of crashing
// whatever touches it later. A check returns the value it accepted, typed, or throws
// ShapeError; `object` needs a check for every key of its type (the compiler says which is
// missing) and keeps only those keys.

import { shown } from "./printable.ts";

export class ShapeError extends Error {}

/** Checks `v` (found at `at`, e.g. "job.offer.url") and returns it typed, or throws ShapeError. */
export type Check<T> = (v: unknown, at: string) => T;

function fail(at: string, expected: string, v: unknown): never {
  throw new ShapeError(`${at || "top level"}: expected ${expected}, got ${shown(v)}`);
}

const is = <T>(expected: string, test: (v: unknown) => boolean): Check<T> => (v, at) => (test(v) ? (v as T) : fail(at, expected, v));

/** A string of at most `max` characters: a state file's strings are bounded like everything otter prints. */
export const text = (max: number): Check<string> => is(`a string of at most ${max} characters`, (v) => typeof v === "string" && v.length <= max);
/** Ids, versions, states, paths, times as text: otter writes none longer than 4096 characters. */
export const shortText = text(4096);
/** URLs, meta, messages, header values: at most 64 KiB. */
export const longText = text(65536);
export const boolean: Check<boolean> = is("true or false", (v) => typeof v === "boolean");
/** A whole number of at least 0 (counters, sizes, pids). */
export const count: Check<number> = is("a whole number of at least 0", (v) => Number.isSafeInteger(v) && (v as number) >= 0);
/** Milliseconds since the epoch, within what a Date can hold. */
export const time: Check<number> = is("a time in ms since the epoch", (v) => Number.isSafeInteger(v) && Math.abs(v as number) <= 8.64e15);

/** One of the given strings. */
export function oneOf<const T extends string>(values: readonly T[]): Check<T> {
  return is(`one of ${values.join(", ")}`, (v) => values.includes(v as T));
}

/** Absent (undefined) or what `check` accepts; null is refused (otter never writes it). */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, at) => (v === undefined ? undefined : check(v, at));
}

export function array<T>(check: Check<T>): Check<T[]> {
  return (v, at) => (Array.isArray(v) ? v.map((x, i) => check(x, `${at}[${i}]`)) : fail(at, "a list", v));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** An object used as a map: every key `key` accepts, every value `value` accepts. */
export function record<K extends string, T>(value: Check<T>, key: Check<K> = shortText as Check<K>): Check<Record<K, T>> {
  return (v, at) => {
    if (!isObject(v)) fail(at, "an object", v);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [key(k, `${at} key`), value(x, `${at}.${k}`)])) as Record<K, T>;
  };
}

/** An object with these fields (each checked; undefined ones left out); other keys are dropped. */
export function object<T>(fields: { [K in keyof NoInfer<T>]-?: Check<NoInfer<T>[K]> }): Check<T> {
  return (v, at) => {
    if (!isObject(v)) fail(at, "an object", v);
    const out: Record<string, unknown> = {};
    for (const [k, check] of Object.entries(fields) as [string, Check<unknown>][]) {
      const value = check(v[k], at ? `${at}.${k}` : k);
      if (value !== undefined) out[k] = value;
    }
    return out as T;
  };
}
