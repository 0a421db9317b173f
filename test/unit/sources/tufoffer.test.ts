import { describe, expect, test } from "bun:test";
import type { Offer } from "../../../src/sources/source.ts";
import { targetChange } from "../../../src/sources/tufoffer.ts";

const SHA = "a".repeat(64);
const WAS: Offer = { id: `release:1.0.0:${SHA.slice(0, 12)}`, source: "tuf", channel: "release", version: "1.0.0", url: "https://x/targets/release/image", size: 5, sha256: SHA, meta: "slot=b", force: false };

describe("targetChange: the target a job installs must be signed now as it was offered", () => {
  const rows: [string, Offer | undefined, RegExp | undefined][] = [
    ["the same target: nothing", { ...WAS }, undefined],
    ["the same claims from another targets_url: nothing (the URL is otter's, not signed)", { ...WAS, url: "https://mirror/targets/release/image" }, undefined],
    ["no longer named", undefined, /^the repository no longer names release\/image$/],
    ["a newer release", { ...WAS, id: "release:1.1.0:bbbbbbbbbbbb", version: "1.1.0", sha256: "b".repeat(64), size: 7 }, /^release\/image is signed now as version 1\.1\.0 \(release:1\.1\.0:bbbbbbbbbbbb\), not as this job's 1\.0\.0 \(release:1\.0\.0:aaaaaaaaaaaa\): version, sha256, size changed$/],
    ["the same file, another meta", { ...WAS, meta: "slot=a" }, /: meta changed$/],
    ["the same file, now for other boards", { ...WAS, boards: ["imx8"] }, /: boards changed$/],
    ["the same file, now forced", { ...WAS, force: true }, /: force changed$/],
  ];
  for (const [name, now, want] of rows) {
    test(name, () => {
      const got = targetChange(WAS, now, "release/image");
      if (want) expect(got).toMatch(want);
      else expect(got).toBeUndefined();
    });
  }
});
