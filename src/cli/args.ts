// Command-line parsing from the table in commands.ts: pure, so it is tested without
// spawning anything. A mistake is a UsageError of one line, with the word meant when a
// command or option is a typo away from a known one.
import { UsageError } from "../base/errors.ts";
import { nearest } from "../base/nearest.ts";
import { COMMANDS, FLAGS, commandNamed, flagsOf, spellings, spellingsIn, takes, type Command, type CommandSpec, type Flag } from "./commands.ts";

export type { Command } from "./commands.ts";

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

const DEFAULT = (COMMANDS as readonly CommandSpec[]).find((c) => c.default)!;
const NAMES = COMMANDS.map((c) => c.name);

// A typo is an edit per 3 letters from what was meant (dashes not counted), at least one:
// "ru" is run, "fish" is no bash.
const meant = (word: string, known: readonly string[]) => nearest(word, known, Math.max(1, Math.floor(word.replace(/^-+/, "").length / 3)));

function unknownCommand(word: string): UsageError {
  const near = meant(word, NAMES);
  return new UsageError(near ? `unknown command "${word}"; did you mean ${near}?` : `unknown command "${word}"; commands: ${NAMES.join(", ")}`);
}

const owners = (flag: Flag) => (COMMANDS as readonly CommandSpec[]).filter((c) => takes(c, flag)).map((c) => c.name);

function notFor(word: string, flag: Flag, command: CommandSpec, named: boolean): UsageError {
  return new UsageError(`${word} is not an option of ${command.name}${named ? "" : ` (no command: ${command.name})`}; it goes with ${owners(flag).join(", ")}`);
}

// An option of another command says whose it is; other long options are suggested from
// those the command takes; a single letter is no typo of anything.
function unknownOption(word: string, command: CommandSpec | undefined): UsageError {
  const elsewhere = command && FLAGS.find((f) => spellings(f).includes(word));
  if (elsewhere) return notFor(word, elsewhere, command, true);
  const longs = (command ? flagsOf(command) : FLAGS).flatMap(spellings).filter((s) => s.startsWith("--"));
  const near = word.startsWith("--") ? meant(word, longs) : undefined;
  const help = command ? `otter ${command.name} --help` : "otter --help";
  return new UsageError(`unknown option ${word}${command ? ` for ${command.name}` : ""}; ${near ? `did you mean ${near}?` : `see ${help}`}`);
}

// The flag `word` names: the command's own first (install's --version V), then the shared
// ones. Before the command is named, any command's flag without a value is taken and
// checked against the command once it is known.
function flagNamed(word: string, command: CommandSpec | undefined): Flag | undefined {
  if (command) return flagsOf(command).find((f) => spellingsIn(command, f).includes(word));
  return FLAGS.find((f) => (!f.value || !Array.isArray(f.for)) && spellings(f).includes(word));
}

/** Parse argv (without node/bun and the script). Throws UsageError naming the bad word. */
export function parseCli(argv: readonly string[]): Cli {
  const cli: Cli = { command: "run", verbose: false, quiet: false, once: false, jitter: false, jsonLogs: false, json: false, strict: false, args: [], options: {} };
  let command: CommandSpec | undefined;
  let help = false;
  let version = false;
  const early: [string, Flag][] = []; // flags given before the command
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word.startsWith("-") && word !== "-") {
      const eq = word.startsWith("--") ? word.indexOf("=") : -1;
      const [name, inline] = eq > 0 ? [word.slice(0, eq), word.slice(eq + 1)] : [word, undefined];
      const flag = flagNamed(name, command);
      if (!flag) throw unknownOption(name, command);
      if (!command) early.push([name, flag]);
      let value = "";
      if (flag.value) {
        value = inline ?? argv[++i] ?? "";
        if (value === "") throw new UsageError(`${name} needs a value (${flag.value}); see otter ${command ? `${command.name} ` : ""}--help`);
        const problem = flag.problem?.(value);
        if (problem) throw new UsageError(problem);
      } else if (inline !== undefined) {
        throw new UsageError(`${name} takes no value, got "${inline}"`);
      }
      if (flag.into === "help") help = true;
      else if (flag.into === "version") version = true;
      else if (flag.into === "option") cli.options[flag.name.slice(2)] = value;
      else if (flag.into === "config" || flag.into === "thingName") cli[flag.into] = value;
      else cli[flag.into] = true;
      continue;
    }
    if (!command) {
      command = commandNamed(word);
      if (!command) throw unknownCommand(word);
      continue;
    }
    if (cli.args.length >= command.args.length) throw new UsageError(`unexpected argument "${word}" for ${command.name}; see otter ${command.name} --help`);
    cli.args.push(word);
  }
  const spec = command ?? DEFAULT;
  for (const [word, flag] of early) {
    if (!takes(spec, flag)) throw notFor(word, flag, spec, command !== undefined);
  }
  if (help) return { ...cli, command: "help", args: command ? [command.name] : [] };
  if (version) return { ...cli, command: "version", args: [] };
  cli.command = spec.name as Command;
  if (cli.verbose && cli.quiet) throw new UsageError("-v and -q contradict each other; pick one");
  if (cli.jitter && !cli.once) throw new UsageError("--jitter goes with --once (a daemon always waits a random part of check_jitter before its first check)");
  spec.args.forEach((arg, n) => {
    const given = cli.args[n];
    if (given === undefined && arg.required && !arg.problem) throw new UsageError(`otter ${spec.name} needs ${arg.name}${arg.choices ? ` (${arg.choices.join(", ")})` : ""}; see otter ${spec.name} --help`);
    if (given !== undefined && arg.choices && !arg.choices.includes(given)) {
      const near = meant(given, arg.choices);
      throw new UsageError(`otter ${spec.name}: unknown ${arg.name.toLowerCase()} "${given}"; ${near ? `did you mean ${near}?` : `one of: ${arg.choices.join(", ")}`}`);
    }
    const problem = (given !== undefined || arg.required) && arg.problem?.(given);
    if (problem) throw new UsageError(problem);
  });
  for (const required of spec.requires ?? []) {
    const flag = flagsOf(spec).find((f) => f.name === required)!;
    if (cli.options[required.slice(2)] === undefined) throw new UsageError(`otter ${spec.name} needs ${required} ${flag.value}: ${flag.doc}`);
  }
  return cli;
}
