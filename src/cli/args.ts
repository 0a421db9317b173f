// Command-line parsing: pure, so it is tested without spawning anything.
import { UsageError } from "../base/errors.ts";

export const COMMANDS = ["run", "check-config", "status", "install", "plan", "approve", "deny"] as const;
export type Command = (typeof COMMANDS)[number] | "version" | "help";

export interface Cli {
  command: Command;
  config?: string;
  verbose: boolean;
  quiet: boolean;
  once: boolean;
  /** --once: wait a random part of check_jitter before the check, as a daemon does */
  jitter: boolean;
  jsonLogs: boolean;
  json: boolean;
  /** check-config: a warning is an error too */
  strict: boolean;
  thingName?: string;
  /** positional arguments after the command */
  args: string[];
  /** --name value options a command takes (e.g. install --sha256) */
  options: Record<string, string>;
}

// Options that take a value, per command; shared ones are listed under "*".
// --config-file is Upparat's spelling, kept so its service files work unchanged.
const VALUE_OPTIONS: Record<string, readonly string[]> = {
  "*": ["-c", "--config", "--config-file", "-t", "--thing-name"],
  install: ["--sha256", "--version", "--signature", "--certificate"],
};

// Positional arguments each command takes.
const MAX_ARGS: Record<Command, number> = { run: 0, "check-config": 0, status: 0, install: 1, plan: 0, approve: 1, deny: 1, version: 0, help: 0 };

export const HELP = `otter — over-the-air update agent

Usage:
  otter [run] [-c FILE] [-v|-q] [--once [--jitter]] [--json-logs] [-t THING]
  otter check-config [-c FILE] [--strict]
  otter status [-c FILE] [--json]
  otter install URL|PATH --version V [--sha256 HEX] [--signature FILE|BASE64 [--certificate FILE|PEM]] [-c FILE]
  otter plan [-c FILE] [--json]
  otter approve ID | otter deny ID [-c FILE]
  otter --version | --help

Commands:
  run            check for updates and apply them (default); a daemon unless --once
  check-config   validate the config and print the effective values, secrets masked; exit 2
                 on what can never work (--strict: on a warning too)
  status         lock holder, current job and phase, reports waiting, last results
  install        run the update pipeline on a file given by hand (USB stick, laptop); while
                 another otter holds the lock, queue it as that otter's next job
  plan           ask every source once and print what the policy decides, and why; changes nothing
  approve, deny  approve or deny a pending update by its id (otter status lists them)

Options:
  -c, --config FILE   config file (default $OTTER_CONFIG, then /etc/otter/otter.ini);
                      Upparat's --config-file works too
  -t, --thing-name T  AWS IoT thing name (overrides [broker] thing_name)
  -v, --verbose       log DEBUG and up
  -q, --quiet         log ERROR only
  --once              check once, run what is due, exit with its code
  --jitter            with --once: first wait a random part of check_jitter (a daemon always does)
  --json-logs         log JSON lines instead of text
  --json              machine-readable output (status, plan)
  --strict            check-config: a warning (an unknown key ...) exits 2 too

Exit codes: 0 ok or nothing to do, 1 update failed, 2 usage/config error or lock held,
3 retry later (postponed, waiting for a window, soak or approval), 4 restart requested (run again after the reboot).
`;

/** Parse argv (without node/bun and the script). Throws UsageError naming the bad word. */
export function parseCli(argv: readonly string[]): Cli {
  const cli: Cli = { command: "run", verbose: false, quiet: false, once: false, jitter: false, jsonLogs: false, json: false, strict: false, args: [], options: {} };
  let commandSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    const [flag, inline] = word.startsWith("--") && word.includes("=") ? [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)] : [word, undefined];
    const takesValue = [...VALUE_OPTIONS["*"]!, ...(VALUE_OPTIONS[cli.command] ?? [])].includes(flag);
    if (takesValue) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === "") throw new UsageError(`${flag} needs a value; see otter --help`);
      if (flag === "-c" || flag === "--config" || flag === "--config-file") cli.config = value;
      else if (flag === "-t" || flag === "--thing-name") cli.thingName = value;
      else cli.options[flag.replace(/^--/, "")] = value;
      continue;
    }
    switch (flag) {
      case "-v": case "--verbose": cli.verbose = true; continue;
      case "-q": case "--quiet": cli.quiet = true; continue;
      case "--once": cli.once = true; continue;
      case "--jitter": cli.jitter = true; continue;
      case "--json-logs": cli.jsonLogs = true; continue;
      case "--json": cli.json = true; continue;
      case "--strict": cli.strict = true; continue;
      case "-V": case "--version": if (!commandSeen) cli.command = "version"; commandSeen = true; continue;
      case "-h": case "--help": cli.command = "help"; commandSeen = true; continue;
    }
    if (word.startsWith("-")) throw new UsageError(`unknown option ${word}; see otter --help`);
    if (!commandSeen) {
      if (!(COMMANDS as readonly string[]).includes(word)) throw new UsageError(`unknown command "${word}"; commands: ${COMMANDS.join(", ")}`);
      cli.command = word as Command;
      commandSeen = true;
      continue;
    }
    if (cli.args.length >= MAX_ARGS[cli.command]) throw new UsageError(`unexpected argument "${word}" for ${cli.command}; see otter --help`);
    cli.args.push(word);
  }
  if (cli.verbose && cli.quiet) throw new UsageError("-v and -q contradict each other; pick one");
  if (cli.jitter && !cli.once) throw new UsageError("--jitter goes with --once (a daemon always waits a random part of check_jitter before its first check)");
  if ((cli.command === "approve" || cli.command === "deny") && !/^[0-9a-f]{8}$/.test(cli.args[0] ?? "")) {
    throw new UsageError(`otter ${cli.command} needs an approval id (8 hex digits, e.g. 3fa2b4c1), got ${JSON.stringify(cli.args[0] ?? "")}; otter status lists pending ones`);
  }
  if (cli.command === "install") {
    if (cli.args.length !== 1) throw new UsageError("otter install needs the URL or PATH of the file; see otter --help");
    if (!cli.options.version) throw new UsageError("otter install needs --version V (the version hook confirms it after the restart)");
    if (cli.options.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(cli.options.sha256)) throw new UsageError(`--sha256: expected 64 hex digits, got "${cli.options.sha256}"`);
  }
  return cli;
}
