// parseCli: every accepted form and every usage error, "did you mean" included.
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
    ["status --json, the flag before the command", ["--json", "status"], { command: "status", json: true }],
    ["a value that looks like an option", ["-c", "-odd.ini"], { config: "-odd.ini" }],
    ["plan --json", ["plan", "--json"], { command: "plan", json: true }],
    ["approve ID", ["approve", "3fa2b4c1"], { command: "approve", args: ["3fa2b4c1"] }],
    ["deny ID", ["deny", "00ff00ff", "-c", "a.ini"], { command: "deny", args: ["00ff00ff"], config: "a.ini" }],
    ["install's own --version V", ["install", "f.img", "--version", "2.0"], { command: "install", args: ["f.img"], options: { version: "2.0" } }],
    ["install -V is otter's version", ["install", "-V"], { command: "version" }],
    ["--version before install is otter's", ["--version", "install"], { command: "version" }],
    ["version", ["version"], { command: "version" }],
    ["help", ["help"], { command: "help" }],
    ["help COMMAND", ["help", "install"], { command: "help", args: ["install"] }],
    ["COMMAND --help, its arguments missing", ["install", "--help"], { command: "help", args: ["install"] }],
    ["--help COMMAND", ["--help", "plan"], { command: "help", args: ["plan"] }],
    ["-h on a command with a bad argument still helps", ["approve", "-h"], { command: "help", args: ["approve"] }],
    ["completion bash", ["completion", "bash"], { command: "completion", args: ["bash"] }],
  ])("%s", (_what, argv, want) => {
    expect(parseCli(argv)).toEqual({ ...BASE, ...want });
  });

  test.each([
    ["an unknown command", ["frobnicate"], 'unknown command "frobnicate"; commands: run, check-config, status, install, plan, approve, deny, help, completion, version'],
    ["a mistyped command", ["stauts"], 'unknown command "stauts"; did you mean status?'],
    ["a mistyped short command", ["ru"], 'unknown command "ru"; did you mean run?'],
    ["a mistyped check-config", ["chek-config"], 'unknown command "chek-config"; did you mean check-config?'],
    ["an unknown option", ["--frob"], "unknown option --frob; see otter --help"],
    ["an unknown option of a command", ["status", "--frob"], "unknown option --frob for status; see otter status --help"],
    ["a mistyped option", ["check-config", "--strcit"], "unknown option --strcit for check-config; did you mean --strict?"],
    ["a mistyped option before the command", ["--onec"], "unknown option --onec; did you mean --once?"],
    ["a mistyped install option", ["install", "f", "--sha265", "x"], "unknown option --sha265 for install; did you mean --sha256?"],
    ["a mistyped shared option", ["plan", "--confg", "a.ini"], "unknown option --confg for plan; did you mean --config?"],
    ["another command's option", ["status", "--strict"], "--strict is not an option of status; it goes with check-config"],
    ["another command's option before it", ["--once", "plan"], "--once is not an option of plan; it goes with run"],
    ["a command's option with no command", ["--json"], "--json is not an option of run (no command: run); it goes with status, plan"],
    ["-c for a command without a config", ["version", "-c", "a.ini"], "-c is not an option of version; it goes with run, check-config, status, install, plan, approve, deny"],
    ["a value for a flag", ["--once=yes"], '--once takes no value, got "yes"'],
    ["help for an unknown command", ["help", "instal"], 'otter help: unknown command "instal"; did you mean install?'],
    ["completion for another shell", ["completion", "fish"], 'otter completion: unknown shell "fish"; one of: bash'],
    ["completion without a shell", ["completion"], "otter completion needs SHELL (bash); see otter completion --help"],
    ["install without a file", ["install", "--version", "1"], "otter install needs URL|PATH; see otter install --help"],
    ["install without --version", ["install", "f.img"], "otter install needs --version V: the version the file holds; the version hook must name it after the restart"],
    ["install with a bad --sha256", ["install", "f.img", "--version", "1", "--sha256", "abc"], '--sha256: expected 64 hex digits, got "abc"'],
    ["an unknown short option", ["-x"], "unknown option -x; see otter --help"],
    ["combined short flags", ["-vq"], "unknown option -vq; see otter --help"],
    ["a missing value", ["-c"], "-c needs a value (FILE); see otter --help"],
    ["an empty value", ["--config="], "--config needs a value (FILE); see otter --help"],
    ["a missing -t value", ["run", "-t"], "-t needs a value (THING); see otter run --help"],
    ["-v with -q", ["-v", "-q"], "-v and -q contradict each other; pick one"],
    ["--jitter without --once", ["run", "--jitter"], "--jitter goes with --once (a daemon always waits a random part of check_jitter before its first check)"],
    ["an extra argument", ["check-config", "extra"], 'unexpected argument "extra" for check-config; see otter check-config --help'],
    ["two commands", ["run", "check-config"], 'unexpected argument "check-config" for run; see otter run --help'],
    ["approve without an id", ["approve"], 'otter approve needs an approval id (8 hex digits, e.g. 3fa2b4c1), got ""; otter status lists pending ones'],
    ["deny with a bad id", ["deny", "XYZ"], 'otter deny needs an approval id (8 hex digits, e.g. 3fa2b4c1), got "XYZ"; otter status lists pending ones'],
    ["plan with an argument", ["plan", "now"], 'unexpected argument "now" for plan; see otter plan --help'],
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
