// parseIni reads what Python's configparser reads (Upparat's files): each expectation here
// was checked against configparser.ConfigParser().read_string on the same text.
import { describe, expect, test } from "bun:test";
import { IniSyntaxError, parseIni } from "../../../src/config/inifile.ts";

// The parsed sections as plain objects, [DEFAULT] included.
const parse = (text: string) => Object.fromEntries([...parseIni(text)].map(([name, values]) => [name, Object.fromEntries(values)]));
const section = (text: string, name = "a") => parse(text)[name];

// The error parsing `text` and then reading every value of every section raises.
function syntaxError(text: string, read: () => unknown = () => parse(text)): IniSyntaxError {
  try {
    read();
  } catch (err) {
    if (err instanceof IniSyntaxError) return err;
    throw err;
  }
  throw new Error("expected an IniSyntaxError");
}

describe("parseIni: like configparser", () => {
  test("`=` and `:` both delimit; the first delimiter wins", () => {
    expect(section("[a]\nk: v\nk2 = x = y\nk3 : a:b\nk4=\n")).toEqual({ k: "v", k2: "x = y", k3: "a:b", k4: "" });
  });

  test("keys are case-insensitive (lowercased), section names are not", () => {
    expect(parse("[A]\nKey = 1\n[a]\nkEY = 2\n")).toEqual({ A: { key: "1" }, a: { key: "2" }, DEFAULT: {} });
  });

  test("[DEFAULT] is inherited by every section and can be overridden", () => {
    expect(parse("[DEFAULT]\nx = 1\ny = 2\n[a]\ny = 3\n[b]\n")).toEqual({
      a: { x: "1", y: "3" }, b: { x: "1", y: "2" }, DEFAULT: { x: "1", y: "2" },
    });
  });

  test("[DEFAULT] may come after the sections and appear twice", () => {
    expect(section("[a]\n[DEFAULT]\nx=1\n[DEFAULT]\ny=2\n")).toEqual({ x: "1", y: "2" });
  });

  test("%(name)s expands from the section, then [DEFAULT], recursively; names are case-insensitive", () => {
    expect(section("[DEFAULT]\nroot = /r\n[a]\ndir = %(ROOT)s/d\nfile = %(dir)s/f\n")).toEqual({ root: "/r", dir: "/r/d", file: "/r/d/f" });
  });

  test("%% is a literal %", () => {
    expect(section("[a]\nk = 50%% of %%(x)s\n")).toEqual({ k: "50% of %(x)s" });
  });

  test.each([
    ["a lone %", "[a]\nk = 50%\n", 2, '[a] k: a lone "%" in "50%"'],
    ["% not followed by (name)s", "[a]\nj = 1\nk = %(x)\n", 3, 'a lone "%"'],
    ["an unknown name", "[a]\n\nk = %(nope)s\n", 3, '"%(nope)s" names no key'],
    ["a loop", "[a]\nk = %(k)s\n", 2, "nests too deeply"],
  ])("%s is an error naming the value's line", (_what, text, line, message) => {
    const err = syntaxError(text);
    expect(err.line).toBe(line);
    expect(err.message).toContain(message);
  });

  // configparser interpolates in get(): ConfigParser().read_string("[a]\nk = 50%\nok = fine\n") succeeds,
  // get("a", "ok") is "fine", get("a", "k") raises InterpolationSyntaxError, and so does dict(c["a"]).
  test("interpolation happens on read: a lone % in a value nobody reads is no error", () => {
    const sections = parseIni("[a]\nk = 50%\nok = fine\n");
    expect(sections.get("a")!.get("ok")).toBe("fine");
    expect(sections.get("a")!.keys()).toEqual(["k", "ok"]);
    expect(syntaxError("", () => sections.get("a")!.get("k")).line).toBe(2);
    expect(syntaxError("", () => [...sections.get("a")!]).message).toContain("[a] k: a lone");
  });

  test("a bad [DEFAULT] value fails only the reads that reach it, naming its own line", () => {
    const sections = parseIni("[DEFAULT]\nd = 5%\n[a]\nok = fine\nr = %(d)s\n");
    expect(sections.get("a")!.get("ok")).toBe("fine");
    const err = syntaxError("", () => sections.get("a")!.get("r"));
    expect(err.line).toBe(2);
    expect(err.message).toContain('[a] d: a lone "%" in "5%"');
  });

  test("a [DEFAULT] value refers to the reading section's keys", () => {
    expect(parseIni("[DEFAULT]\np = %(root)s/x\n[a]\nroot = /r\n").get("a")!.get("p")).toBe("/r/x");
  });

  test("indented lines continue the value; blank lines inside are kept, trailing ones dropped", () => {
    expect(section("[a]\nk = one\n  two\n\n  three\n\n\nj = 1\n")).toEqual({ k: "one\ntwo\n\nthree", j: "1" });
  });

  test("a value may start on the next line", () => {
    expect(section("[a]\nk =\n  cont\n")).toEqual({ k: "\ncont" });
  });

  test("continuation is relative to the key's own indent", () => {
    expect(section("[a]\n  k = v\n  j = w\n    more\n")).toEqual({ k: "v", j: "w\nmore" });
  });

  test("# and ; start a comment only on their own line, even indented or inside a continuation", () => {
    expect(section("[a]\n# c\n; c\n   ; c\nk = v # kept ; kept\n  # dropped\n  more\n")).toEqual({ k: "v # kept ; kept\nmore" });
  });

  test("quotes are part of the value; CRLF line ends are fine", () => {
    expect(section('[a]\r\nk = "quoted"\r\nj = w\r\n')).toEqual({ k: '"quoted"', j: "w" });
  });

  test("a section header may be indented and have text after its bracket", () => {
    expect(parse("  [a]\nk = v\n[b] ; note\nj = w\n")).toEqual({ a: { k: "v" }, b: { j: "w" }, DEFAULT: {} });
  });

  test.each([
    ["a duplicate section", "[a]\nk = 1\n[a]\nj = 2\n", 3, "section [a] appears twice"],
    ["a duplicate key (case-insensitively)", "[a]\nk = 1\nK = 2\n", 3, 'key "k" appears twice in [a]'],
    ["a key before any section", "k = 1\n[a]\n", 1, "comes before any [section] header"],
    ["a line without delimiter", "[a]\nnovalue\n", 2, 'expected "key = value", got "novalue"'],
    ["an empty key", "[a]\n= v\n", 2, 'expected "key = value"'],
  ])("%s is an error naming its line", (_what, text, line, message) => {
    const err = syntaxError(text);
    expect(err.line).toBe(line);
    expect(err.message).toContain(message);
  });
});
