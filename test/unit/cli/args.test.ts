// parseCli: every accepted form and every usage error.
import { describe, expect, test } from "bun:test";
import { parseCli, type Cli } from "../../../src/cli/args.ts";

const BASE: Cli = { command: "run", verbose: false, quiet: false, once: false, jitter: false, jsonLogs: false, json: false, strict: false, args: [], options: {} };

describe("parseCli", () => {
  test.each<[string, string[], Partial<Cli>]>([
    ["nothing runs the daemon", [], {}],
    ["run --once", ["run", "--once"], { once: true }],
    ["--once --jitter", ["--once", "--jitter"], { once: true, jitter: true }],
    ["check-config --strict", ["check-config", "--strict"], { command: "check-config", strict: true }],
    ["flags without a command", ["-v", "--once", "--json-logs"], { verbose: true, once: true, jsonLogs: true }],
    ["-q", ["-q"], { quiet: true }],
    ["--quiet", ["--quiet"], { quiet: true }],
    ["--verbose", ["--verbose"], { verbose: true }],
    ["-c FILE", ["-c", "/etc/otter.ini"], { config: "/etc/otter.ini" }],
    ["--config FILE", ["--config", "a.ini"], { config: "a.ini" }],
    ["--config=FILE", ["--config=a=b.ini"], { config: "a=b.ini" }],
    ["Upparat's --config-file", ["--config-file", "u.conf"], { config: "u.conf" }],
    ["-t THING", ["-t", "dev-1"], { thingName: "dev-1" }],
    ["--thing-name=THING", ["--thing-name=dev-2"], { thingName: "dev-2" }],
    ["options before and after the command", ["-c", "x.ini", "check-config", "-t", "t"], { command: "check-config", config: "x.ini", thingName: "t" }],
    ["--version", ["--version"], { command: "version" }],
    ["-V", ["-V"], { command: "version" }],
    ["--help", ["--help"], { command: "help" }],
    ["-h", ["-h"], { command: "help" }],
    ["--json", ["--json"], { json: true }],
    ["a value that looks like an option", ["-c", "-odd.ini"], { config: "-odd.ini" }],
    ["plan --json", ["plan", "--json"], { command: "plan", json: true }],
    ["approve ID", ["approve", "3fa2b4c1"], { command: "approve", args: ["3fa2b4c1"] }],
    ["deny ID", ["deny", "00ff00ff", "-c", "a.ini"], { command: "deny", args: ["00ff00ff"], config: "a.ini" }],
  ])("%s", (_what, argv, want) => {
    expect(parseCli(argv)).toEqual({ ...BASE, ...want });
  });

  test.each([
    ["an unknown command", ["frobnicate"], 'unknown command "frobnicate"; commands: run, check-config, status, install, plan, approve, deny'],
    ["an unknown option", ["--frob"], "unknown option --frob; see otter --help"],
    ["an unknown short option", ["-x"], "unknown option -x; see otter --help"],
    ["combined short flags", ["-vq"], "unknown option -vq; see otter --help"],
    ["a missing value", ["-c"], "-c needs a value; see otter --help"],
    ["an empty value", ["--config="], "--config needs a value; see otter --help"],
    ["a missing -t value", ["run", "-t"], "-t needs a value; see otter --help"],
    ["-v with -q", ["-v", "-q"], "-v and -q contradict each other; pick one"],
    ["--jitter without --once", ["run", "--jitter"], "--jitter goes with --once (a daemon always waits a random part of check_jitter before its first check)"],
    ["an extra argument", ["check-config", "extra"], 'unexpected argument "extra" for check-config; see otter --help'],
    ["two commands", ["run", "check-config"], 'unexpected argument "check-config" for run; see otter --help'],
    ["approve without an id", ["approve"], 'otter approve needs an approval id (8 hex digits, e.g. 3fa2b4c1), got ""; otter status lists pending ones'],
    ["deny with a bad id", ["deny", "XYZ"], 'otter deny needs an approval id (8 hex digits, e.g. 3fa2b4c1), got "XYZ"; otter status lists pending ones'],
    ["plan with an argument", ["plan", "now"], 'unexpected argument "now" for plan; see otter --help'],
  ])("%s is a usage error", (_what, argv, message) => {
    let err: unknown;
    try {
      parseCli(argv);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "USAGE", message });
  });
});
