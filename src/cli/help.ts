// `otter help [COMMAND]` and `otter COMMAND --help`, made from the table in commands.ts;
// the man page is help2man's reading of the same text plus manCommands() below.
import { EXIT_DOC } from "../base/errors.ts";
import { COMMANDS, FLAGS, commandNamed, flagsOf, shadowed, type CommandSpec, type Flag } from "./commands.ts";

const WIDTH = 80;

/** `text` (or its words) broken into lines of at most WIDTH columns, each after `indent` spaces (the first after `first`). */
export function wrap(text: string | readonly string[], indent = 0, first = indent): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of typeof text === "string" ? text.split(" ") : text) {
    const pad = lines.length ? indent : first;
    if (line && pad + line.length + 1 + word.length > WIDTH) {
      lines.push(" ".repeat(pad) + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(" ".repeat(lines.length ? indent : first) + line);
  return lines;
}

// "-c, --config FILE"; in install's help the global --version shows only as -V (install's --version V hides it).
function label(flag: Flag, shadowed: boolean): string {
  const long = shadowed ? [] : [flag.name];
  const forms = [...(flag.short ? [flag.short] : []), ...long].join(", ");
  return flag.value ? `${forms} ${flag.value}` : forms;
}

/** Each option a command shows, with its label: own options first, shadowed long forms dropped. */
function optionRows(command: CommandSpec, flags = flagsOf(command)): [string, Flag][] {
  return flags.map((f) => [label(f, shadowed(command, f)), f]);
}

// Label and doc in two columns, the doc wrapped under itself.
function table(rows: [string, string][]): string[] {
  const col = Math.min(Math.max(...rows.map(([l]) => l.length)) + 4, 28);
  return rows.flatMap(([l, doc]) => {
    const start = `  ${l}`;
    if (start.length + 2 > col) return [start, ...wrap(doc, col)];
    const [head, ...rest] = wrap(doc, col);
    return [start + head!.slice(start.length), ...rest];
  });
}

/** The synopsis' words: `otter install URL|PATH --version V [--sha256 HEX] ... [OPTIONS]`. */
export function synopsis(command: CommandSpec): string[] {
  const args = command.args.map((a) => (a.required ? a.name : `[${a.name}]`));
  const own = flagsOf(command).filter((f) => Array.isArray(f.for)).map((f) => {
    const form = f.value ? `${f.name} ${f.value}` : f.name;
    return command.requires?.includes(f.name) ? form : `[${form}]`;
  });
  return ["otter", command.default ? `[${command.name}]` : command.name, ...args, ...own, "[OPTIONS]"];
}

function commandHelp(command: CommandSpec): string {
  const rows = optionRows(command).map(([l, f]): [string, string] => [l, f.doc]);
  return [
    ...wrap(["Usage:", ...synopsis(command)], 13, 0),
    "",
    ...wrap(command.doc),
    "",
    "Options:",
    ...table(rows),
    "",
  ].join("\n");
}

function overview(): string {
  const shared = (scope: Flag["for"]) => table(FLAGS.filter((f) => f.for === scope).map((f) => [label(f, false), f.doc]));
  // GNU's form, which help2man turns into the man page's SYNOPSIS: "Usage: ...", then
  // "  or:  ..."; a line each, however long (help2man takes no continuation line).
  const usage = (COMMANDS as readonly CommandSpec[]).map((c, n) => `${n ? "  or:  " : "Usage: "}${synopsis(c).join(" ")}`);
  return [
    ...usage,
    "",
    ...wrap("otter is an over-the-air update agent for Linux devices. With no COMMAND it runs: the daemon, or one check with --once. otter help COMMAND (or otter COMMAND --help) shows the command's arguments and options."),
    "",
    "Commands:",
    ...table(COMMANDS.map((c) => [c.name, c.summary])),
    "",
    `Config options (every command but ${COMMANDS.filter((c) => !c.readsConfig).map((c) => c.name).join(", ")}):`,
    ...shared("config"),
    "",
    "Options for every command:",
    ...shared("every"),
    "",
    "Exit status:",
    ...table(Object.entries(EXIT_DOC)),
    "",
  ].join("\n");
}

/** `otter help` (no command) or `otter help COMMAND`. */
export function helpText(name?: string): string {
  const command = name === undefined ? undefined : commandNamed(name);
  return command ? commandHelp(command) : overview();
}

// roff: a backslash doubled, a leading dot or quote kept from being a request, "-" as \- so it is not a hyphen.
const roff = (text: string) => text.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/^([.'])/gm, "\\&$1");

/** The man page's COMMANDS section (a help2man include): each command's synopsis, text and options. */
export function manCommands(): string {
  const out = ["[COMMANDS]"];
  for (const c of COMMANDS as readonly CommandSpec[]) {
    out.push(`.SS "${roff(c.name)}"`, `.B ${roff(synopsis(c).join(" "))}`, ".PP", roff(c.doc));
    for (const [l, f] of optionRows(c, flagsOf(c).filter((f) => Array.isArray(f.for)))) out.push(".TP", `.B ${roff(l)}`, roff(f.doc));
  }
  return out.join("\n") + "\n";
}

/** The doc that embeds the help (from the repository root). */
export const HELP_FILE = "docs/command-line.md";
export const HELP_BEGIN = "<!-- cli-help:begin (generated by scripts/config-doc; do not edit) -->";
export const HELP_END = "<!-- cli-help:end -->";

/** docs/command-line.md's block: what `otter --help` prints. */
export function helpDoc(): string {
  return [HELP_BEGIN, "```", helpText().trimEnd(), "```", HELP_END].join("\n");
}
