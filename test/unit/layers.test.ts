// The layer rule of ARCHITECTURE.md, from the folders: a module imports only from its own
// folder or a folder below it, and no chain of imports (types included) comes back to
// where it started. A new folder must be placed in LAYERS before anything may import it.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");
/** Lowest first: each may import only itself and what comes before it. */
const LAYERS = ["base", "config", "transfer", "sources", "policy", "agent", "cli"];

const modules = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));

/** Relative imports of a module, static, dynamic and type-only, as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  const specs = [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]!);
  return specs.map((s) => relative(SRC, resolve(SRC, dirname(file), s)));
}

const layerOf = (file: string) => LAYERS.indexOf(file.split("/")[0]!);

test("every module lives in a layer folder", () => {
  expect(modules.filter((f) => layerOf(f) < 0)).toEqual([]);
});

test("no module imports from a higher layer", () => {
  const upward = modules.flatMap((f) =>
    importsOf(f)
      .filter((to) => to !== "../package.json" && !(layerOf(to) >= 0 && layerOf(to) <= layerOf(f)))
      .map((to) => `${f} -> ${to}`));
  expect(upward).toEqual([]);
});

test("no import cycle", () => {
  const graph = new Map(modules.map((f) => [f, importsOf(f).filter((to) => to.endsWith(".ts"))]));
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const walk = (f: string, path: string[]): void => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") return void cycles.push([...path.slice(path.indexOf(f)), f].join(" -> "));
    state.set(f, "open");
    for (const to of graph.get(f) ?? []) walk(to, [...path, f]);
    state.set(f, "done");
  };
  for (const f of modules) walk(f, []);
  expect(cycles).toEqual([]);
});
