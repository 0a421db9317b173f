// Logs a human can read by default ("2026-11-24T02:13:34Z INFO  message key=value"),
// JSON lines when asked. Everything goes to stderr so stdout stays for command output.
// Every line, and what listeners get, passes printable(): URL credentials masked, control
// and bidi characters escaped, so a log line is one line and shows what it is.
import { printable } from "./printable.ts";

export const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"] as const;
export type Level = (typeof LEVELS)[number];
export type Fields = Record<string, unknown>;

interface Settings {
  level: Level;
  json: boolean;
  write: (line: string) => void;
}

const settings: Settings = {
  level: "WARNING",
  json: false,
  write: (line) => process.stderr.write(line + "\n"),
};

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

function emit(level: Level, raw: string, rawFields: Fields = {}): void {
  if (!listeners.length && !enabled(level)) return; // a DEBUG line nobody takes costs nothing
  const msg = printable(raw);
  const fields = Object.fromEntries(Object.entries(rawFields).map(([k, v]) => [k, typeof v === "string" ? printable(v) : v]));
  for (const listener of listeners) listener(level, msg, fields);
  if (!enabled(level)) return;
  const ts = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  if (settings.json) {
    settings.write(printable(JSON.stringify({ ts, level, msg, ...fields })));
    return;
  }
  const extra = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${humanValue(v)}`)
    .join("");
  settings.write(printable(`${ts} ${level.padEnd(7)} ${msg}${extra}`));
}

export const log = {
  debug: (msg: string, fields?: Fields) => emit("DEBUG", msg, fields),
  info: (msg: string, fields?: Fields) => emit("INFO", msg, fields),
  warn: (msg: string, fields?: Fields) => emit("WARNING", msg, fields),
  error: (msg: string, fields?: Fields) => emit("ERROR", msg, fields),
};
