// "Did you mean": the known word a mistyped one is closest to, for config keys and for the
// command line alike.

/** The word in `known` within `max` edits of `word` (the closest, the first on a tie), if any. */
export function nearest(word: string, known: readonly string[], max = 2): string | undefined {
  let best: { word: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(word, k);
    if (d <= max && (!best || d < best.d)) best = { word: k, d };
  }
  return best?.word;
}

// Edits (insert, delete, replace, swap two neighbours) from a to b: optimal string
// alignment, so "stauts" is one edit from "status", as a typist sees it.
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, before[j - 2]! + 1);
    }
    [before, prev] = [prev, row];
  }
  return prev[b.length]!;
}
