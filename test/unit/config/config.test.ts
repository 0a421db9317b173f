// loadConfig/parseConfig through the SCHEMA table: defaults, one-line errors, the rules
// between keys, overrides and warnings. Files are real (relative paths, executables).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, parseConfig, renderConfig, type Config } from "../../../src/config/config.ts";
import { SCHEMA, type Row } from "../../../src/config/schema.ts";

const tmp = mkdtempSync(join(tmpdir(), "otter-config-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FILE = join(tmp, "otter.ini");

// Config from INI text, as if read from tmp/otter.ini, with an empty environment.
const cfg = (text: string, opts: { thingName?: string; env?: Record<string, string> } = {}) =>
  parseConfig(text, FILE, { env: {}, ...opts });
const get = (config: Config, section: string, key: string) => (config as unknown as Record<string, Record<string, unknown>>)[section]![key];

function errorOf(text: string): string {
  try {
    cfg(text);
  } catch (err) {
    expect((err as { code?: string }).code).toBe("CONFIG_INVALID");
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

function file(name: string, mode = 0o644, content = "x\n"): string {
  const path = join(tmp, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

const G = 2 ** 30;
// What an empty config gives, key by key; every SCHEMA row with a default must be here.
const DEFAULTS: Record<string, unknown> = {
  "service.log_level": "WARNING", "service.download_location": "/var/lib/otter/downloads",
  "service.state_dir": "/var/lib/otter", "service.source": "auto", "service.check_interval": 3600,
  "service.check_jitter": 300, "service.max_starts": 5, "service.progress_interval": 15, "service.report_timeout": 30, "service.history_size": 50,
  "broker.host": "127.0.0.1", "broker.thing_name": hostname(), "broker.keepalive": 60, "broker.reconnect_cap": 120, "broker.answer_timeout": 30, "broker.job_prefix": "upparat_",
  "hooks.retry_interval": 60, "hooks.max_retries": 60, "hooks.timeout": 3600, "hooks.version_timeout": 60,
  "hooks.ready_timeout": 600, "hooks.kill_grace": 10,
  "download.max_file_size": 4 * G, "download.allow_http": false, "download.connect_timeout": 30,
  "download.stall_timeout": 60, "download.low_speed_limit": 1024, "download.low_speed_time": 60,
  "download.retry_base": 60, "download.retry_cap": 600, "download.max_attempts": 10,
  "download.budget_factor": 3, "download.bandwidth_limit": 0, "download.sync_interval": 16 * 2 ** 20,
  "download.credential_origins": [],
  "verify.require_sha256": false, "verify.max_unpacked_size": 16 * G, "verify.max_ratio": 200, "verify.max_entries": 100000,
  "policy.priority": ["release", "weekly", "nightly"], "policy.test_period": 168 * 3600,
  "policy.min_soak": 30 * 3600, "policy.new_overrides_old": [], "policy.approvals": false,
  "policy.download_outside_window": true, "policy.max_reflashes": 3, "policy.allow_downgrade": false, "tuf.target": "image",
};
const withDefault = (SCHEMA as readonly Row[]).filter((r) => r.def !== undefined);
const withoutDefault = (SCHEMA as readonly Row[]).filter((r) => r.def === undefined && !["port", "client_id"].includes(r.key));

describe("defaults", () => {
  test("the table names every SCHEMA row that has a default", () => {
    expect(withDefault.map((r) => `${r.section}.${r.key}`).sort()).toEqual(Object.keys(DEFAULTS).sort());
  });

  test.each(withDefault.map((r) => [`${r.section}.${r.key}`]))("%s", (name) => {
    const [section, key] = name.split(".");
    expect(get(cfg(""), section!, key!)).toEqual(DEFAULTS[name]);
  });

  test.each(withoutDefault.map((r) => [`${r.section}.${r.key}`]))("%s is unset", (name) => {
    const [section, key] = name.split(".");
    expect(get(cfg(""), section!, key!)).toBeUndefined();
  });

  test("port is 1883 and client_id the thing name", () => {
    const b = cfg("[broker]\nthing_name = dev-42\n").broker;
    expect([b.port, b.client_id]).toEqual([1883, "dev-42"]);
  });

  test("an empty value means the default", () => {
    expect(cfg("[hooks]\nretry_interval =\n").hooks.retry_interval).toBe(60);
  });
});

describe("values", () => {
  test.each([
    ["seconds", "[hooks]\nretry_interval = 90s", 90],
    ["minutes", "[hooks]\nretry_interval = 5m", 300],
    ["hours", "[hooks]\nretry_interval = 2h", 7200],
    ["days", "[hooks]\nretry_interval = 1d", 86400],
    ["bare hours", "[policy]\nmin_soak = 2", 7200],
    ["hours in minutes", "[policy]\nmin_soak = 90m", 5400],
    ["bytes", "[download]\nmax_file_size = 512K", 512 * 1024],
    ["bytes with iB", "[download]\nmax_file_size = 64MiB", 64 * 2 ** 20],
    ["bool yes", "[download]\nallow_http = yes", true],
    ["bool off", "[download]\nallow_http = off", false],
    ["level case", "[service]\nlog_level = debug", "DEBUG"],
    ["EXCEPTION (Upparat's README)", "[service]\nlog_level = EXCEPTION", "ERROR"],
    ["CRITICAL (Python logging)", "[service]\nlog_level = CRITICAL", "ERROR"],
    ["WARN (Python logging)", "[service]\nlog_level = WARN", "WARNING"],
    ["list", "[policy]\npriority = a,b  c", ["a", "b", "c"]],
  ])("%s", (_what, text, want) => {
    const [, section, key] = /^\[(\w+)\]\n(\w+)/.exec(text)!;
    expect(get(cfg(text), section!, key!)).toEqual(want);
  });

  test("lines: one header per continuation line", () => {
    expect(cfg("[download]\nheaders =\n  X-A: 1\n  X-B: two words\n").download.headers).toEqual(["X-A: 1", "X-B: two words"]);
  });
});

describe("one-line errors", () => {
  test.each([
    ["[hooks]\nretry_interval = 6o", 'otter.ini [hooks] retry_interval: expected a duration (seconds, or with s/m/h/d), got "6o"; e.g. retry_interval = 60'],
    ["[hooks]\nmax_retries = ten", 'otter.ini [hooks] max_retries: expected a whole number of at least 1, got "ten"; e.g. max_retries = 60'],
    ["[hooks]\nmax_retries = 0", 'otter.ini [hooks] max_retries: expected a whole number of at least 1, got "0"; e.g. max_retries = 60'],
    ["[download]\nbudget_factor = x", 'otter.ini [download] budget_factor: expected a number of at least 1, got "x"; e.g. budget_factor = 3'],
    ["[download]\nallow_http = maybe", 'otter.ini [download] allow_http: expected true or false, got "maybe"; e.g. allow_http = false'],
    ["[policy]\nmin_soak = soon", 'otter.ini [policy] min_soak: expected a duration (hours, or with s/m/h/d), got "soon"; e.g. min_soak = 30'],
    ["[download]\nmax_file_size = big", 'otter.ini [download] max_file_size: expected a size (bytes, or with K/M/G/T) of at least 1, got "big"; e.g. max_file_size = 4G'],
    ["[service]\nlog_level = verbose", 'otter.ini [service] log_level: expected one of DEBUG, INFO, WARNING, ERROR, got "verbose"; e.g. log_level = WARNING'],
    ["[service]\nsource = mqtt", 'otter.ini [service] source: expected one of auto, aws, manifest, got "mqtt"; e.g. source = auto'],
    ["[broker]\nport = 70000", 'otter.ini [broker] port: expected a whole number from 1 to 65535, got "70000"; e.g. port = 8883'],
    ["[broker]\nstep_timeout = 0", 'otter.ini [broker] step_timeout: expected a whole number of at least 1, got "0"; e.g. step_timeout = 30'],
    ["[verify]\npublic_key = /nonexistent/key.pem", 'otter.ini [verify] public_key: expected a readable file, got "/nonexistent/key.pem"; e.g. public_key = /etc/otter/ca.pem'],
    ["[hooks]\ninstall = /nonexistent/install", 'otter.ini [hooks] install: expected an existing executable file, got "/nonexistent/install"; e.g. install = /usr/local/bin/otter-install'],
    ["[channels]\nrelease = ftp://x/r.json", 'otter.ini [channels] release: expected a manifest URL (https://, http:// or file://) or a TUF repository\'s metadata URL (tuf+https://), got "ftp://x/r.json"; e.g. release = https://updates.example.com/release.json'],
    ["[download]\ncredential_origins = https://files.example.com/path", 'otter.ini [download] credential_origins: expected origins (scheme://host[:port], no path), got "https://files.example.com/path"; e.g. credential_origins = https://files.example.com:8443'],
    ["[channels]\nrelease = tuf+https://u.example/metadata", "otter.ini [tuf] trusted_root: TUF channel release needs the repository's trusted root.json, pinned on the device; e.g. trusted_root = /etc/otter/root.json"],
    ["[hooks]\nversion = 1\n[hooks]\n", "otter.ini:3: section [hooks] appears twice"],
  ])("%j", (text, message) => {
    expect(errorOf(text)).toBe(message);
  });

  test("a hook that exists but is not executable is refused", () => {
    const path = file("hooks/noexec", 0o644);
    expect(errorOf(`[hooks]\nready = ${path}`)).toBe(`otter.ini [hooks] ready: expected an existing executable file, got "${path}"; e.g. ready = /usr/local/bin/otter-ready`);
  });

  test("every message is one line, even for a multi-line value", () => {
    expect(errorOf("[hooks]\nretry_interval = 6o\n  continued")).toBe('otter.ini [hooks] retry_interval: expected a duration (seconds, or with s/m/h/d), got "6o\\ncontinued"; e.g. retry_interval = 60');
  });
});

describe("broker TLS", () => {
  const [ca, cert, key] = ["ca.pem", "cert.pem", "key.pem"].map((n) => file(n));
  test.each([
    [`cafile = ${ca}`, 1],
    [`cafile = ${ca}\ncertfile = ${cert}`, 2],
    [`keyfile = ${key}`, 1],
  ])("all three or none: %j", (lines, n) => {
    expect(errorOf(`[broker]\n${lines}`)).toBe(`otter.ini [broker] cafile, certfile, keyfile: set all three for mutual TLS or none; ${n} of 3 are set`);
  });

  test("all three set: port defaults to 8883, an explicit port is kept", () => {
    const tls = `[broker]\ncafile = ${ca}\ncertfile = ${cert}\nkeyfile = ${key}\n`;
    expect(cfg(tls).broker.port).toBe(8883);
    expect(cfg(`${tls}port = 443\n`).broker.port).toBe(443);
  });
});

describe("overrides, aliases, paths, warnings", () => {
  test("-t overrides thing_name, and client_id follows it", () => {
    const b = cfg("[broker]\nthing_name = from-file\n", { thingName: "from-cli" }).broker;
    expect([b.thing_name, b.client_id]).toEqual(["from-cli", "from-cli"]);
  });

  test('in AWS mode a thing name (from the file or -t) with "+", "#" or "/" is refused; manifest mode never uses it', () => {
    const line = (got: string) => `otter.ini [broker] thing_name: expected a name without "+", "#" or "/" (it becomes an MQTT topic level), got ${JSON.stringify(got)}; e.g. thing_name = dev-42`;
    expect(errorOf("[broker]\nthing_name = dev/42\n")).toBe(line("dev/42"));
    expect(() => cfg("[broker]\nthing_name = dev-42\n", { thingName: "#" })).toThrow(line("#"));
    expect(cfg("[broker]\nthing_name = dev/42\n[channels]\nrelease = https://u/r.json\n").broker.thing_name).toBe("dev/42");
  });

  test("an explicit client_id is kept", () => {
    expect(cfg("[broker]\nclient_id = upparat\n").broker.client_id).toBe("upparat");
  });

  test("sentry_dsn (Upparat's README) is read as sentry", () => {
    expect(cfg("[service]\nsentry_dsn = https://k@sentry.example/1\n").service.sentry).toBe("https://k@sentry.example/1");
    expect(cfg("[service]\nsentry = https://k@sentry.example/2\n").service.sentry).toBe("https://k@sentry.example/2");
  });

  test("download_location defaults to downloads in state_dir, also when OTTER_STATE_DIR moves it", () => {
    expect(cfg("[service]\nstate_dir = /from/file\n").service.download_location).toBe("/from/file/downloads");
    expect(cfg("[service]\nstate_dir = /from/file\n", { env: { OTTER_STATE_DIR: "/from/env" } }).service.download_location).toBe("/from/env/downloads");
    expect(cfg("[service]\ndownload_location = /dl\n", { env: { OTTER_STATE_DIR: "/from/env" } }).service.download_location).toBe("/dl");
  });

  test("OTTER_STATE_DIR overrides state_dir", () => {
    expect(cfg("[service]\nstate_dir = /from/file\n", { env: { OTTER_STATE_DIR: "/from/env" } }).service.state_dir).toBe("/from/env");
  });

  test("relative hook and key paths are resolved against the config file's directory", () => {
    const hook = file("hooks/version", 0o755);
    writeFileSync(join(tmp, "rel.ini"), "[hooks]\nversion = hooks/version\n[verify]\npublic_key = ca.pem\n");
    const rel = loadConfig(join(tmp, "rel.ini"), { env: {} });
    expect([rel.hooks.version, rel.verify.public_key]).toEqual([hook, join(tmp, "ca.pem")]);
  });

  test("a missing relative hook names the resolved path", () => {
    expect(errorOf("[hooks]\ninstall = hooks/absent")).toContain(`got "${join(tmp, "hooks/absent")}"`);
  });

  test("unknown keys and sections are warnings, [DEFAULT] keys are not", () => {
    const config = cfg("[DEFAULT]\nroot = /r\n[service]\nlog_levl = INFO\n[brokr]\nhost = x\n[channels]\nrelease = https://u/r.json\n");
    expect(config.warnings).toEqual(["otter.ini: unknown key [service] log_levl ignored; did you mean log_level?", "otter.ini: unknown section [brokr] ignored"]);
    expect(config.channels).toEqual({ release: "https://u/r.json" });
  });

  // Upparat reads its keys with configparser's get(), which interpolates only what it reads.
  test("a lone % in a key otter ignores (or an unused [DEFAULT]) does not stop otter", () => {
    const config = cfg("[DEFAULT]\nnote = 100% unused\n[service]\nlog_level = INFO\ncomment = 50% done\n[ui]\nbar = 5%\n[channels]\nrelease = https://u/r.json\n");
    expect(config.service.log_level).toBe("INFO");
    expect(config.channels).toEqual({ release: "https://u/r.json" });
    expect(config.warnings).toEqual(["otter.ini: unknown key [service] comment ignored", "otter.ini: unknown section [ui] ignored"]);
  });

  test("a lone % in a key otter reads is one line with its line number", () => {
    expect(errorOf("[service]\nlog_level = INFO\nstate_dir = /var/lib/50%\n")).toBe('otter.ini:3: [service] state_dir: a lone "%" in "/var/lib/50%"; write %% for a literal %');
  });

  test("a bad reference is reported at the line of the value that has it", () => {
    expect(errorOf("[DEFAULT]\nroot = /r%\n\n[service]\nstate_dir = %(root)s/state\n")).toBe('otter.ini:2: [service] root: a lone "%" in "/r%"; write %% for a literal %');
    expect(errorOf("[service]\nstate_dir = %(nope)s/state\n")).toBe('otter.ini:2: [service] state_dir: "%(nope)s" names no key in [service] or [DEFAULT]');
  });

  test("a channel's URL is interpolated; a bad one names its line", () => {
    expect(cfg("[DEFAULT]\nhost = https://u\n[channels]\nrelease = %(host)s/r.json\n").channels).toEqual({ release: "https://u/r.json" });
    expect(errorOf("[channels]\nrelease = https://u/r.json\nweekly = https://u/50%.json\n")).toStartWith("otter.ini:3: [channels] weekly: a lone");
  });

  test("a missing file is one line naming it", () => {
    expect(() => loadConfig(join(tmp, "absent.ini"))).toThrow(`${join(tmp, "absent.ini")}: cannot read config (ENOENT); pass an existing file with -c FILE`);
  });
});

describe("renderConfig", () => {
  test("masks secrets and reads back to the same values", () => {
    const key = file("secret.pem", 0o600, "SECRET KEY\n");
    const text = `[service]\nsentry = https://s3cr3t@sentry.example/1\n[download]\nkeyfile = ${key}\nheaders =\n  Authorization: Bearer t0ken\n`;
    const shown = renderConfig(cfg(text));
    expect(shown).not.toContain("s3cr3t");
    expect(shown).not.toContain("t0ken");
    expect(shown).not.toContain(key);
    expect(shown.match(/\*{8}/g)).toHaveLength(3);
    const again = cfg(shown.replace(/^(sentry|keyfile|headers) = \*+$/gm, "").replace(/^#.*$/gm, ""));
    expect(again.hooks).toEqual(cfg(text).hooks);
    expect(again.policy).toEqual(cfg(text).policy);
  });
});
