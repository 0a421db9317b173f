// scripts/powercut [N] [--seed S] [--aim PHASE[,PHASE...]|all] [--kind plain|archive|both] [--size MiB]
// N trials of real power cuts under qemu (see scripts/powercut-lib/trials.ts), after one
// uncut trial per kind; prints one line per trial, the per-phase table and the seed, and
// exits 1 when any trial found a problem.
import { resolve } from "node:path";
import { AIMS, runTrials, failures, type Aim, type TrialPlan } from "./powercut-lib/trials.ts";
import type { Kind } from "./powercut-lib/server.ts";
import { table, trialLine } from "./powercut-lib/table.ts";

function usage(msg: string): never {
  console.error(`powercut: ${msg}\nusage: scripts/powercut [N] [--seed S] [--aim ${AIMS.join("|")}|all[,...]] [--kind plain|archive|both] [--size MiB]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let n = 10;
let seed = Math.floor(Math.random() * 2 ** 31);
let aims: Aim[] = ["random"];
let kinds: Kind[] = ["plain", "archive"];
let size = 16;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const value = () => args[++i] ?? usage(`${a} needs a value`);
  if (a === "--seed") seed = Number(value());
  else if (a === "--aim") {
    const v = value();
    aims = (v === "all" ? AIMS.join(",") : v).split(",") as Aim[];
    const bad = aims.find((x) => !AIMS.includes(x));
    if (bad) usage(`--aim: expected ${AIMS.join(", ")} or all, got "${bad}"`);
  } else if (a === "--kind") {
    const v = value();
    kinds = v === "both" ? ["plain", "archive"] : v === "plain" || v === "archive" ? [v] : usage(`--kind: expected plain, archive or both, got "${v}"`);
  } else if (a === "--size") size = Number(value());
  else if (/^\d+$/.test(a)) n = Number(a);
  else usage(`unknown argument "${a}"`);
}
if (!Number.isInteger(seed)) usage("--seed: expected an integer");
if (!(size > 0)) usage("--size: expected MiB > 0");

// Trial i takes kind i mod kinds and aim (i div kinds) mod aims, so every pair comes up.
const plans: TrialPlan[] = Array.from({ length: n }, (_, i) => ({ kind: kinds[i % kinds.length]!, aim: aims[Math.floor(i / kinds.length) % aims.length]! }));
console.log(`powercut: seed ${seed}, ${n} trials (+${kinds.length} uncut), ${size} MiB updates, aims ${aims.join(",")}`);
const started = Date.now();
const r = await runTrials({
  binary: resolve(import.meta.dir, "../dist/otter-linux-x64"), plans, seed, size: size * 1024 * 1024,
  onTrial: (t) => console.log(trialLine(t)), log: (l) => console.log(l),
});
const secs = (Date.now() - started) / 1000;
const cut = r.results.filter((t) => t.plan.aim);
console.log(`\n${table(r)}\n`);
console.log(`seed ${r.seed} · accel ${r.accel} · ${r.results.reduce((s, t) => s + t.cuts.length, 0)} cuts in ${cut.length} trials · `
  + `uncut boot+update ${Object.entries(r.uncutMs).map(([k, ms]) => `${k} ${(ms! / 1000).toFixed(1)} s`).join(", ")} · `
  + `${(cut.reduce((s, t) => s + t.ms, 0) / Math.max(1, cut.length) / 1000).toFixed(1)} s per cut trial · ${(secs / 60).toFixed(1)} min in all`);
console.log(`logs: ${r.workDir} · replay: scripts/powercut ${n} --seed ${seed}${aims.join() === "random" ? "" : ` --aim ${aims.join() === AIMS.join() ? "all" : aims.join(",")}`}${kinds.length === 2 ? "" : ` --kind ${kinds[0]}`}${size === 16 ? "" : ` --size ${size}`}`);
process.exit(failures(r).length ? 1 : 0);
