// Reads an otter/Upparat INI file into a typed Config through the SCHEMA table.
// A bad value is one line naming file, section, key, what came and what is expected.
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { ConfigError } from "../base/errors.ts";
import { filePath } from "../base/fileurl.ts";
import { LEVELS, type Level } from "../base/log.ts";
import { nearest } from "../base/nearest.ts";
import { shown } from "../base/printable.ts";
import { IniSyntaxError, parseIni, type IniSections } from "./inifile.ts";
import { FREE_SECTIONS, SCHEMA, type Kind, type Row, type SchemaRow } from "./schema.ts";
import { parseWindow } from "./window.ts";

interface KindTypes {
  string: string; int: number; number: number; bool: boolean; seconds: number; hours: number;
  bytes: number; path: string; file: string; executable: string; list: string[]; lines: string[];
  level: Level; source: "auto" | "aws" | "manifest";
}
type Value<R> = R extends { kind: infer K extends Kind }
  ? KindTypes[K] | (R extends { def: unknown } ? never : undefined)
  : never;
type Section<S> = { [R in Extract<SchemaRow, { section: S }> as R["key"]]: Value<R> };

export type Config = { [S in SchemaRow["section"]]: Section<S> } & {
  /** channel name → manifest URL, in file order */
  channels: Record<string, string>;
  /** the file it came from */
  file: string;
  /** unknown sections/keys, for the log */
  warnings: string[];
};

export interface LoadOptions {
  /** -t THING */
  thingName?: string;
  env?: Record<string, string | undefined>;
}

const EXAMPLES: Record<Kind, string> = {
  string: "text", int: "5", number: "2.5", bool: "true", seconds: "60 (or 90s, 5m, 2h, 1d)",
  hours: "30 (hours; or 90m, 2d)", bytes: "64M (or 1048576, 512K, 4G)", path: "/var/lib/otter",
  file: "/etc/otter/ca.pem", executable: "/usr/local/bin/otter-install", list: "a, b, c",
  lines: "Name: value", level: "INFO", source: "auto",
};

const WHAT: Record<Kind, string> = {
  string: "text", int: "a whole number", number: "a number", bool: "true or false",
  seconds: "a duration (seconds, or with s/m/h/d)", hours: "a duration (hours, or with s/m/h/d)",
  bytes: "a size (bytes, or with K/M/G/T)", path: "a path", file: "a readable file",
  executable: "an existing executable file", list: "a comma-separated list", lines: "lines",
  level: `one of ${LEVELS.join(", ")}`, source: "one of auto, aws, manifest",
};

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const UNIT_BYTES: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

class BadValue extends Error {}
const badValue = (): never => {
  throw new BadValue();
};

// Names Python's logging accepts (Upparat passes log_level to it), and Upparat's README's EXCEPTION.
const LEVEL_ALIASES: Record<string, Level> = { EXCEPTION: "ERROR", CRITICAL: "ERROR", FATAL: "ERROR", WARN: "WARNING", NOTSET: "DEBUG" };

function duration(text: string, bareUnit: "s" | "h"): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/i.exec(text);
  if (!m) throw new BadValue();
  return Number(m[1]) * UNIT_SECONDS[(m[2] || bareUnit).toLowerCase()]!;
}

function parseValue(kind: Kind, text: string): unknown {
  switch (kind) {
    case "int":
      if (!/^-?\d+$/.test(text)) throw new BadValue();
      return Number(text);
    case "number":
      if (!/^-?\d+(\.\d+)?$/.test(text)) throw new BadValue();
      return Number(text);
    case "bool": {
      const v = text.toLowerCase();
      if (["1", "yes", "true", "on"].includes(v)) return true;
      if (["0", "no", "false", "off"].includes(v)) return false;
      throw new BadValue();
    }
    case "seconds":
      return duration(text, "s");
    case "hours":
      return duration(text, "h");
    case "bytes": {
      const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text);
      if (!m) throw new BadValue();
      return Math.floor(Number(m[1]) * UNIT_BYTES[m[2]!.toLowerCase()]!);
    }
    case "list":
      return text.split(/[,\s]+/).filter(Boolean);
    case "lines":
      return text.split("\n").map((l) => l.trim()).filter(Boolean);
    case "level": {
      const v = text.toUpperCase();
      return LEVEL_ALIASES[v] ?? ((LEVELS as readonly string[]).includes(v) ? v : badValue());
    }
    case "source":
      if (!["auto", "aws", "manifest"].includes(text)) throw new BadValue();
      return text;
    case "file":
      try {
        if (!statSync(text).isFile()) throw new BadValue();
        accessSync(text, constants.R_OK);
      } catch {
        throw new BadValue();
      }
      return text;
    case "executable":
      try {
        if (!statSync(text).isFile()) throw new BadValue();
        accessSync(text, constants.X_OK);
      } catch {
        throw new BadValue();
      }
      return text;
    default:
      return text;
  }
}

