// Logs a human can read by default ("2026-11-24T02:13:34Z INFO  message key=value"),
// JSON lines when asked, and journald's own form when stderr is the journal (systemd sets
// JOURNAL_STREAM to that stream's device:inode): "<4>message key=value", the sd-daemon(3)
// priority prefix instead of a level and no timestamp (journald stamps every line itself),
// so `journalctl -p err` finds the errors. Everything goes to stderr so stdout stays for
// command output. Every line, and what listeners get, passes printable(): URL credentials
// masked, control and bidi characters escaped, so a log line is one line and shows what it is.
import { fstatSync } from "node:fs";
import { printable } from "./printable.ts";

export const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"] as const;
export type Level = (typeof LEVELS)[number];
export type Fields = Record<string, unknown>;

interface Settings {
  level: Level;
  json: boolean;
  /** stderr is the journal: priority prefixes, no timestamps */
  journal: boolean;
  write: (line: string) => void;
}

/** Whether fd is the stream JOURNAL_STREAM names ("device:inode"): a hook or a pipe that inherited the variable is not. */
export function isJournalStream(journalStream: string | undefined, fd: number): boolean {
  if (!journalStream) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return journalStream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

const settings: Settings = {
  level: "WARNING",
  json: false,
  journal: isJournalStream(process.env.JOURNAL_STREAM, 2),
  write: (line) => process.stderr.write(line + "\n"),
};

// sd-daemon(3): <3> err, <4> warning, <6> info, <7> debug.
const PRIORITY: Record<Level, number> = { DEBUG: 7, INFO: 6, WARNING: 4, ERROR: 3 };

/** Set the level and format once the CLI and config are read. */
export function configureLog(opts: Partial<Settings>): void {
  Object.assign(settings, opts);
}

export function logLevel(): Level {
  return settings.level;
}

function enabled(level: Level): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(settings.level);
}

function humanValue(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /[\s"=]/.test(s ?? "") ? JSON.stringify(s) : String(s);
}

type Listener = (level: Level, msg: string, fields: Fields) => void;
const listeners: Listener[] = [];

/** Also hand every line, whatever the level setting, to `listener` (Sentry's breadcrumbs). */
export function onLog(listener: Listener): void {
  listeners.push(listener);
}

/** One log line in the form the settings ask for; `ts` is an ISO time to the second. */
export function formatLine(s: Pick<Settings, "json" | "journal">, ts: string, level: Level, msg: string, fields: Fields): string {
  if (s.json) return printable(JSON.stringify({ ts, level, msg, ...fields }));
  const extra = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${humanValue(v)}`)
    .join("");
  return printable(s.journal ? `<${PRIORITY[level]}>${msg}${extra}` : `${ts} ${level.padEnd(7)} ${msg}${extra}`);
}

// ISO time to the second.
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

function emit(level: Level, raw: string, rawFields: Fields = {}): void {
  if (!listeners.length && !enabled(level)) return; // a DEBUG line nobody takes costs nothing
  const msg = printable(raw);
  const fields = Object.fromEntries(Object.entries(rawFields).map(([k, v]) => [k, typeof v === "string" ? printable(v) : v]));
  for (const listener of listeners) listener(level, msg, fields);
  if (!enabled(level)) return;
  settings.write(formatLine(settings, now(), level, msg, fields));
}

export const log = {
  debug: (msg: string, fields?: Fields) => emit("DEBUG", msg, fields),
  info: (msg: string, fields?: Fields) => emit("INFO", msg, fields),
  warn: (msg: string, fields?: Fields) => emit("WARNING", msg, fields),
  error: (msg: string, fields?: Fields) => emit("ERROR", msg, fields),
};

/**
 * A line for the person who typed the command (a usage error): "otter: message" with no
 * timestamp, level or fields (a message that starts with "otter " names the command
 * already); journald's error priority when stderr is the journal; under --json-logs the
 * JSON line every other line is.
 */
export function say(msg: string, fields: Fields = {}): void {
  if (settings.json) return settings.write(formatLine(settings, now(), "ERROR", printable(msg), fields));
  const line = printable(msg.startsWith("otter ") ? msg : `otter: ${msg}`);
  settings.write(settings.journal ? `<${PRIORITY.ERROR}>${line}` : line);
}
