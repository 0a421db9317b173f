// What `otter check-config` finds in a config that parses but cannot work as written: errors
// for what can never work, warnings for what may be intended. Pure; every line names the key
// and the fix. Every command logs them at start; check-config exits 2 on an error (and, with
// --strict, on a warning too).
import { basename } from "node:path";
import type { Config } from "./config.ts";

export interface Problems {
  errors: string[];
  warnings: string[];
}

/**
 * Why otter cannot run a job with this config, if it cannot: without an install hook an
 * update would end "SUCCEEDED" with nothing installed (Upparat's README makes the hook
 * mandatory). check-config reports it; otter run and otter install refuse to start with it.
 */
export function installHookProblem(config: Config): string | undefined {
  if (config.hooks.install) return undefined;
  return `${basename(config.file)} [hooks] install: not set; otter installs an update only through this hook; e.g. install = /usr/local/bin/otter-install`;
}

const hours = (seconds: number) => `${+(seconds / 3600).toFixed(2)}h`;

/** The problems of a loaded config, unknown keys and sections (config.warnings) included. */
export function configProblems(config: Config): Problems {
  const file = basename(config.file);
  const errors: string[] = [];
  const warnings = [...config.warnings];
  const hook = installHookProblem(config);
  if (hook) errors.push(hook);
  const channels = Object.keys(config.channels);
  const { download: d, verify: v, policy: p } = config;
  for (const [name, url] of Object.entries(config.channels)) {
    if (/^(tuf\+)?http:/.test(url) && !d.allow_http) {
      errors.push(`${file} [channels] ${name}: http:// is refused unless [download] allow_http = true; set it, or use an https:// URL`);
    }
    if (!p.priority.includes(name)) {
      warnings.push(`${file} [channels] ${name}: not in [policy] priority (${p.priority.join(", ")}), so it ranks below every listed channel; add it to priority`);
    }
  }
  if (v.require_signature && !v.public_key && !v.ca) {
    errors.push(`${file} [verify] require_signature: no [verify] public_key or ca to check a signature with, so every update is refused; set public_key (or ca)`);
  }
  for (const name of p.new_overrides_old.filter((c) => !channels.includes(c))) {
    const known = channels.length ? `[channels] lists ${channels.join(", ")}` : "[channels] lists none";
    warnings.push(`${file} [policy] new_overrides_old: "${name}" is not a channel (${known}), so it has no effect; name a channel from [channels]`);
  }
  if (p.min_soak > p.test_period) {
    warnings.push(`${file} [policy] min_soak: ${hours(p.min_soak)} is longer than test_period ${hours(p.test_period)}, so every update waits min_soak even after the test period; make min_soak at most test_period`);
  }
  return { errors, warnings };
}
