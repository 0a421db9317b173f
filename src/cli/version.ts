// `otter version` / `--version`: the package version on the first line (scripts/check-binary
// and the .deb's postinst read it there: a stripped binary prints Bun's own version instead),
// then what the build put in (scripts/build defines OTTER_COMMIT and OTTER_TARGET) and the
// runtime actually running it. A run from source says "dev" for what only a build knows.
import pkg from "../../package.json" with { type: "json" };

declare const OTTER_COMMIT: string | undefined;
declare const OTTER_TARGET: string | undefined;

export const VERSION: string = pkg.version;

/** What `otter --version` prints. */
export function versionText(): string {
  const commit = typeof OTTER_COMMIT === "string" ? OTTER_COMMIT : "dev";
  const target = typeof OTTER_TARGET === "string" ? OTTER_TARGET : "dev";
  const runtime = process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`;
  // The node bundle and a run from source run anywhere: say where.
  const where = target === "node" || target === "dev" ? ` (on ${process.platform}-${process.arch})` : "";
  return `otter ${VERSION}\ncommit: ${commit}\nruntime: ${runtime}\ntarget: ${target}${where}\n`;
}
