// A writer for the atomic-write torture test: replaces FILE with {"n": N, "pad": ...} in a
// loop, N counting up from the file's own N, until it is killed. Run: bun atomicwriter.ts FILE
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../../src/base/atomic.ts";

const file = process.argv[2]!;
const pad = "x".repeat(256 * 1024); // big enough that a torn write would show
let n = 0;
try {
  n = JSON.parse(readFileSync(file, "utf8")).n;
} catch {
  // first run
}
for (;;) writeFileAtomic(file, JSON.stringify({ n: ++n, pad }));
