// Picks the job source the config asks for.
import { sourceKind, type Config } from "../config/config.ts";
import { createManifestSource } from "./manifest.ts";
import type { Source } from "./source.ts";

export async function createSource(config: Config): Promise<Source> {
  if (sourceKind(config) === "manifest") return createManifestSource(config);
  const { createAwsJobsSource } = await import("./awsjobs.ts");
  return createAwsJobsSource(config);
}
