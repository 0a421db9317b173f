// otter's entry point: parse the command line, set up logging, run the command, exit
// with the documented code. Heavy modules are imported only by the commands that need them.
import { existsSync } from "node:fs";
import { ConfigError, EXIT, UsageError, describe, exitCodeOf, type ExitCode } from "../base/errors.ts";
import { configureLog, log, say } from "../base/log.ts";
import { printable } from "../base/printable.ts";
import { captureError, startSentry, stopSentry } from "../base/sentry.ts";
import { configProblems, installHookProblem } from "../config/checks.ts";
import { loadConfig, renderConfig, type Config } from "../config/config.ts";
import { parseCli, type Cli } from "./args.ts";
import { VERSION, versionText } from "./version.ts";

function configPath(cli: Cli): string {
  const path = cli.config ?? process.env.OTTER_CONFIG ?? "/etc/otter/otter.ini";
  if (!cli.config && !process.env.OTTER_CONFIG && !existsSync(path)) {
    throw new UsageError(`no config: pass -c FILE (or set OTTER_CONFIG, or create ${path})`);
  }
  return path;
}

// The commands that run jobs (a SIGHUP's reload reads through here too).
const RUNS_JOBS: ReadonlySet<Cli["command"]> = new Set(["run", "install"]);

function readConfig(cli: Cli): Config {
  const config = loadConfig(configPath(cli), { thingName: cli.thingName });
  if (!cli.verbose && !cli.quiet) configureLog({ level: config.service.log_level });
  // A config no job can run with stops these at once, in check-config's very line.
  const refused = RUNS_JOBS.has(cli.command) ? installHookProblem(config) : undefined;
  if (refused) throw new ConfigError(refused);
  const { errors, warnings } = configProblems(config);
  for (const w of warnings) log.warn(w);
  for (const e of errors) log.error(e);
  return config;
}

// check-config: the effective config on stdout; exit 2 when it cannot work (or, with --strict, has a warning).
function checkConfig(cli: Cli): ExitCode {
  const config = readConfig(cli);
  print(renderConfig(config));
  const { errors, warnings } = configProblems(config);
  if (errors.length) throw new ConfigError(`${errors.length} problem${errors.length > 1 ? "s" : ""} above can never work; fix ${errors.length > 1 ? "them" : "it"} and run otter check-config again`);
  if (cli.strict && warnings.length) throw new ConfigError(`--strict: ${warnings.length} warning${warnings.length > 1 ? "s" : ""} above; fix ${warnings.length > 1 ? "them" : "it"} or drop --strict`);
  return EXIT.ok;
}

// The commands that do work send their errors to Sentry when a DSN is configured.
async function readConfigForWork(cli: Cli, config = readConfig(cli)): Promise<Config> {
  const dsn = config.service.sentry;
  if (dsn) await startSentry({ dsn, release: `otter@${VERSION}`, serverName: config.broker.thing_name });
  return config;
}

// Everything on stdout goes through here: URL credentials masked, control and bidi characters escaped.
const print = (text: string) => process.stdout.write(text.split("\n").map(printable).join("\n"));
const printLine = (line: string) => print(`otter: ${line}\n`);

async function run(cli: Cli): Promise<ExitCode> {
  switch (cli.command) {
    case "version":
      process.stdout.write(versionText());
      return EXIT.ok;
    case "help":
      process.stdout.write((await import("./help.ts")).helpText(cli.args[0]));
      return EXIT.ok;
    case "completion":
      process.stdout.write((await import("./completion.ts")).bashCompletion());
      return EXIT.ok;
    case "check-config":
      return checkConfig(cli);
    case "status": {
      const { statusOf, formatStatus } = await import("./status.ts");
      const status = statusOf(readConfig(cli));
      print(cli.json ? JSON.stringify(status) + "\n" : formatStatus(status));
      return EXIT.ok;
    }
    case "run": {
      const { runAgent } = await import("../agent/agent.ts");
      const progress = cli.once ? (await import("../transfer/progress.ts")).progressBar() : undefined;
      return runAgent(await readConfigForWork(cli), { once: cli.once, jitter: cli.jitter, summary: cli.once ? printLine : undefined, progress, reload: () => readConfig(cli) });
    }
    case "plan": {
      const { plan } = await import("./plan.ts");
      print(await plan(readConfig(cli), cli.json));
      return EXIT.ok;
    }
    case "approve":
    case "deny": {
      const { decideApproval } = await import("./approve.ts");
      printLine(await decideApproval(readConfig(cli), cli.command, cli.args[0]!));
      return EXIT.ok;
    }
    case "install": {
      const [{ install, installRequest }, { progressBar }] = await Promise.all([import("./install.ts"), import("../transfer/progress.ts")]);
      const config = readConfig(cli);
      const req = installRequest(config, cli.args[0]!, cli.options); // usage errors before Sentry: nothing ran
      await readConfigForWork(cli, config);
      return install(config, req, printLine, progressBar());
    }
  }
}

async function main(argv: string[]): Promise<ExitCode> {
  try {
    // Before parsing, so that a usage error is a JSON line too when JSON was asked for.
    configureLog({ json: argv.includes("--json-logs") });
    const cli = parseCli(argv);
    configureLog({ json: cli.jsonLogs, level: cli.verbose ? "DEBUG" : cli.quiet ? "ERROR" : "WARNING" });
    return await run(cli);
  } catch (err) {
    // A usage error is said to whoever typed the command: one plain line, no timestamp or level.
    if (err instanceof UsageError) say(describe(err), { code: err.code });
    else log.error(describe(err), { code: (err as { code?: string }).code });
    // Usage, config and lock errors are the caller's to fix, transient ones pass: only failures go to Sentry.
    if (exitCodeOf(err) === EXIT.failed) captureError(err);
    return exitCodeOf(err);
  }
}

// No top-level await: the entry must still build as CommonJS (bun --bytecode without --format=esm).
void main(process.argv.slice(2)).then(async (code) => {
  await stopSentry();
  process.exit(code);
});
