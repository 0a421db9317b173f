// The powercut run as a person reads it: one row per phase a cut landed in (and kind of
// update), the problems found in those trials, and the seed that replays the run.
import { STATES } from "../../src/agent/pipeline.ts";
import type { Problems, RunResult, TrialResult } from "./trials.ts";

/** Rows in pipeline order: cuts before any state, then each state, then the uncut trials. */
const ORDER = ["start", ...STATES, "uncut"];
const rank = (key: string) => ORDER.indexOf(key.split(" ")[0]!) * 2 + (key.endsWith("(archive)") ? 1 : 0);

const COLUMNS: [string, keyof Problems][] = [
  ["lost updates", "lost"], ["wrong installs", "wrong"], ["false reports", "falseReport"], ["torn journals", "torn"], ["other", "other"],
];

/** Rows keyed "phase (kind)": a trial counts in each phase one of its cuts landed in. */
function rows(results: TrialResult[]): Map<string, { trials: number; cuts: number; counts: number[] }> {
  const out = new Map<string, { trials: number; cuts: number; counts: number[] }>();
  for (const t of results) {
    const phases = t.cuts.length ? t.cuts : ["uncut"];
    for (const phase of new Set(phases)) {
      const key = `${phase} (${t.plan.kind})`;
      const row = out.get(key) ?? { trials: 0, cuts: 0, counts: COLUMNS.map(() => 0) };
      row.trials++;
      row.cuts += t.cuts.filter((c) => c === phase).length;
      COLUMNS.forEach(([, k], i) => (row.counts[i]! += t.problems[k].length ? 1 : 0));
      out.set(key, row);
    }
  }
  return out;
}

export function table(r: RunResult): string {
  const header = ["phase cut in", "trials", "cuts", ...COLUMNS.map(([name]) => name)];
  const body = [...rows(r.results)].sort(([a], [b]) => rank(a) - rank(b)).map(([k, v]) => [k, String(v.trials), String(v.cuts), ...v.counts.map(String)]);
  const total = ["total", String(r.results.length), String(r.results.reduce((n, t) => n + t.cuts.length, 0)),
    ...COLUMNS.map(([, k]) => String(r.results.filter((t) => t.problems[k].length).length))];
  const all = [header, ...body, total];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), ...body.map(line), line(total)].join("\n");
}

/** One line per trial: what was served, where it was cut, how long it took, what went wrong. */
export function trialLine(t: TrialResult): string {
  const problems = COLUMNS.flatMap(([name, k]) => t.problems[k].map((p) => `${name}: ${p}`));
  return `trial ${t.index} ${t.version} ${t.plan.kind} aim=${t.plan.aim ?? "uncut"} cuts=[${t.cuts.join(",")}] boots=${t.boots} ${(t.ms / 1000).toFixed(1)}s ${problems.length ? "FAIL " + problems.join("; ") : "ok"}`;
}
