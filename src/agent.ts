// Placeholder removed when the pipeline lands (issue 3).
import type { Config } from "./config.ts";
import { EXIT, type ExitCode } from "./errors.ts";
export async function runAgent(_config: Config, _opts: { once: boolean }): Promise<ExitCode> {
  return EXIT.ok;
}