function defaultOf(row: Row, read: Record<string, Record<string, unknown>> = {}): string | undefined {
  return typeof row.def === "function" ? row.def(read) : row.def;
}

/** Read and validate a config file. Throws ConfigError with one clear line. */
export function loadConfig(file: string, opts: LoadOptions = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot read config (${(err as NodeJS.ErrnoException).code ?? err}); pass an existing file with -c FILE`);
  }
  return parseConfig(text, file, opts);
}

/** Validate config text (file is used in messages and to resolve nothing else). */
export function parseConfig(text: string, file: string, opts: LoadOptions = {}): Config {
  const name = basename(file);
  // Values are interpolated as they are read, so an IniSyntaxError can come from any get().
  try {
    return readSections(parseIni(text), file, opts);
  } catch (err) {
    if (err instanceof IniSyntaxError) throw new ConfigError(`${name}${err.line ? `:${err.line}` : ""}: ${err.message}`);
    throw err;
  }
}

// The Config from parsed sections; only SCHEMA keys and channels are read, hence interpolated.
function readSections(sections: IniSections, file: string, opts: LoadOptions): Config {
  const name = basename(file);
  const env = opts.env ?? process.env;
  const warnings: string[] = [];
  const out: Record<string, Record<string, unknown>> = {};
  const known = new Set<string>();
  const defaults = sections.get("DEFAULT")!;
  for (const row of SCHEMA as readonly Row[]) {
    const values = sections.get(row.section);
    const names = [row.key, ...(row.aliases ?? [])];
    names.forEach((k) => known.add(`${row.section}.${k}`));
    const key = names.find((k) => values?.has(k));
    const given = key === undefined ? undefined : values!.get(key);
    let text = given === undefined || given === "" ? defaultOf(row, out) : given;
    if (row.section === "service" && row.key === "state_dir" && env.OTTER_STATE_DIR) text = env.OTTER_STATE_DIR;
    // Hook and key files may be given relative to the config file.
    if (text && (row.kind === "file" || row.kind === "executable") && !isAbsolute(text)) text = resolve(dirname(file), text);
    (out[row.section] ??= {})[row.key] = text === undefined ? undefined : check(name, row, text);
  }
  for (const [section, values] of sections) {
    if (section === "DEFAULT" || (FREE_SECTIONS as readonly string[]).includes(section)) continue;
    if (!SCHEMA.some((r) => r.section === section)) {
      warnings.push(`${name}: unknown section [${section}] ignored`);
      continue;
    }
    for (const key of values.keys()) {
      if (known.has(`${section}.${key}`) || defaults.has(key)) continue;
      const near = nearest(key, [...known].filter((k) => k.startsWith(`${section}.`)).map((k) => k.slice(section.length + 1)));
      warnings.push(`${name}: unknown key [${section}] ${key} ignored${near ? `; did you mean ${near}?` : ""}`);
    }
  }
  const listed = sections.get("channels");
  const channels = Object.fromEntries((listed?.keys() ?? []).filter((k) => !defaults.has(k)).map((k) => [k, listed!.get(k)!]));
  const config = { ...out, channels, file, warnings } as unknown as Config;
  if (opts.thingName) config.broker.thing_name = opts.thingName;
  crossCheck(config, name);
  return config;
}

function check(file: string, row: Row, text: string): unknown {
  try {
    const v = parseValue(row.kind, text);
    if (typeof v === "number" && (v < (row.min ?? -Infinity) || v > (row.max ?? Infinity))) throw new BadValue();
    return v;
  } catch (err) {
    if (!(err instanceof BadValue)) throw err;
    const eg = row.kind === "executable" ? `/usr/local/bin/otter-${row.key}` : (row.eg ?? row.docDef ?? defaultOf(row) ?? EXAMPLES[row.kind]);
    throw new ConfigError(`${file} [${row.section}] ${row.key}: expected ${WHAT[row.kind]}${range(row)}, got ${JSON.stringify(text)}; e.g. ${row.key} = ${eg}`);
  }
}

// " from 1 to 65535", " of at least 1", or "" when only the kind limits the value (min 0 of a duration).
function range(row: Row): string {
  if (row.max !== undefined) return ` from ${row.min} to ${row.max}`;
  return row.min ? ` of at least ${row.min}` : "";
}

// Rules between keys, which the table cannot express.
function crossCheck(config: Config, file: string): void {
  const b = config.broker;
  const tls = [b.cafile, b.certfile, b.keyfile].filter(Boolean).length;
  if (tls !== 0 && tls !== 3) {
    throw new ConfigError(`${file} [broker] cafile, certfile, keyfile: set all three for mutual TLS or none; ${tls} of 3 are set`);
  }
  // In AWS mode the thing name is a level of every jobs topic.
  if (sourceKind(config) === "aws" && !/^[^+#/\0]+$/.test(b.thing_name)) {
    throw new ConfigError(`${file} [broker] thing_name: expected a name without "+", "#" or "/" (it becomes an MQTT topic level), got ${shown(b.thing_name)}; e.g. thing_name = dev-42`);
  }
  b.port ??= tls ? 8883 : 1883;
  b.client_id ??= b.thing_name;
  try {
    parseWindow(config.policy.window);
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigError(`${file} ${err.message}`) : err;
  }
  for (const [name, url] of Object.entries(config.channels)) {
    if (!/^(https?|file|tuf\+https?):\/\//.test(url)) {
      throw new ConfigError(`${file} [channels] ${name}: expected a manifest URL (https://, http:// or file://) or a TUF repository's metadata URL (tuf+https://), got ${JSON.stringify(url)}; e.g. ${name} = https://updates.example.com/${name}.json`);
    }
    if (url.startsWith("file:")) filePath(url, (why) => new ConfigError(`${file} [channels] ${name}: ${why}`));
    if (tufUrl(url) && !config.tuf.trusted_root) {
      throw new ConfigError(`${file} [tuf] trusted_root: TUF channel ${name} needs the repository's trusted root.json, pinned on the device; e.g. trusted_root = /etc/otter/root.json`);
    }
  }
  for (const origin of config.download.credential_origins) {
    if (!isOrigin(origin)) {
      throw new ConfigError(`${file} [download] credential_origins: expected origins (scheme://host[:port], no path), got ${JSON.stringify(origin.slice(0, 80))}; e.g. credential_origins = https://files.example.com:8443`);
    }
  }
}

