// A CLI that helps, against the built binaries: help for every command, version and build
// details, one plain line with "did you mean" for a mistake, bash completion as bash runs
// it, and the man page scripts/build wrote, as groff and man render it.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../../package.json" with { type: "json" };
import { COMMANDS, FLAGS, flagsOf, type CommandSpec } from "../../../src/cli/commands.ts";
import { otter, otterCommand, ROOT, type OtterOptions } from "../../helpers/otter.ts";

const ALL = COMMANDS as readonly CommandSpec[];
const tmp = mkdtempSync(join(tmpdir(), "otter-cli-help-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ENV = { OTTER_CONFIG: undefined, OTTER_STATE_DIR: undefined, JOURNAL_STREAM: undefined };
// A checkout without git history (an exported tree) builds "unknown" as its commit.
const HEAD = (() => {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
})();
const NODE = execFileSync("node", ["-p", "process.versions.node"], { encoding: "utf8" }).trim(); // bun test's process.versions.node is Bun's own

const BINS: Record<string, OtterOptions & { runtime: string; target: string }> = {
  [process.env.OTTER_BIN ?? "dist/otter-linux-x64"]: { runtime: `bun ${Bun.version}`, target: "linux-x64" },
  "node dist/otter.mjs": { bin: "node dist/otter.mjs", runtime: `node ${NODE}`, target: `node (on linux-${process.arch})` },
};

/** A usage error as a person sees it: exit 2, nothing on stdout, exactly `line` on stderr. */
async function usageError(run: (args: string[]) => ReturnType<typeof otter>, args: string[], line: string) {
  const r = await run(args);
  expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 2, stdout: "", stderr: `${line}\n` });
}

