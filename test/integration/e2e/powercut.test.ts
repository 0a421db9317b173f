// Real power cuts (issue 12), the short form: the built binary in a qemu guest, power cut
// once in download, verify and install of a plain file and of an archive. Each update must
// end installed with the served bytes, reported once, with an intact journal.
// scripts/powercut is the long form.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { runTrials, type RunResult, type TrialPlan } from "../../../scripts/powercut-lib/trials.ts";
import { table, trialLine } from "../../../scripts/powercut-lib/table.ts";
import { ROOT } from "../../../scripts/powercut-lib/guest.ts";
import { OTTER } from "../../helpers/rig.ts";

const PLANS: TrialPlan[] = (["download", "verify", "install"] as const).flatMap((aim) => (["plain", "archive"] as const).map((kind) => ({ kind, aim })));

/** Why the guest cannot run here, after scripts/setup-powercut had its chance; undefined when it can. */
function unavailable(): string | undefined {
  const setup = Bun.spawnSync([join(ROOT, "scripts/setup-powercut")], { stdout: "pipe", stderr: "pipe" });
  if (setup.exitCode !== 0) return `scripts/setup-powercut failed: ${setup.stderr.toString().trim().split("\n").at(-1)}`;
  if (!Bun.which("qemu-system-x86_64")) return "qemu-system-x86_64 is not installed";
  if (!existsSync(join(ROOT, ".cache/powercut/debs/root/boot"))) return "Debian's kernel could not be fetched";
  return undefined;
}

const why = unavailable();
if (why) console.log(`skip: powercut: ${why}`);

describe.skipIf(why !== undefined)("real power cuts under qemu", () => {
  let run: RunResult;
  const seed = Number(process.env.POWERCUT_SEED ?? Math.floor(Math.random() * 2 ** 31));

  beforeAll(async () => {
    run = await runTrials({ binary: resolve(OTTER), plans: PLANS, seed, onTrial: (t) => console.log(`powercut: ${trialLine(t)}`) });
    console.log(`${table(run)}\npowercut: seed ${seed} (POWERCUT_SEED=${seed} replays it), logs in ${run.workDir}`);
  }, 900_000);

  test("the uncut updates install and report", () => {
    const uncut = run.results.filter((t) => !t.plan.aim);
    expect(uncut.map(trialLine).filter((l) => !l.endsWith(" ok"))).toEqual([]);
  });

  for (const [i, plan] of PLANS.entries()) {
    test(`${plan.kind === "plain" ? "a plain file" : "an archive"} update survives a power cut aimed at ${plan.aim}`, () => {
      const t = run.results.filter((r) => r.plan.aim)[i]!;
      expect(t.plan).toEqual(plan);
      expect(t.cuts.length).toBe(1);
      // A cut aimed at install always lands in it (the hook's last line is the fallback);
      // on a busy host download and verify (~40 ms for a plain file) may end first.
      if (plan.aim === "install") expect(t.cuts).toEqual(["install"]);
      expect(trialLine(t)).toEndWith(" ok");
    });
  }
});
