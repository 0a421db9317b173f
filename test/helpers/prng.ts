// mulberry32: a small seeded PRNG, so a seed replays the same run (scripts/fuzz, scripts/powercut).

/** A random number in [0, 1), from a seeded generator. */
export type Rng = () => number;

export function prng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
