// Errors reach Sentry from the built otter (Bun binary and node bundle): a real ingestion
// endpoint on 127.0.0.1 records the envelopes; only failures are sent, never config errors.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import pkg from "../../../package.json" with { type: "json" };
import { otter, ROOT, type OtterOptions } from "../../helpers/otter.ts";
import { startFakeSentry, type FakeSentry } from "../../helpers/sentryserver.ts";

const tmp = mkdtempSync(join(tmpdir(), "otter-sentry-"));
const sentry: FakeSentry = await startFakeSentry();
afterAll(async () => {
  await sentry.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => void sentry.envelopes.splice(0));

const ENV = { OTTER_CONFIG: undefined, OTTER_STATE_DIR: undefined };
// A state_dir under a plain file: otter cannot create it and exits 1 with ENOTDIR, an error nobody expected.
writeFileSync(join(tmp, "afile"), "");
function config(name: string, service: string): string {
  const path = join(tmp, name);
  mkdirSync(join(tmp, "downloads"), { recursive: true });
  writeFileSync(path, `[service]\n${service}\nstate_dir = ${join(tmp, "afile/state")}\ndownload_location = ${join(tmp, "downloads")}\n\n[hooks]\ninstall = /bin/true\n\n[channels]\nrelease = https://127.0.0.1:9/release.json\n`);
  return path;
}

const BINS: Record<string, OtterOptions> = {
  [process.env.OTTER_BIN ?? "dist/otter-linux-x64"]: {},
  "node dist/otter.mjs": { bin: "node dist/otter.mjs" },
};

for (const [name, bin] of Object.entries(BINS)) {
  const run = (args: string[]) => otter(args, { ...bin, env: ENV });

  describe(name, () => {
    test("an error that ends otter with exit 1 arrives with release, server name, tags and breadcrumbs", async () => {
      const r = await run(["--once", "-t", "device-42", "-c", config("exit1.ini", `sentry = ${sentry.dsn}`)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("ENOTDIR");
      const events = sentry.events();
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event.release).toBe(`otter@${pkg.version}`);
      expect(event.server_name).toBe("device-42");
      expect(event.tags).toEqual({ code: "ENOTDIR" });
      expect(event.exception.values.at(-1).value).toContain("ENOTDIR");
      expect(event.breadcrumbs.map((b: { message: string }) => b.message).join("\n")).toContain("ENOTDIR");
      expect(sentry.envelopes[0]!.auth).toContain("sentry_key=publickey");
    });

    test("sentry_dsn (Upparat's name) works too", async () => {
      const r = await run(["--once", "-c", config("alias.ini", `sentry_dsn = ${sentry.dsn}`)]);
      expect(r.code).toBe(1);
      expect(sentry.events()).toHaveLength(1);
    });

    test("a config error is not sent (there is no config to trust yet)", async () => {
      const r = await run(["--once", "-c", config("bad.ini", `sentry = ${sentry.dsn}\ncheck_interval = 6o`)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("check_interval");
      expect(sentry.envelopes).toHaveLength(0);
    });

    test("an unreachable Sentry changes nothing: same exit code, same log lines", async () => {
      const { createServer } = await import("node:net");
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as { port: number }).port;
      await new Promise((resolve) => closed.close(resolve));
      const r = await run(["--once", "-c", config("unreachable.ini", `sentry = http://publickey@127.0.0.1:${port}/1`)]);
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("ENOTDIR");
    });

    test("a malformed DSN costs one warning line, not the run", async () => {
      const r = await run(["--once", "-c", config("baddsn.ini", "sentry = not-a-dsn")]);
      expect(r.code).toBe(1);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines.filter((l) => l.includes("sentry:"))).toHaveLength(1);
      expect(lines.at(-1)).toContain("ENOTDIR");
      expect(sentry.envelopes).toHaveLength(0);
    });
  });
}

// Asynchronous: the fake endpoint answers from this process's event loop.
function bun(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(join(ROOT, "node_modules/.bin/bun"), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((resolve, reject) => child.once("error", reject).once("close", (code) => resolve({ code, stderr })));
}

test("captureFailure sends a FAILED job as a message with its tags; success and cancellation are not sent", async () => {
  expect(await bun([join(ROOT, "test/fixtures/sentry-failure.ts"), sentry.dsn])).toEqual({ code: 0, stderr: "" });
  const events = sentry.events();
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    level: "error",
    release: "otter@9.9.9",
    server_name: "device-7",
    message: "job FAILED: download_failed: HTTP 404",
    tags: { job_id: "upparat_42", job_state: "download_failed", job_status: "FAILED", code: "DOWNLOAD_HTTP", version: "2.0", channel: "release" },
  });
});

test("an uncaught error is logged, sent as fatal, and ends the process with 1 as Node would", async () => {
  const r = await bun([join(ROOT, "test/fixtures/sentry-uncaught.ts"), sentry.dsn]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("ERROR   uncaught error: boom outside any try");
  const events = sentry.events();
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ level: "fatal", release: "otter@9.9.9" });
  expect(events[0]!.exception.values.at(-1)).toMatchObject({ type: "Error", value: "boom outside any try" });
});
