// The one table of otter's commands and options. Parsing (args.ts), `otter help` and
// `COMMAND --help` (help.ts), bash completion (completion.ts), the man page
// (scripts/manpage) and docs/command-line.md's block (scripts/config-doc) are all made from
// it, so a new option is added here and nowhere else.

/** Where a parsed option lands in `Cli`: a boolean, a top-level value, or `options[name]`. */
export type Into = "verbose" | "quiet" | "once" | "jitter" | "jsonLogs" | "json" | "strict" | "config" | "thingName" | "option" | "help" | "version";

export interface Flag {
  /** the long form, e.g. "--config" */
  name: `--${string}`;
  short?: `-${string}`;
  /** other spellings (Upparat's --config-file) */
  aliases?: readonly `--${string}`[];
  /** the value's placeholder, e.g. FILE: the option takes a value */
  value?: string;
  /** bash completes the value as a path */
  file?: true;
  /** which commands take it: every command, those that read the config, or a list */
  for: "every" | "config" | readonly Command[];
  into: Into;
  doc: string;
  /** what is wrong with a value, as a usage error message, if anything */
  problem?: (value: string) => string | undefined;
}

export interface Arg {
  /** placeholder in the synopsis, e.g. URL|PATH */
  name: string;
  required: boolean;
  /** the only words it may be (help's COMMAND, completion's SHELL) */
  choices?: readonly string[];
  /** bash completes it as a path */
  file?: true;
  /** what is wrong with the word given (or its absence), as a usage error message, if anything */
  problem?: (value: string | undefined) => string | undefined;
}

export interface CommandSpec {
  name: string;
  args: readonly Arg[];
  /** one line for the list of commands */
  summary: string;
  /** what `otter COMMAND --help` says about it */
  doc: string;
  /** it reads the config, so takes -c and -t */
  readsConfig: boolean;
  /** what otter runs when no command is named */
  default?: true;
  /** options it cannot run without */
  requires?: readonly `--${string}`[];
}

const approvalId = (command: string) => (id: string | undefined) =>
  /^[0-9a-f]{8}$/.test(id ?? "") ? undefined : `otter ${command} needs an approval id (8 hex digits, e.g. 3fa2b4c1), got ${JSON.stringify(id ?? "")}; otter status lists pending ones`;

export const SHELLS = ["bash"] as const;

export const COMMANDS = [
  {
    name: "run", args: [], readsConfig: true, default: true,
    summary: "check for updates and apply them (the default command); a daemon unless --once",
    doc: "Check the sources for updates and apply what the policy says is due. Without --once otter is the daemon: it checks every check_interval (after a random part of check_jitter), resumes a job the journal holds, and runs until SIGTERM; SIGHUP re-reads the config.",
  },
  {
    name: "check-config", args: [], readsConfig: true,
    summary: "validate the config and print the effective values, secrets masked",
    doc: "Read the config, print every effective value (defaults included, secrets masked) and warn about what may be a mistake, e.g. an unknown key. Exit 2 on what can never work; with --strict, on a warning too.",
  },
  {
    name: "status", args: [], readsConfig: true,
    summary: "lock holder, current job and phase, reports waiting, last results",
    doc: "Print what otter is doing, from its state files: who holds the lock, the job under way and its phase, reports waiting to be sent, approvals pending, a queued otter install, the last results. Safe while the daemon runs.",
  },
  {
    name: "install", args: [{ name: "URL|PATH", required: true, file: true }], readsConfig: true, requires: ["--version"],
    summary: "run the update pipeline on a file given by hand; queued while another otter holds the lock",
    doc: "Run the update pipeline on a file an operator has (a USB stick, a service laptop): a local path (or file:// URL) needs no allow_http. A missing file or a bad option is a usage error and nothing is reported. While another otter holds the lock, the request is queued and the daemon takes it as its next job.",
  },
  {
    name: "plan", args: [], readsConfig: true,
    summary: "ask every source once and print what the policy decides, and why; changes nothing",
    doc: "Ask every source once and print the policy's decision as the daemon would make it now, with every reason (soak, window, approval, board, downgrade). Takes no lock and writes nothing, so a running daemon is not disturbed.",
  },
  {
    name: "approve", args: [{ name: "ID", required: true, problem: approvalId("approve") }], readsConfig: true,
    summary: "approve a pending update by its id (otter status lists them)",
    doc: "Approve the update waiting for approval ID ([policy] approvals = true); the daemon installs it at its next decision. Works while the daemon runs.",
  },
  {
    name: "deny", args: [{ name: "ID", required: true, problem: approvalId("deny") }], readsConfig: true,
    summary: "deny a pending update by its id; it is never installed unless approved",
    doc: "Deny the update waiting for approval ID: it is never installed unless approved later, and a download of it under way is cancelled. Works while the daemon runs.",
  },
  {
    name: "help", args: [{ name: "COMMAND", required: false, get choices(): readonly string[] { return (COMMANDS as readonly CommandSpec[]).map((c) => c.name); } }], readsConfig: false,
    summary: "show the commands, or one command's arguments and options",
    doc: "Show otter's commands and the options every command takes, or, with COMMAND, that command's arguments and options (as otter COMMAND --help does).",
  },
  {
    name: "completion", args: [{ name: "SHELL", required: true, choices: SHELLS }], readsConfig: false,
    summary: "print a shell completion script (bash)",
    doc: "Print a completion script for SHELL (bash) on stdout. Load it with: source <(otter completion bash), or install it with: otter completion bash > /etc/bash_completion.d/otter",
  },
  {
    name: "version", args: [], readsConfig: false,
    summary: "print otter's version and build details",
    doc: "Print otter's version on the first line, then the git commit it was built from, the runtime (Bun or Node) and its version, and the build target (dev for each when run from source).",
  },
] as const satisfies readonly CommandSpec[];

