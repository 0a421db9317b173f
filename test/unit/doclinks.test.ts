// The docs' relative links: each one leads to a file (or folder) of the repository, each
// #anchor to a heading of its target as GitHub names it, and every doc is reachable from
// README.md, so nothing moved out of README is lost to a reader.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const within = (dir: string) => (existsSync(join(ROOT, dir)) ? readdirSync(join(ROOT, dir)) : []);
const DOCS = [
  "README.md", "ARCHITECTURE.md", "SECURITY.md",
  ...within("docs").filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
  ...within("examples").map((d) => `examples/${d}/README.md`).filter((f) => existsSync(join(ROOT, f))),
];

/** Markdown without fenced blocks and code spans, where a [x](y) is no link. */
const prose = (md: string) => md.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, text] of md.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = text!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*_]{2,}|`/g, "").toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}_\- ]/gu, "").replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** The relative links of a doc: [text](target), targets without a scheme. */
function links(md: string): string[] {
  return [...prose(md).matchAll(/\]\(([^)\s]+)(?: +"[^"]*")?\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

test("anchors are GitHub's", () => {
  expect([...anchors("# A tour in ten lines\n## Reports (report_url)\n### A signer certificate (`[verify] ca`)\n## Exit codes\n## Exit codes\n```\n# not a heading\n```")])
    .toEqual(["a-tour-in-ten-lines", "reports-report_url", "a-signer-certificate-verify-ca", "exit-codes", "exit-codes-1"]);
  expect(links("[a](docs/x.md#y) `[b](no.md)` [c](https://e.org) [d](#here)\n```\n[e](no.md)\n```")).toEqual(["docs/x.md#y", "#here"]);
});

test.each(DOCS)("%s: every relative link resolves, and every anchor is a heading there", (doc) => {
  const broken: string[] = [];
  for (const link of links(readFileSync(join(ROOT, doc), "utf8"))) {
    const [path, anchor] = link.split("#") as [string, string | undefined];
    const target = path ? normalize(join(dirname(doc), decodeURI(path))) : doc;
    if (target.startsWith("..") || !existsSync(join(ROOT, target))) {
      broken.push(`${link}: no ${target}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (statSync(join(ROOT, target)).isDirectory() || !target.endsWith(".md")) broken.push(`${link}: an anchor into ${target}, which has no headings`);
    else if (!anchors(readFileSync(join(ROOT, target), "utf8")).has(anchor)) broken.push(`${link}: ${target} has no heading #${anchor}`);
  }
  expect(broken).toEqual([]);
});

test("every doc is reachable from README.md", () => {
  const reached = new Set(["README.md"]);
  for (const doc of reached) {
    for (const link of links(readFileSync(join(ROOT, doc), "utf8"))) {
      const target = relative(ROOT, join(ROOT, dirname(doc), decodeURI(link.split("#")[0]!)));
      if (target.endsWith(".md") && existsSync(join(ROOT, target))) reached.add(target);
    }
  }
  expect(DOCS.filter((d) => !reached.has(d))).toEqual([]);
});
