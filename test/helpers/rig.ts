// A device on disk for pipeline tests: a temp folder with real hook scripts that log
// their argv, an otter.ini pointing at them, and helpers to run the built otter, pause a
// hook mid-way and kill everything like a power cut.
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach } from "bun:test";
import { UpdateServer } from "./updateserver.ts";

export const OTTER = resolve(process.env.OTTER_BIN ?? join(import.meta.dir, "../../dist/otter-linux-x64"));
/** The single-file bundle as 32-bit ARM devices run it. */
export const NODE_BUNDLE = ["node", resolve(join(import.meta.dir, "../../dist/otter.mjs"))];

export const HOOKS = ["version", "download", "install", "restart", "ready", "rollback"] as const;
export type HookName = (typeof HOOKS)[number];

// What each hook does after logging; $T is the rig folder. The "device" runs the version in
// $T/version; install stages the file, restart makes it current (a reboot when $T/reboot exists).
const BODY: Record<HookName, string> = {
  version: 'cat "$T/version"',
  download: ":",
  install: 'cp "$4" "$T/staged"; echo "installing $(cat "$T/staged")"',
  restart: 'cp "$T/staged" "$T/version"; if [ -f "$T/reboot" ]; then rm -f "$T/reboot"; kill -9 $PPID; sleep 5; fi',
  ready: '[ "$(cat "$T/version")" = "$(cat "$T/staged" 2>/dev/null || cat "$T/version")" ]',
  rollback: ':',
};

/** section → key → value, merged over the rig's defaults */
export type Ini = Record<string, Record<string, string>>;