export type Command = (typeof COMMANDS)[number]["name"];

export const FLAGS: readonly Flag[] = [
  { name: "--once", for: ["run"], into: "once", doc: "check once, run what is due, exit with its code" },
  { name: "--jitter", for: ["run"], into: "jitter", doc: "with --once: first wait a random part of check_jitter (a daemon always does)" },
  { name: "--strict", for: ["check-config"], into: "strict", doc: "a warning (an unknown key ...) exits 2 too" },
  { name: "--json", for: ["status", "plan"], into: "json", doc: "machine-readable output: one JSON document" },
  {
    name: "--version", value: "V", for: ["install"], into: "option", doc: "the version the file holds; the version hook must name it after the restart",
  },
  {
    name: "--sha256", value: "HEX", for: ["install"], into: "option", doc: "the file's SHA-256, checked before install",
    problem: (v) => (/^[0-9a-fA-F]{64}$/.test(v) ? undefined : `--sha256: expected 64 hex digits, got "${v}"`),
  },
  { name: "--signature", value: "FILE|BASE64", file: true, for: ["install"], into: "option", doc: "the file's signature: raw or base64 in a file, or base64 text" },
  { name: "--certificate", value: "FILE|PEM", file: true, for: ["install"], into: "option", doc: "the signer's certificate, checked against [verify] ca" },
  {
    name: "--config", short: "-c", aliases: ["--config-file"], value: "FILE", file: true, for: "config", into: "config",
    doc: "config file (default $OTTER_CONFIG, then /etc/otter/otter.ini); Upparat's --config-file works too",
  },
  { name: "--thing-name", short: "-t", value: "THING", for: "config", into: "thingName", doc: "AWS IoT thing name (overrides [broker] thing_name)" },
  { name: "--verbose", short: "-v", for: "every", into: "verbose", doc: "log DEBUG and up" },
  { name: "--quiet", short: "-q", for: "every", into: "quiet", doc: "log ERROR only" },
  { name: "--json-logs", for: "every", into: "jsonLogs", doc: "log JSON lines instead of text" },
  { name: "--help", short: "-h", for: "every", into: "help", doc: "show the help of otter, or of the command given" },
  { name: "--version", short: "-V", for: "every", into: "version", doc: "print otter's version and build details" },
];


/** The command named `name`, if there is one. */
export const commandNamed = (name: string): CommandSpec | undefined => (COMMANDS as readonly CommandSpec[]).find((c) => c.name === name);

/** Whether `command` takes `flag`. */
export function takes(command: CommandSpec, flag: Flag): boolean {
  return flag.for === "every" || (flag.for === "config" ? command.readsConfig : (flag.for as readonly string[]).includes(command.name));
}

/** The options `command` takes, its own first (install's --version V hides the global -V/--version's long form). */
export function flagsOf(command: CommandSpec): Flag[] {
  const own = FLAGS.filter((f) => Array.isArray(f.for) && takes(command, f));
  const shared = FLAGS.filter((f) => !Array.isArray(f.for) && takes(command, f));
  return [...own, ...shared];
}

/** Every spelling of a flag: --config, -c, --config-file. */
export const spellings = (f: Flag): string[] => [f.name, ...(f.short ? [f.short] : []), ...(f.aliases ?? [])];

/** Whether a shared flag's long form means the command's own option there (install's --version V; -V still means the global one). */
export const shadowed = (command: CommandSpec, flag: Flag): boolean =>
  !Array.isArray(flag.for) && flagsOf(command).some((f) => f !== flag && Array.isArray(f.for) && f.name === flag.name);

/** The spellings that mean `flag` in `command`. */
export const spellingsIn = (command: CommandSpec, flag: Flag): string[] => spellings(flag).filter((s) => !(s === flag.name && shadowed(command, flag)));
