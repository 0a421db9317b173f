// configProblems: what check-config refuses (can never work) and warns about (may be intended).
import { expect, test } from "bun:test";
import { configProblems } from "../../../src/config/checks.ts";
import { parseConfig } from "../../../src/config/config.ts";

const parse = (text: string) => configProblems(parseConfig(text, "/etc/otter/otter.ini", { env: {} }));
// A config as otter runs it: with an install hook (its absence is a problem of its own).
const problems = (text: string) => parse(text.includes("[hooks]\n") ? text.replace("[hooks]\n", "[hooks]\ninstall = /bin/true\n") : `${text}\n[hooks]\ninstall = /bin/true\n`);

test("the defaults, and channels that are all https and listed in priority, have none", () => {
  expect(problems("")).toEqual({ errors: [], warnings: [] });
  expect(problems("[channels]\nrelease = https://u/r.json\nnightly = https://u/n.json\n[policy]\nnew_overrides_old = nightly")).toEqual({ errors: [], warnings: [] });
});

test("no install hook is an error: otter run and otter install refuse such a config with this line", () => {
  expect(parse("").errors).toEqual(["otter.ini [hooks] install: not set; otter installs an update only through this hook; e.g. install = /usr/local/bin/otter-install"]);
});

test("allow_http lets an http:// channel work; a file:// channel needs no flag (the device's own file)", () => {
  expect(problems("[download]\nallow_http = true\n[channels]\nrelease = http://u/r.json").errors).toEqual([]);
  expect(problems("[channels]\nrelease = file:///r.json").errors).toEqual([]);
});

test("a CA alone is enough for require_signature", () => {
  const ca = `${import.meta.dir}/checks.test.ts`; // any readable file passes the schema's file check
  expect(problems(`[verify]\nrequire_signature = true\nca = ${ca}`).errors).toEqual([]);
});

test("each problem is one line naming the file, the key and the fix; unknown keys come along", () => {
  const p = problems("[hooks]\nretry_intervall = 5\n[verify]\nrequire_signature = yes\n[policy]\nmin_soak = 8d\nnew_overrides_old = beta\n[channels]\nbeta = http://u/b.json\n");
  expect(p.errors).toEqual([
    "otter.ini [channels] beta: http:// is refused unless [download] allow_http = true; set it, or use an https:// URL",
    "otter.ini [verify] require_signature: no [verify] public_key or ca to check a signature with, so every update is refused; set public_key (or ca)",
  ]);
  expect(p.warnings).toEqual([
    "otter.ini: unknown key [hooks] retry_intervall ignored; did you mean retry_interval?",
    "otter.ini [channels] beta: not in [policy] priority (release, weekly, nightly), so it ranks below every listed channel; add it to priority",
    "otter.ini [policy] min_soak: 192h is longer than test_period 168h, so every update waits min_soak even after the test period; make min_soak at most test_period",
  ]);
});

test("new_overrides_old without any channel (AWS mode) has no effect", () => {
  expect(problems("[policy]\nnew_overrides_old = nightly").warnings).toEqual([
    'otter.ini [policy] new_overrides_old: "nightly" is not a channel ([channels] lists none), so it has no effect; name a channel from [channels]',
  ]);
});

test("a typo far from every key gets no guess", () => {
  expect(problems("[hooks]\nfrobnicate = 1").warnings).toEqual(["otter.ini: unknown key [hooks] frobnicate ignored"]);
});
