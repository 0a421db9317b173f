// The built otter's command line, as a device runs it: the Bun binary (OTTER_BIN, default
// dist/otter-linux-x64) and the node bundle. `scripts/test` builds both first.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { otter, ROOT, type OtterOptions } from "../../helpers/otter.ts";

const tmp = mkdtempSync(join(tmpdir(), "otter-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const DEMO = join(ROOT, "examples/demo/otter.ini");
// No config from the test's environment may leak in.
const ENV = { OTTER_CONFIG: undefined, OTTER_STATE_DIR: undefined };

// What every config otter can work with has (check-config refuses one without it).
const INSTALL_HOOK = "[hooks]\ninstall = /bin/true\n";

function write(name: string, text: string, mode = 0o644): string {
  const path = join(tmp, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

// Upparat's README configuration block, verbatim, placeholders included.
const UPPARAT_README = `[service]
sentry_dsn = <sentry DSN>

# Default: WARNING
log_level = <DEBUG|INFO|WARNING|ERROR|EXCEPTION>

# Default: tmpdir
download_location = <path>

[broker]
# MQTT broker host / port
host = <host>

# Default: 443
port = <port>

# Default: hostname
thing_name = <AWS thing name>

# Default: upparat
client_id = <local client id>

# Optional for client certifacte authentication
cafile = <Amazon root certificate>
certfile = <client certificate>
keyfile = <client priviate key>

[hooks]
# Used to compare against jobDoucment.version
version = <returns the currently installed version>
download = <checks if allowed to download>
install = <installs the downloaded file>
restart = <restarts your device/service>
ready = <checks if your system is stable / update succeeded>

# Hooks can return a status code 3 to indicate
# a retry at later time after retry_interval.
# Default: 60
retry_interval = <retry in seconds>

# Default: 60
# See retry_interval if hook has reached
# max_retries the job will be set to failed
max_retries = <max_retries>
`;

const hook = (name: string) => write(`upparat/hooks/${name}.sh`, "#!/bin/sh\necho 1.0\n", 0o755);
const PLACEHOLDERS: Record<string, string> = {
  "<sentry DSN>": "https://0123abcd@o1.ingest.sentry.io/42",
  "<DEBUG|INFO|WARNING|ERROR|EXCEPTION>": "EXCEPTION",
  "<path>": join(tmp, "downloads"),
  "<host>": "abc123-ats.iot.eu-central-1.amazonaws.com",
  "<port>": "443",
  "<AWS thing name>": "device-0001",
  "<local client id>": "device-0001",
  "<Amazon root certificate>": write("upparat/AmazonRootCA1.pem", "CA\n"),
  "<client certificate>": write("upparat/cert.pem", "CERT\n"),
  "<client priviate key>": write("upparat/key.pem", "KEY\n", 0o600),
  "<returns the currently installed version>": hook("version"),
  "<checks if allowed to download>": hook("download"),
  "<installs the downloaded file>": hook("install"),
  "<restarts your device/service>": hook("restart"),
  "<checks if your system is stable / update succeeded>": hook("ready"),
  "<retry in seconds>": "30",
  "<max_retries>": "10",
};

const oneLine = (stderr: string) => {
  expect(stderr.endsWith("\n")).toBe(true);
  expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  return stderr;
};

const BINS: Record<string, OtterOptions> = {
  [process.env.OTTER_BIN ?? "dist/otter-linux-x64"]: {},
  "node dist/otter.mjs": { bin: "node dist/otter.mjs" },
};

for (const [name, bin] of Object.entries(BINS)) {
  const run = (args: string[], opts: OtterOptions = {}) => otter(args, { ...bin, ...opts, env: { ...ENV, ...opts.env } });

  describe(name, () => {
    // --version, help and completion in detail: cli-help.test.ts.
    test("--help lists the commands and exit codes", async () => {
      const r = await run(["--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("  or:  otter check-config [--strict] [OPTIONS]\n");
      expect(r.stdout).toContain("Exit status:\n  0  ok");
    });

    test.each([
      [["frobnicate"], 'unknown command "frobnicate"'],
      [["--frobnicate"], "unknown option --frobnicate"],
      [["check-config", "-c"], "-c needs a value"],
      [["check-config", "extra", "-c", DEMO], 'unexpected argument "extra"'],
    ])("%j: exit 2, one plain line on stderr", async (args, message) => {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(oneLine(r.stderr)).toStartWith(`otter: ${message}`);
    });

    test("no config anywhere: exit 2 saying how to pass one", async () => {
      const r = await run(["check-config"], { env: { OTTER_CONFIG: join(tmp, "absent.ini") } });
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toContain(`${join(tmp, "absent.ini")}: cannot read config (ENOENT)`);
    });

    test("check-config on the demo prints the effective config, hooks resolved from any cwd", async () => {
      const r = await run(["check-config", "-c", DEMO], { cwd: tmp });
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toContain(`# ${DEMO}\n`);
      expect(r.stdout).toContain(`version = ${join(ROOT, "examples/demo/hooks/version")}\n`);
      expect(r.stdout).toContain("state_dir = /tmp/otter-demo/state\n");
      expect(r.stdout).toContain("[channels]\nrelease = http://127.0.0.1:8471/release.json\n");
    });

    test("OTTER_CONFIG and OTTER_STATE_DIR are honoured", async () => {
      const r = await run(["check-config"], { env: { OTTER_CONFIG: DEMO, OTTER_STATE_DIR: join(tmp, "state") } });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`state_dir = ${join(tmp, "state")}\n`);
    });

    test("check-config masks secrets", async () => {
      const ini = write("secret.ini", [
        "[service]", "sentry = https://SENTRYSECRET@o1.ingest.sentry.io/1",
        "[download]", `keyfile = ${write("dl-key.pem", "KEYSECRET\n", 0o600)}`, "headers =", "  Authorization: Bearer HEADERSECRET", INSTALL_HOOK,
      ].join("\n"));
      const r = await run(["check-config", "-c", ini]);
      expect(r.code).toBe(0);
      for (const key of ["sentry", "keyfile", "headers"]) expect(r.stdout).toContain(`\n${key} = ********\n`);
      for (const secret of ["SENTRYSECRET", "KEYSECRET", "HEADERSECRET", "dl-key.pem"]) expect(r.stdout).not.toContain(secret);
    });

    test("a bad value: exit 2 with the one-line message", async () => {
      const ini = write("bad.ini", "[hooks]\nretry_interval = 6o\n");
      const r = await run(["check-config", "-c", ini]);
      expect(r).toMatchObject({ code: 2, stdout: "" });
      expect(oneLine(r.stderr)).toContain('bad.ini [hooks] retry_interval: expected a duration (seconds, or with s/m/h/d), got "6o"; e.g. retry_interval = 60');
    });

    test("unknown keys are warned about with the key meant, not fatal; --strict makes them exit 2", async () => {
      const ini = write("typo.ini", `${INSTALL_HOOK}retry_intervall = 5\n`);
      const r = await run(["check-config", "-c", ini]);
      expect(r.code).toBe(0);
      expect(oneLine(r.stderr)).toContain("typo.ini: unknown key [hooks] retry_intervall ignored; did you mean retry_interval?");
      const strict = await run(["check-config", "--strict", "-c", ini]);
      expect(strict.code).toBe(2);
      expect(strict.stderr).toContain("--strict: 1 warning above; fix it or drop --strict");
    });

    // What parses but can never work exits 2; what may be intended warns. One line each, naming key and fix.
    test.each([
      ["an http:// channel without allow_http", "[channels]\nrelease = http://u.example/r.json\n", 2,
        "[channels] release: http:// is refused unless [download] allow_http = true; set it, or use an https:// URL"],
      ["require_signature without a key or CA", "[verify]\nrequire_signature = true\n", 2,
        "[verify] require_signature: no [verify] public_key or ca to check a signature with, so every update is refused; set public_key (or ca)"],
      ["a channel missing from priority", "[channels]\nbeta = https://u.example/b.json\n", 0,
        "[channels] beta: not in [policy] priority (release, weekly, nightly), so it ranks below every listed channel; add it to priority"],
      ["an unknown channel in new_overrides_old", "[policy]\nnew_overrides_old = nightlly\n[channels]\nnightly = https://u.example/n.json\n", 0,
        '[policy] new_overrides_old: "nightlly" is not a channel ([channels] lists nightly), so it has no effect; name a channel from [channels]'],
      ["min_soak longer than test_period", "[policy]\nmin_soak = 200\n", 0,
        "[policy] min_soak: 200h is longer than test_period 168h, so every update waits min_soak even after the test period; make min_soak at most test_period"],
    ])("check-config: %s", async (_what, text, code, line) => {
      const ini = write(`problems/${code}-${line.length}.ini`, text + INSTALL_HOOK);
      const r = await run(["check-config", "-c", ini]);
      expect(r.code).toBe(code);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines.filter((l) => l.includes(line))).toHaveLength(1);
      if (code === 0) expect((await run(["check-config", "--strict", "-c", ini])).code).toBe(2);
    });

    // Every stderr line is one JSON object with ts, level and msg (a log shipper parses each line).
    const jsonLines = (stderr: string) => {
      const lines = stderr.trimEnd().split("\n");
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), level: expect.any(String), msg: expect.any(String) });
      return lines.map((line) => JSON.parse(line) as { ts: string; level: string; msg: string; code?: string });
    };

    test("--json-logs: a bad config is one JSON line with its code", async () => {
      const r = await run(["--json-logs", "check-config", "-c", write("json/bad.ini", "[service]\ncheck_interval = 6o\n")]);
      expect(r.code).toBe(2);
      expect(jsonLines(r.stderr)).toEqual([{ ts: expect.any(String), level: "ERROR", msg: expect.stringContaining('check_interval: expected a duration'), code: "CONFIG_INVALID" }]);
    });

    test("--json-logs: a usage error is a JSON line too, wherever the flag stands", async () => {
      for (const args of [["--json-logs", "--frobnicate"], ["--frobnicate", "--json-logs"]]) {
        const r = await run(args);
        expect(r.code).toBe(2);
        expect(jsonLines(r.stderr)).toMatchObject([{ level: "ERROR", msg: "unknown option --frobnicate; see otter --help", code: "USAGE" }]);
      }
    });

    test("--json-logs with check-config -v: warnings are JSON lines, stdout is the config", async () => {
      const r = await run(["--json-logs", "check-config", "-v", "-c", write("json/warn.ini", `[service]\nlog_levl = INFO\n[ui]\nbar = 1\n${INSTALL_HOOK}`)]);
      expect(r.code).toBe(0);
      expect(r.stdout).toStartWith("# ");
      expect(jsonLines(r.stderr).map((l) => `${l.level} ${l.msg}`)).toEqual(["WARNING warn.ini: unknown key [service] log_levl ignored; did you mean log_level?", "WARNING warn.ini: unknown section [ui] ignored"]);
    });

    test("Upparat's README configuration passes unchanged (placeholders filled in)", async () => {
      let text = UPPARAT_README;
      for (const [placeholder, value] of Object.entries(PLACEHOLDERS)) text = text.replace(placeholder, value);
      expect(text).not.toMatch(/<[^>]+>/);
      const r = await run(["check-config", "-c", write("upparat/upparat.conf", text)], { cwd: "/" });
      expect(r).toMatchObject({ code: 0, stderr: "" });
      for (const line of ["log_level = ERROR", "port = 443", "thing_name = device-0001", "client_id = device-0001", "sentry = ********", "retry_interval = 30s", "max_retries = 10"]) {
        expect(r.stdout).toContain(`\n${line}\n`);
      }
    });

    test("Upparat's example config (a ; comment, no TLS) passes with Upparat's --config-file", async () => {
      const text = "[service]\nlog_level = DEBUG\ndownload_location = /tmp\n\n[broker]\nhost = mosquitto\nport = 1883\nthing_name = thing-1\n\n"
        + `[hooks]\nversion = ${hook("version")}\ndownload = ${hook("download")}\n; ready = <checks if your system is ready/stable>\n`
        + `install = ${hook("install")}\nrestart = ${hook("restart")}\n`;
      const r = await run(["check-config", "--config-file", write("upparat/example.ini", text)]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toContain("\n# ready =   (unset");
    });
  });
}
