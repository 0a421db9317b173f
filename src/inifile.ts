// Reads INI text the way Python's configparser does (Upparat's config files are written
// for it): `=` or `:` delimiters, case-insensitive keys, [DEFAULT] inherited by every
// section, %(name)s interpolation and %% for a literal %, indented continuation lines,
// `#`/`;` comments only on their own line, duplicate sections/keys are errors.
// The `ini` npm package differs on each of these points, so this is the small reader it takes.

export type IniSections = Map<string, Map<string, string>>;

export class IniSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

// As configparser: text after the closing bracket is ignored, the header may be indented.
const SECTION = /^\[(.+)\]/;
const DEFAULT = "DEFAULT";

interface Entry {
  section: string;
  key: string;
  lines: string[];
  indent: number;
}

/** Parse configparser-style text; values are interpolated and [DEFAULT] is merged in. */
export function parseIni(text: string): IniSections {
  const raw = new Map<string, Map<string, string>>([[DEFAULT, new Map()]]);
  let section: string | undefined;
  let entry: Entry | undefined;
  const close = () => {
    if (entry) raw.get(entry.section)!.set(entry.key, entry.lines.join("\n").trimEnd());
    entry = undefined;
  };
  text.split(/\r?\n/).forEach((line, i) => {
    const n = i + 1;
    const stripped = line.trim();
    const indent = line.length - line.trimStart().length;
    if (stripped.startsWith("#") || stripped.startsWith(";")) return;
    if (entry && stripped && indent > entry.indent) {
      entry.lines.push(stripped);
      return;
    }
    if (!stripped) {
      if (entry) entry.lines.push("");
      return;
    }
    close();
    const header = SECTION.exec(stripped);
    if (header) {
      section = header[1]!;
      if (section !== DEFAULT && raw.has(section)) throw new IniSyntaxError(n, `section [${section}] appears twice`);
      if (!raw.has(section)) raw.set(section, new Map());
      return;
    }
    if (section === undefined) throw new IniSyntaxError(n, `"${stripped}" comes before any [section] header`);
    const at = stripped.search(/[=:]/);
    if (at <= 0) throw new IniSyntaxError(n, `expected "key = value", got "${stripped}"`);
    const key = stripped.slice(0, at).trim().toLowerCase();
    if (raw.get(section)!.has(key)) throw new IniSyntaxError(n, `key "${key}" appears twice in [${section}]`);
    entry = { section, key, lines: [stripped.slice(at + 1).trim()], indent };
  });
  close();
  return resolve(raw);
}

// Merge [DEFAULT] into each section, then expand %(name)s and %%.
function resolve(raw: IniSections): IniSections {
  const defaults = raw.get(DEFAULT)!;
  const out: IniSections = new Map();
  for (const [name, values] of raw) {
    if (name === DEFAULT) continue;
    const merged = new Map([...defaults, ...values]);
    const expanded = new Map<string, string>();
    for (const [k, v] of merged) expanded.set(k, interpolate(v, merged, name, k, 0));
    out.set(name, expanded);
  }
  out.set(DEFAULT, new Map([...defaults].map(([k, v]) => [k, interpolate(v, defaults, DEFAULT, k, 0)])));
  return out;
}

function interpolate(value: string, scope: Map<string, string>, section: string, key: string, depth: number): string {
  if (depth > 10) throw new IniSyntaxError(0, `[${section}] ${key}: interpolation nests too deeply (a %(name)s loop?)`);
  return value.replace(/%(%|\(([^)]*)\)s|.?)/g, (_whole, what: string, ref: string | undefined) => {
    if (what === "%") return "%";
    if (ref !== undefined) {
      const target = scope.get(ref.toLowerCase());
      if (target === undefined) throw new IniSyntaxError(0, `[${section}] ${key}: "%(${ref})s" names no key in [${section}] or [DEFAULT]`);
      return interpolate(target, scope, section, ref, depth + 1);
    }
    throw new IniSyntaxError(0, `[${section}] ${key}: a lone "%" in "${value}"; write %% for a literal %`);
  });
}
