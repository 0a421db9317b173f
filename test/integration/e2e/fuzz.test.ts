// A short run of the hostile-input fuzzer (scripts/fuzz for longer ones): a fixed seed, a
// fixed time; every finding names its seed and iteration (scripts/fuzz --seed S --iteration I).
import { expect, test } from "bun:test";
import { fuzz } from "../../helpers/fuzz.ts";

const SECONDS = 25;
const SEED = 20261201;

test(`fuzz: ${SECONDS} s of mutated manifests, job documents, journals, approvals and histories (seed ${SEED})`, async () => {
  const s = await fuzz({ seconds: SECONDS, seed: SEED });
  console.log(`fuzz: seed ${s.seed}, ${s.iterations} iterations ${JSON.stringify(s.byTarget)}, ${s.runs} otter runs, ${s.findings.length} findings`);
  expect(s.findings).toEqual([]);
  expect(Object.values(s.byTarget).every((n) => n > 0)).toBe(true);
}, (SECONDS + 60) * 1000);
