// Reads INI text the way Python's configparser does (Upparat's config files are written
// for it): `=` or `:` delimiters, case-insensitive keys, [DEFAULT] inherited by every
// section, %(name)s interpolation and %% for a literal %, indented continuation lines,
// `#`/`;` comments only on their own line, duplicate sections/keys are errors. As in
// configparser, a value is interpolated when it is read: a lone % in a key nobody reads is fine.
// The `ini` npm package differs on each of these points, so this is the small reader it takes.

export type IniSections = Map<string, IniSection>;

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
  /** where the key is, for interpolation errors */
  line: number;
}

interface Raw {
  text: string;
  line: number;
}

/** One section, [DEFAULT] merged in; get() interpolates %(name)s and %% and names the line on error. */
export class IniSection {
  constructor(
    readonly name: string,
    private readonly raw: Map<string, Raw>,
  ) {}

  has(key: string): boolean {
    return this.raw.has(key);
  }

  keys(): string[] {
    return [...this.raw.keys()];
  }

  /** The interpolated value; throws IniSyntaxError for a bad % in it or in what it refers to. */
  get(key: string): string | undefined {
    return this.raw.has(key) ? this.expand(key, 0) : undefined;
  }

  /** Every key with its interpolated value (configparser's items(): one bad value fails it). */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const key of this.raw.keys()) yield [key, this.expand(key, 0)];
  }

  private expand(key: string, depth: number): string {
    const { text, line } = this.raw.get(key)!;
    const where = `[${this.name}] ${key}`;
    if (depth > 10) throw new IniSyntaxError(line, `${where}: interpolation nests too deeply (a %(name)s loop?)`);
    return text.replace(/%(%|\(([^)]*)\)s|.?)/g, (_whole, what: string, ref: string | undefined) => {
      if (what === "%") return "%";
      if (ref !== undefined) {
        if (!this.raw.has(ref.toLowerCase())) throw new IniSyntaxError(line, `${where}: "%(${ref})s" names no key in [${this.name}] or [DEFAULT]`);
        return this.expand(ref.toLowerCase(), depth + 1);
      }
      throw new IniSyntaxError(line, `${where}: a lone "%" in "${text}"; write %% for a literal %`);
    });
  }
}

/** Parse configparser-style text; [DEFAULT] is merged into each section, values are interpolated on get(). */
export function parseIni(text: string): IniSections {
  const raw = new Map<string, Map<string, Raw>>([[DEFAULT, new Map()]]);
  let section: string | undefined;
  let entry: Entry | undefined;
  const close = () => {
    if (entry) raw.get(entry.section)!.set(entry.key, { text: entry.lines.join("\n").trimEnd(), line: entry.line });
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
    entry = { section, key, lines: [stripped.slice(at + 1).trim()], indent, line: n };
  });
  close();
  return resolve(raw);
}

// Merge [DEFAULT] into each section (a section's own key wins).
function resolve(raw: Map<string, Map<string, Raw>>): IniSections {
  const defaults = raw.get(DEFAULT)!;
  const out: IniSections = new Map();
  for (const [name, values] of raw) if (name !== DEFAULT) out.set(name, new IniSection(name, new Map([...defaults, ...values])));
  out.set(DEFAULT, new IniSection(DEFAULT, defaults));
  return out;
}