export interface RigOptions {
  serverUrl: string;
  channels?: string[];
  hooks?: readonly HookName[];
  set?: Ini;
  version?: string;
  /** how to run otter (default: the built binary) */
  command?: string[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Rig {
  readonly dir = mkdtempSync(join(tmpdir(), "otter-rig-"));
  readonly config = join(this.dir, "otter.ini");
  readonly state = join(this.dir, "state");
  private ini: Ini;
  private readonly command: string[];

  constructor(opts: RigOptions) {
    this.command = opts.command ?? [OTTER];
    const hooks = opts.hooks ?? HOOKS;
    for (const name of hooks) this.writeHook(name, BODY[name]);
    writeFileSync(join(this.dir, "version"), `${opts.version ?? "0.9.0"}\n`);
    const ini: Ini = {
      service: {
        state_dir: this.state, download_location: join(this.dir, "dl"), check_jitter: "0", check_interval: "1",
        report_url: `${opts.serverUrl}/report`, log_level: "DEBUG",
      },
      hooks: { ...Object.fromEntries(hooks.map((h) => [h, `hooks/${h}`])), retry_interval: "0.1", max_retries: "3", timeout: "10", kill_grace: "1" },
      download: { allow_http: "true", retry_base: "0.05", retry_cap: "0.2" },
      // The image otter meets here counts as just installed (unknown is the safe side): no
      // soak and no test period, so pipeline tests install at once. Policy tests set their own.
      policy: { test_period: "0", min_soak: "0" },
      channels: Object.fromEntries((opts.channels ?? ["release"]).map((c) => [c, `${opts.serverUrl}/${c}.json`])),
    };
    this.ini = ini;
    this.configure(opts.set ?? {});
  }

  /** Merge `set` into the config and rewrite otter.ini (a running daemon keeps what it read). */
  configure(set: Ini): void {
    for (const [section, values] of Object.entries(set)) this.ini[section] = { ...this.ini[section], ...values };
    const text = Object.entries(this.ini).map(([s, kv]) => [`[${s}]`, ...Object.entries(kv).map(([k, v]) => `${k} = ${v}`)].join("\n"));
    writeFileSync(this.config, text.join("\n\n") + "\n");
  }

  /** (Re)write a hook: it logs "NAME start ARGS", obeys pause/exit files, runs body, logs "NAME done". */
  writeHook(name: HookName, body: string): void {
    mkdirSync(join(this.dir, "hooks"), { recursive: true });
    const path = join(this.dir, "hooks", name);
    writeFileSync(path, `#!/bin/sh
T='${this.dir}'
echo "${name} start $*" >> "$T/log"
if [ -f "$T/pause-${name}" ]; then
  n=$(cat "$T/pause-${name}"); if [ "\${n:-0}" -gt 0 ]; then echo $((n - 1)) > "$T/pause-${name}"; else rm -f "$T/pause-${name}"; echo $$ > "$T/at-${name}"; exec sleep 600; fi
fi
if [ -s "$T/exit-${name}" ]; then code=$(head -n1 "$T/exit-${name}"); sed -i 1d "$T/exit-${name}"; [ "$code" = 0 ] || { echo "${name} exit $code" >> "$T/log"; exit "$code"; }; fi
${body} || exit $?
echo "${name} done" >> "$T/log"
`);
    chmodSync(path, 0o755);
  }

  /** The hook pauses (and records its pid) when it runs, after `skip` runs that do not. */
  pauseAt(name: HookName, skip = 0): void {
    writeFileSync(join(this.dir, `pause-${name}`), String(skip));
  }

  /** The next runs of the hook exit with these codes, one per run (then normal). */
  exits(name: HookName, ...codes: number[]): void {
    writeFileSync(join(this.dir, `exit-${name}`), codes.join("\n") + "\n");
  }

  /** Wait until a paused hook has reached its pause; returns its pid (= its process group). */
  async pausedPid(name: HookName, ms = 20_000): Promise<number> {
    const file = join(this.dir, `at-${name}`);
    await waitFor(() => existsSync(file) && readFileSync(file, "utf8").trim() !== "", ms, `${name} hook to pause`);
    const pid = Number(readFileSync(file, "utf8"));
    rmSync(file);
    return pid;
  }

  /** Run otter until `name` starts, then cut the power: SIGKILL otter and the hook's group. */
  async powerCutAt(name: HookName): Promise<void> {
    this.pauseAt(name);
    const otter = this.start();
    killGroup(await this.pausedPid(name));
    otter.kill("SIGKILL");
    await otter.exited;
  }

  /** Change the journal on disk (to recreate an instant no hook can pause at). */
  editJournal(change: (journal: any) => void): void {
    const journal = this.journal();
    change(journal);
    writeFileSync(join(this.state, "journal.json"), JSON.stringify(journal));
  }

  log(): string[] {
    return existsSync(join(this.dir, "log")) ? readFileSync(join(this.dir, "log"), "utf8").trim().split("\n") : [];
  }

  count(line: string): number {
    return this.log().filter((l) => l === line).length;
  }

  version(): string {
    return readFileSync(join(this.dir, "version"), "utf8").trim();
  }

  journal(): any {
    const p = join(this.state, "journal.json");
    return existsSync(p) ? JSON.parse(readFileSync(p, "utf8")) : undefined;
  }

  start(args: string[] = ["--once"], env: Record<string, string> = {}) {
    return Bun.spawn([...this.command, ...args, "-c", this.config], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  }

  async run(args: string[] = ["--once"], env: Record<string, string> = {}): Promise<RunResult> {
    const p = this.start(args, env);
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Start otter on a download of `path` that the server holds after `at` bytes, wait until
 * they are all on disk, and SIGKILL otter.
 */
export async function killMidDownload(r: Rig, server: UpdateServer, path: string, at: number): Promise<void> {
  const hold = server.holdAt(path, at);
  const otter = r.start();
  await hold.reached;
  const dl = join(r.dir, "dl");
  const written = () => readdirSync(dl).filter((f) => f.endsWith(".part")).map((f) => statSync(join(dl, f)).size)[0];
  await waitFor(() => existsSync(dl) && written() === at, 10_000, `${at} bytes on disk`);
  otter.kill("SIGKILL");
  await otter.exited;
  hold.release(false);
}

/** SIGKILL a whole process group, like a power cut does to a hook. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Poll until cond() holds; fails the test with `what` after ms. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/**
 * Per test: a fresh update server on 127.0.0.1, and every rig made with `rig()` removed
 * afterwards. A rig talks to that server unless given another serverUrl.
 */
export function perTest() {
  const fixture = {
    server: undefined as unknown as UpdateServer,
    rigs: [] as Rig[],
    rig(opts: Partial<RigOptions> = {}): Rig {
      const r = new Rig({ serverUrl: fixture.server.url, ...opts });
      fixture.rigs.push(r);
      return r;
    },
  };
  beforeEach(() => {
    fixture.server = new UpdateServer();
  });
  afterEach(() => {
    fixture.server.stop();
    fixture.rigs.splice(0).forEach((r) => r.cleanup());
  });
  return fixture;
}
