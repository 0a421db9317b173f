// Seeded, structure-aware mutations of JSON documents for scripts/fuzz: pick a spot in the
// tree and give it the wrong type, remove it, make it huge, put control or bidi characters
// in it, bury it in nesting, or give an enum field a value nobody knows; now and then the
// text itself is cut or flipped. Pure: the same seed gives the same mutations.
import type { Rng } from "./prng.ts";

const pick = <T>(r: Rng, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;

// No "/", ":" or "@" in made-up text: a mutated URL stays relative to the loopback server.
const JUNK = ["", " ", "x", "0", "-1", "true", "null", "upparat_x", "weekly", "../..", "%00", "ü", "🦦", "A".repeat(300)];
const UNSAFE = ["\0", "\x1b[2J", "\x1b]0;owned\x07", "\u202e", "\x9b", "\r", "\n", "\u2028", "\u200b", "\ud800", "\x7f"];
const NUMBERS = [0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, 4294967296];

/** Values of another type than `v`'s. */
function otherType(r: Rng, v: unknown): unknown {
  const all: unknown[] = [null, true, false, pick(r, NUMBERS), pick(r, JUNK), [], {}, [pick(r, JUNK)], { a: pick(r, JUNK) }];
  const typeOf = (x: unknown) => (Array.isArray(x) ? "array" : x === null ? "null" : typeof x);
  return pick(r, all.filter((x) => typeOf(x) !== typeOf(v)));
}

function nest(r: Rng, v: unknown): unknown {
  let out = v;
  const depth = pick(r, [10, 200, 3000]);
  for (let i = 0; i < depth; i++) out = r() < 0.5 ? [out] : { a: out };
  return out;
}

type Op = (r: Rng, v: unknown, ctx: { enums: readonly string[] }) => unknown;

/** Each mutation of one value; `undefined` removes the field. */
const OPS: Record<string, Op> = {
  missing: () => undefined,
  wrongType: (r, v) => otherType(r, v),
  huge: (r, v) => (typeof v === "string" ? v.repeat(Math.ceil(pick(r, [5000, 70_000, 1_100_000]) / Math.max(1, v.length))) : "A".repeat(pick(r, [5000, 70_000, 1_100_000]))),
  unsafe: (r, v) => {
    const s = typeof v === "string" ? v : String(pick(r, JUNK));
    const at = Math.floor(r() * (s.length + 1));
    return s.slice(0, at) + pick(r, UNSAFE) + s.slice(at);
  },
  nesting: (r, v) => nest(r, v),
  unknownValue: (r, _v, ctx) => (r() < 0.5 && ctx.enums.length ? pick(r, ctx.enums) : pick(r, ["flying", "DONE", "QUEUED", "in_progress", "", "__proto__", "constructor"])),
  number: (r) => pick(r, NUMBERS),
  extraKey: (r, v) => (v && typeof v === "object" && !Array.isArray(v) ? { ...v, [pick(r, ["__proto__", "extra", "job", "state"])]: otherType(r, null) } : [v, v]),
};

interface Spot {
  path: (string | number)[];
  value: unknown;
}

// Every value in the tree with its path, the root first.
function spots(v: unknown, path: (string | number)[] = []): Spot[] {
  const here: Spot = { path, value: v };
  if (Array.isArray(v)) return [here, ...v.flatMap((x, i) => spots(x, [...path, i]))];
  if (v && typeof v === "object") return [here, ...Object.entries(v).flatMap(([k, x]) => spots(x, [...path, k]))];
  return [here];
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (!path.length) return value;
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as object) };
  const [head, ...rest] = path;
  const next = setAt(copy[head!], rest, value);
  if (next === undefined && !Array.isArray(copy)) delete copy[head!];
  else copy[head!] = next;
  return copy;
}

export interface Mutated {
  /** the document's text as otter will read it */
  text: string;
  /** what was done, e.g. `job.state unknownValue; outbox[0] missing` */
  what: string;
}

/** 1-3 mutations of `doc`; `enums` are values worth trying in enum-like fields (states, statuses). */
export function mutate(r: Rng, doc: unknown, enums: readonly string[] = []): Mutated {
  let value = doc;
  const done: string[] = [];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const spot = pick(r, spots(value));
    const name = pick(r, Object.keys(OPS));
    value = setAt(value, spot.path, OPS[name]!(r, spot.value, { enums }));
    const where = spot.path.join(".") || "(root)";
    done.push(`${where.length > 40 ? `${where.slice(0, 40)}…` : where} ${name}`);
  }
  let text = JSON.stringify(value) ?? "";
  // Now and then the text itself: cut short, or one character flipped.
  const roll = r();
  if (roll < 0.05 && text.length > 1) {
    text = text.slice(0, Math.floor(r() * text.length));
    done.push("text cut");
  } else if (roll < 0.1 && text.length) {
    const at = Math.floor(r() * text.length);
    text = text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ (1 << Math.floor(r() * 7))) + text.slice(at + 1);
    done.push("text flipped");
  }
  return { text, what: done.join("; ") };
}