for (const [name, { runtime, target, ...bin }] of Object.entries(BINS)) {
  const run = (args: string[], opts: OtterOptions = {}) => otter(args, { ...bin, ...opts, env: { ...ENV, ...opts.env } });

  describe(name, () => {
    test("--version: otter's version first, then the commit it was built from, the runtime and the target", async () => {
      const r = await run(["--version"]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      const [first, commit, rt, tgt, ...rest] = r.stdout.split("\n");
      expect(first).toBe(`otter ${pkg.version}`); // scripts/check-binary and the .deb's postinst read this line
      if (HEAD === "unknown") expect(commit).toBe("commit: unknown");
      else {
        expect(commit).toMatch(/^commit: [0-9a-f]{12}(-dirty)?$/);
        expect(HEAD).toStartWith(commit!.slice("commit: ".length, "commit: ".length + 12));
      }
      expect([rt, tgt, ...rest]).toEqual([`runtime: ${runtime}`, `target: ${target}`, ""]);
      for (const args of [["version"], ["-V"], ["status", "--version"]]) expect((await run(args)).stdout).toBe(r.stdout);
    });

    test("otter help and --help: every command and the shared options", async () => {
      const r = await run(["help"]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      for (const c of ALL) expect(r.stdout).toContain(`\n  ${c.name} `);
      for (const f of FLAGS.filter((f) => !Array.isArray(f.for))) expect(r.stdout).toContain(f.name);
      for (const args of [["--help"], ["-h"]]) expect((await run(args)).stdout).toBe(r.stdout);
    });

    test.each(ALL.map((c) => [c.name, c] as const))("otter %s --help: its usage and every option it takes, as otter help says", async (cmd, c) => {
      const r = await run([cmd, "--help"]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(r.stdout).toStartWith(`Usage: otter ${c.default ? `[${cmd}]` : cmd}`);
      for (const f of flagsOf(c)) expect(r.stdout).toContain(f.short && f.name === "--version" && cmd === "install" ? `  ${f.short} ` : f.name);
      expect((await run(["help", cmd])).stdout).toBe(r.stdout);
      expect((await run([cmd, "-h"])).stdout).toBe(r.stdout);
    });

    // One plain line: no timestamp, no level, no code=; a typo gets the word meant.
    test.each([
      [["stauts"], 'otter: unknown command "stauts"; did you mean status?'],
      [["chek-config"], 'otter: unknown command "chek-config"; did you mean check-config?'],
      [["check-config", "--strcit"], "otter: unknown option --strcit for check-config; did you mean --strict?"],
      [["--onec"], "otter: unknown option --onec; did you mean --once?"],
      [["help", "instal"], 'otter help: unknown command "instal"; did you mean install?'],
      [["status", "--strict"], "otter: --strict is not an option of status; it goes with check-config"],
      [["frobnicate"], `otter: unknown command "frobnicate"; commands: ${ALL.map((c) => c.name).join(", ")}`],
      [["plan", "-c"], "otter: -c needs a value (FILE); see otter plan --help"],
      [["install", "f.img"], "otter install needs --version V: the version the file holds; the version hook must name it after the restart"],
      [["completion", "zsh"], 'otter completion: unknown shell "zsh"; one of: bash'],
    ])("%j: exit 2 and one plain line", async (args, line) => {
      await usageError(run, args, line);
    });

    test("a usage error when stderr is the journal: the same line with journald's error priority", async () => {
      // JOURNAL_STREAM names stderr's device:inode: a file here stands in for journald's stream.
      const file = join(tmp, `journal-${name.replace(/\W/g, "")}`);
      const fd = openSync(file, "w");
      const st = fstatSync(fd, { bigint: true });
      const [cmd, ...pre] = otterCommand(bin.bin);
      const r = spawnSync(cmd!, [...pre, "stauts"], { cwd: ROOT, stdio: ["ignore", "pipe", fd], env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
      closeSync(fd);
      expect(r.status).toBe(2);
      expect(readFileSync(file, "utf8")).toBe('<3>otter: unknown command "stauts"; did you mean status?\n');
    });

    test("completion bash: bash completes commands, options, option values and arguments from the table", async () => {
      const r = await run(["completion", "bash"]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      const script = join(tmp, `otter-${name.replace(/\W/g, "")}.bash`);
      writeFileSync(script, r.stdout);
      writeFileSync(join(tmp, "image.swu"), "");
      // COMP_WORDS as bash splits the line, the last word being completed; COMPREPLY one per line.
      const complete = (...words: string[]) => {
        const out = execFileSync("bash", ["-c", 'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _otter; printf "%s\\n" "${COMPREPLY[@]}"', script, "otter", ...words], { cwd: tmp, encoding: "utf8" });
        return out.split("\n").filter(Boolean);
      };
      expect(complete("")).toEqual(ALL.map((c) => c.name));
      expect(complete("ch")).toEqual(["check-config"]);
      expect(complete("check-config", "--s")).toEqual(["--strict"]);
      expect(complete("status", "--j")).toEqual(["--json", "--json-logs"]);
      expect(complete("install", "--s")).toEqual(["--sha256", "--signature"]);
      expect(complete("--o")).toEqual(["--once"]); // no command yet: run's options
      expect(complete("help", "ins")).toEqual(["install"]);
      expect(complete("completion", "")).toEqual(["bash"]);
      expect(complete("install", "ima")).toEqual(["image.swu"]); // URL|PATH: a path
      expect(complete("-c", "otter-")).toEqual(expect.arrayContaining([expect.stringMatching(/^otter-.*\.bash$/)])); // a config file
      expect(complete("install", "image.swu", "--version", "")).toEqual([]); // a version: nothing to guess
      expect(complete("-c", "x.ini", "pl")).toEqual(["plan"]); // -c's value is not the command
      expect(complete("frob", "--")).toEqual([]);
      // Every option of every command is offered there.
      for (const c of ALL) expect(complete(c.name, "-")).toEqual(expect.arrayContaining(flagsOf(c).map((f) => (c.name === "install" && f.name === "--version" && f.short ? f.short : f.name))));
    });
  });
}

describe("a run from source", () => {
  test("--version says dev for the commit and the target", () => {
    const out = execFileSync(join(ROOT, "node_modules/.bin/bun"), ["src/cli/main.ts", "--version"], { cwd: ROOT, encoding: "utf8" });
    expect(out).toBe(`otter ${pkg.version}\ncommit: dev\nruntime: bun ${Bun.version}\ntarget: dev (on linux-${process.arch})\n`);
  });
});

describe("the man page scripts/build wrote (dist/otter.1, for the .deb)", () => {
  const page = join(ROOT, "dist/otter.1");
  const render = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, MANWIDTH: "80", MAN_KEEP_FORMATTING: "", LANG: "C.UTF-8" } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test("groff renders it without a warning: NAME, SYNOPSIS with every command, each command's section and options", () => {
    expect(existsSync(page)).toBe(true);
    const r = render("groff", ["-man", "-Tutf8", "-ww", "-P-cbou", page]); // -P-cbou: plain text, no overstrike
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const text = r.stdout.replace(/\u2010/g, "-").replace(/ +/g, " ");
    expect(text).toContain(`otter - over-the-air update agent for Linux devices`);
    expect(text).toContain(`otter ${pkg.version}`);
    for (const section of ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS"]) expect(text).toMatch(new RegExp(`^${section}$`, "m"));
    const synopsis = text.slice(text.indexOf("\nSYNOPSIS\n"), text.indexOf("\nDESCRIPTION\n"));
    const commands = text.slice(text.indexOf("\nCOMMANDS\n"));
    for (const c of ALL) {
      expect(synopsis).toContain(`otter ${c.default ? `[${c.name}]` : c.name}`);
      expect(commands).toMatch(new RegExp(`^ ${c.name}\n otter `, "m"));
      for (const f of flagsOf(c).filter((f) => Array.isArray(f.for))) expect(commands).toContain(` ${f.name}`);
    }
    for (const f of FLAGS.filter((f) => !Array.isArray(f.for))) expect(text).toContain(f.name);
  });

  test("man -l shows it", () => {
    const r = render("man", ["-l", page]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("OTTER(1)");
    expect(r.stdout).toContain("COMMANDS");
  });
});