// scheme://host[:port] of http(s), optionally with a trailing "/".
function isOrigin(text: string): boolean {
  try {
    const u = new URL(text);
    return /^https?:$/.test(u.protocol) && u.origin === text.replace(/\/$/, "");
  } catch {
    return false;
  }
}

/** A TUF channel's metadata URL (`tuf+https://repo/metadata` → `https://repo/metadata`), else undefined. */
export function tufUrl(channelUrl: string): string | undefined {
  return channelUrl.startsWith("tuf+") ? channelUrl.slice(4) : undefined;
}

/** Which job source this config selects. */
export function sourceKind(config: Config): "aws" | "manifest" {
  if (config.service.source !== "auto") return config.service.source;
  return Object.keys(config.channels).length ? "manifest" : "aws";
}

/**
 * Whether updates must carry a valid signature, and why: a configured trust anchor
 * ([verify] public_key or ca) requires one unless require_signature = false is written.
 */
export function signaturePolicy(v: Config["verify"]): { required: boolean; why: string } {
  const anchor = v.public_key ? "[verify] public_key" : v.ca ? "[verify] ca" : undefined;
  if (v.require_signature === true) return { required: true, why: "signatures required: require_signature = true" };
  if (v.require_signature === false) {
    return { required: false, why: `signatures not required: require_signature = false${anchor ? `, so an unsigned update installs although ${anchor} is set` : ""}` };
  }
  if (anchor) return { required: true, why: `signatures required: ${anchor} is set (write require_signature = false to allow unsigned updates)` };
  return { required: false, why: "signatures not required: neither [verify] public_key nor ca is set" };
}

/** The effective config as INI text, secrets masked (for `otter check-config`). */
export function renderConfig(config: Config): string {
  const lines: string[] = [`# ${config.file}`];
  let section = "";
  const cfg = config as unknown as Record<string, Record<string, unknown>>;
  for (const row of SCHEMA as readonly Row[]) {
    if (row.section !== section) {
      section = row.section;
      lines.push("", `[${section}]`);
    }
    const v = cfg[row.section]![row.key];
    if (row.section === "verify" && row.key === "require_signature") {
      const p = signaturePolicy(config.verify);
      lines.push(`# ${p.why}`, `require_signature = ${p.required}`);
      continue;
    }
    if (v === undefined) {
      lines.push(`# ${row.key} =   (unset: ${row.doc})`);
      continue;
    }
    const shown = row.secret ? "********" : Array.isArray(v) ? v.join(row.kind === "lines" ? "\n    " : ", ") : ["seconds", "hours"].includes(row.kind) ? `${v}s` : String(v);
    lines.push(`${row.key} = ${shown}`);
  }
  lines.push("", "[channels]", ...Object.entries(config.channels).map(([k, v]) => `${k} = ${v}`));
  return lines.join("\n") + "\n";
}
