// Builds a test driver the two ways otter ships (Bun-compiled binary, esbuild bundle for
// node) and runs it, for tests of guarantees that depend on the runtime's spawn.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
const BIN = join(ROOT, "node_modules/.bin");

/** Run a command from the repo root; its stdout, or an Error with its stderr. */
export function sh(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Runtime name → argv prefix that runs the driver; build() makes both into `dir`. */
export function drivers(entry: string, dir: string): { runtimes: Record<string, string[]>; build(): void } {
  return {
    runtimes: { "bun binary": [join(dir, "driver")], "node bundle": ["node", join(dir, "driver.mjs")] },
    build() {
      sh(join(BIN, "bun"), ["build", entry, "--compile", "--outfile", join(dir, "driver")]);
      sh(join(BIN, "esbuild"), [entry, "--bundle", "--platform=node", "--format=esm", "--target=node20", "--log-level=warning", `--outfile=${join(dir, "driver.mjs")}`]);
    },
  };
}
