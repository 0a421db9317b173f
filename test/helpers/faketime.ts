// A wall clock a test can step under the built otter: Debian's libfaketime preloaded, the
// offset read from a file the test rewrites while otter runs (FAKETIME_TIMESTAMP_FILE, not
// cached), the monotonic clock left alone. scripts/setup installs faketime.
import { readdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

/** libfaketime.so.1, wherever this machine's multiarch folder puts it; undefined if missing. */
export const LIBFAKETIME = readdirSync("/usr/lib").map((d) => join("/usr/lib", d, "faketime/libfaketime.so.1")).find((p) => existsSync(p));

export class FakeClock {
  readonly file: string;

  constructor(dir: string) {
    this.file = join(dir, "faketime");
    this.step("+0");
  }

  /** The wall clock is now the real one moved by `offset` ("-10d", "+2h", "+0"). */
  step(offset: string): void {
    writeFileSync(this.file, `${offset}\n`);
  }

  /** The environment to run otter with. */
  env(): Record<string, string> {
    if (!LIBFAKETIME) throw new Error("libfaketime missing: run scripts/setup");
    return { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: this.file, FAKETIME_NO_CACHE: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" };
  }
}
