// Hostile inputs against the built binary (issue 10, classes 6 and 8-12): state files of the
// wrong shape, secrets in URLs, job ids that are no AWS job id, an unsigned update under a
// configured key, values that pass a loose check and break later, signature fields of the
// wrong JSON type. Each case ends with one clear line, nothing installed, and a next start
// that works.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { makeCA, makeKey, tempDir } from "../../helpers/pki.ts";
import { jobsService } from "../../helpers/jobsservice.ts";
import { perTest, type Ini, type Rig } from "../../helpers/rig.ts";
import { MAX_REPORT_MESSAGE } from "../../../src/sources/source.ts";

const fx = perTest();
const svc = jobsService();

// The device records what its install hook was given in $T/installed.
function rig(set: Ini = {}): Rig {
  const r = fx.rig({ hooks: ["install"], set });
  r.writeHook("install", 'cat "$4" >> "$T/installed"');
  return r;
}
const installed = (r: Rig) => (existsSync(join(r.dir, "installed")) ? readFileSync(join(r.dir, "installed"), "utf8") : undefined);
const movedAside = (r: Rig, file: string) => readdirSync(r.state).filter((f) => f.startsWith(`${file}.corrupt-`));
const fileGets = () => fx.server.requests.filter((q) => q.method === "GET" && q.path.endsWith(".img"));
/** stderr lines that mention `text` */
const linesWith = (stderr: string, text: string) => stderr.split("\n").filter((l) => l.includes(text));

function writeState(r: Rig, file: string, value: unknown): void {
  execFileSync("mkdir", ["-p", r.state]);
  writeFileSync(join(r.state, file), JSON.stringify(value));
}

const OFFER = { id: "release:0.5.0:aaaaaaaaaaaa", source: "manifest", channel: "release", version: "0.5.0", url: "http://127.0.0.1:9/x.img", meta: "", force: false };
const JOB = { offer: OFFER, state: "download", startedAt: "2026-01-01T00:00:00.000Z", starts: {}, hooks: {}, seq: 1 };
const JOURNAL = { schema: 1, job: JOB, outbox: [], running: {} };

describe("class 6: state files of the wrong shape are moved aside with one line; otter goes on", () => {
  test.each([
    ["a string job", { ...JOURNAL, job: "upparat_1" }, 'job: expected an object, got "upparat_1"'],
    ["an unknown state", { ...JOURNAL, job: { ...JOB, state: "flying" } }, 'job.state: expected one of versionCheck'],
    ["a counter of the wrong type", { ...JOURNAL, job: { ...JOB, seq: "1" } }, 'job.seq: expected a whole number of at least 0, got "1"'],
    ["running: null", { ...JOURNAL, running: null }, "running: expected an object, got null"],
    ["a job without a url", { ...JOURNAL, job: { ...JOB, offer: { ...OFFER, url: undefined } } }, "job.offer.url: expected a string of at most 65536 characters, got nothing"],
    ["a report of the wrong shape", { ...JOURNAL, outbox: [{ jobId: 7 }] }, "outbox[0].jobId: expected a string of at most 4096 characters, got 7"],
    ["an install time no Date can hold", { ...JOURNAL, running: { version: "0.9.0", installedAt: 1e308 } }, "running.installedAt: expected a time in ms since the epoch, got 1e+308"],
    ["a megabyte-long version", { ...JOURNAL, job: { ...JOB, offer: { ...OFFER, version: "1".repeat(1 << 20) } } }, "job.offer.version: expected a string of at most 4096 characters"],
    ["a job in install without its verified file", { ...JOURNAL, job: { ...JOB, state: "install" } }, "job.artifact: expected the verified file a job in install hands to its hook, got nothing"],
  ])("journal.json with %s", async (_what, journal, problem) => {
    fx.server.publish("release", "1.0.0", "image 1.0.0");
    const r = rig();
    writeState(r, "journal.json", journal);
    const status = await r.run(["status"]);
    expect(status.code).toBe(0);
    expect(linesWith(status.stderr, "journal unreadable")).toEqual([expect.stringContaining(problem)]);
    expect(movedAside(r, "journal.json")).toEqual([]); // status changes nothing
    const first = await r.run();
    expect(first.code).toBe(0);
    expect(linesWith(first.stderr, "journal unreadable")).toEqual([expect.stringContaining(`(${problem}`)]);
    expect(first.stderr).not.toMatch(/TypeError|is not a function|undefined is not|null is not/);
    expect(movedAside(r, "journal.json")).toHaveLength(1);
    expect(installed(r)).toBe("image 1.0.0");
    const next = await r.run();
    expect([next.code, next.stderr]).toEqual([0, expect.not.stringContaining("unreadable")]);
  });

  test.each([
    ["approved as a string", { approved: "0a1b2c3d", denied: [], pendingSince: {} }, 'approved: expected a list, got "0a1b2c3d"'],
    ["a pending time that is text", { approved: [], denied: [], pendingSince: { "0a1b2c3d": "yesterday" } }, 'pendingSince.0a1b2c3d: expected a time in ms since the epoch, got "yesterday"'],
    ["null", null, "top level: expected an object, got null"],
    ["a list", [], "top level: expected an object, got []"],
  ])("approvals.json with %s", async (_what, approvals, problem) => {
    fx.server.publish("release", "1.0.0", "image 1.0.0");
    const r = rig({ policy: { approvals: "true", min_soak: "0" } });
    writeState(r, "approvals.json", approvals);
    const status = await r.run(["status"]);
    expect(status.code).toBe(0);
    expect(linesWith(status.stderr, "approvals unreadable")).toEqual([expect.stringContaining(problem)]);
    // A check still decides (the update waits for approval) instead of failing on every run.
    const check = await r.run();
    expect(check.code).toBe(3);
    expect(check.stdout).toContain("waiting for approval");
    expect(movedAside(r, "approvals.json")).toHaveLength(1);
    const id = /otter approve ([0-9a-f]{8})/.exec(check.stdout)![1]!;
    const approve = await r.run(["approve", id]);
    expect([approve.code, approve.stdout]).toEqual([0, expect.stringContaining(`approved ${id}`)]);
    expect((await r.run()).code).toBe(0);
    expect(installed(r)).toBe("image 1.0.0");
  });

  test("otter approve on approvals.json of the wrong shape: moved aside, one line, exit 2 for an id nothing waits for", async () => {
    const r = rig();
    writeState(r, "approvals.json", { approved: [1], denied: [], pendingSince: {} });
    const res = await r.run(["approve", "0a1b2c3d"]);
    expect(res.code).toBe(2);
    expect(linesWith(res.stderr, "approvals unreadable")).toEqual([expect.stringContaining("approved[0]: expected a string of at most 4096 characters, got 1")]);
    expect(res.stderr).toContain("no update waits for approval 0a1b2c3d");
    expect(movedAside(r, "approvals.json")).toHaveLength(1);
  });

  test.each([
    ["an entry of the wrong type", [{ id: 5 }], "[0].id: expected a string of at most 4096 characters, got 5"],
    ["an object", { jobs: [] }, "top level: expected a list"],
    ["a null entry", [null], "[0]: expected an object, got null"],
  ])("history.json with %s", async (_what, history, problem) => {
    fx.server.publish("release", "1.0.0", "image 1.0.0");
    const r = rig();
    writeState(r, "history.json", history);
    const status = await r.run(["status"]);
    expect(status.code).toBe(0);
    expect(linesWith(status.stderr, "history unreadable")).toEqual([expect.stringContaining(problem)]);
    const first = await r.run();
    expect(first.code).toBe(0);
    expect(installed(r)).toBe("image 1.0.0");
    expect(movedAside(r, "history.json")).toHaveLength(1);
    const after = await r.run(["status"]);
    expect([after.code, after.stderr]).toEqual([0, ""]);
    expect(after.stdout).toContain("SUCCEEDED");
  });
});

describe("class 8: credentials in channel and report URLs are never printed", () => {
  const SECRETS = ["S3cretPass", "T0kenValue", "R3portPass", "K3yValue", "W33klyPass", "W33kTok", "D0wnPass", "S1gValue"];

  test("check-config, --once logs, status, plan and report bodies mask userinfo and query values", async () => {
    const { host } = new URL(fx.server.url);
    fx.server.publish("release", "1.0.0", "image 1.0.0", { url: `http://dl:D0wnPass@${host}/missing.img?sig=S1gValue` });
    fx.server.files.set("/weekly.json", new TextEncoder().encode(JSON.stringify({ version: "2.0.0", url: "x.img", sha256: "abc" })));
    const r = rig({
      service: { report_url: `http://rep:R3portPass@${host}/report?key=K3yValue` },
      channels: { release: `http://fleet:S3cretPass@${host}/release.json?token=T0kenValue`, weekly: `http://u:W33klyPass@${host}/weekly.json?token=W33kTok` },
    });
    const outputs: Record<string, string> = {};
    for (const args of [["check-config"], ["--once"], ["status"], ["status", "--json"], ["plan"]]) {
      const res = await r.run(args);
      outputs[args.join(" ")] = res.stdout + res.stderr;
    }
    outputs.reports = JSON.stringify(fx.server.reports);
    expect(outputs["check-config"]).toContain(`release = http://***@${host}/release.json?token=***`);
    expect(outputs["check-config"]).toContain(`report_url = http://***@${host}/report?key=***`);
    expect(outputs["--once"]).toContain(`manifest weekly (http://***@${host}/weekly.json?token=***)`);
    expect(fx.server.finals()).toHaveLength(1); // the report reached report_url: the URL still works
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of SECRETS) expect({ where, leaked: text.includes(secret) ? secret : undefined }).toEqual({ where, leaked: undefined });
    }
  });
});

// A device in AWS mode on the test's broker, and a job document for a file of the update server.
let things = 0;
function device(set: Ini = {}): { r: Rig; thing: string } {
  const thing = `hostile${++things}-${process.pid}`;
  const r = rig({ ...set, service: { source: "aws", ...set.service }, broker: { host: "127.0.0.1", port: String(svc.broker.port), thing_name: thing, answer_timeout: "5", ...set.broker } });
  return { r, thing };
}
const doc = (version: string, extra: Record<string, unknown> = {}) => ({ action: "upparat-update", version, file: `${fx.server.url}/aws-${version}.img`, ...extra });

describe("class 9: job ids that are no AWS job id never reach a topic", () => {
  test('"+", "#", "/" and ".." are logged once each and skipped; the good job installs', async () => {
    const { r, thing } = device();
    const bad = ["upparat_a+b", "upparat_#", "upparat_a/b", "upparat_..", `upparat_${"x".repeat(60)}`];
    bad.forEach((jobId, i) => {
      fx.server.publish("aws", `6.6.${i}`, `evil ${i}`);
      svc.emu.createJob({ jobId, document: doc(`6.6.${i}`), things: [thing] }, { unchecked: true });
    });
    fx.server.publish("aws", "1.0.0", "image 1.0.0");
    svc.emu.createJob({ jobId: "upparat_good", document: doc("1.0.0"), things: [thing] });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(installed(r)).toBe("image 1.0.0");
    expect(svc.emu.execution("upparat_good", thing)!.status).toBe("SUCCEEDED");
    for (const jobId of bad) {
      expect(linesWith(res.stderr, "not an AWS job id")).toContainEqual(expect.stringContaining(JSON.stringify(jobId)));
      expect(svc.emu.execution(jobId, thing)!.updates).toEqual([]);
    }
    expect(linesWith(res.stderr, "not an AWS job id")).toHaveLength(bad.length);
    const next = await r.run();
    expect(next.code).toBe(0);
  }, 60_000);

  test('a thing name with "+", "#" or "/" (in otter.ini or -t): check-config and otter --once say so in one line and exit 2', async () => {
    for (const thing of ["dev/1", "dev+1", "#"]) {
      const r = rig({ service: { source: "aws" }, broker: { host: "127.0.0.1", port: String(svc.broker.port), thing_name: thing } });
      const good = rig({ service: { source: "aws" }, broker: { host: "127.0.0.1", port: String(svc.broker.port), thing_name: "dev-1" } });
      for (const [what, res] of [["check-config", await r.run(["check-config"])], ["--once", await r.run()], ["-t", await good.run(["--once", "-t", thing])]] as const) {
        const lines = linesWith(res.stderr, "thing_name");
        expect({ what, code: res.code, lines }).toEqual({ what, code: 2, lines: [expect.stringContaining(`otter.ini [broker] thing_name: expected a name without "+", "#" or "/" (it becomes an MQTT topic level), got ${JSON.stringify(thing)}; e.g. thing_name = dev-42`)] });
      }
      expect(svc.emu.messages(thing).received).toBe(0);
    }
  });

  test("a bad id in the journal's outbox is dropped with one line, never sent", async () => {
    const { r, thing } = device();
    writeState(r, "journal.json", { schema: 1, outbox: [{ jobId: "upparat_#", seq: 1, status: "SUCCEEDED", state: "complete_ready", message: "x", at: "2026-01-01T00:00:00Z" }], running: {} });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(linesWith(res.stderr, "not an AWS job id")).toEqual([expect.stringContaining("report rejected and dropped")]);
    expect(svc.emu.messages(thing).received).toBeGreaterThan(0); // still connected and asking
  }, 30_000);

  describe("class 10 (AWS): require_sha256", () => {
    test("an AWS job without sha256 installs after a TLS-or-allowed download, as with Upparat", async () => {
      const { r, thing } = device();
      fx.server.publish("aws", "1.0.0", "image 1.0.0");
      svc.emu.createJob({ jobId: "upparat_nosha_ok", document: doc("1.0.0"), things: [thing] });
      expect((await r.run()).code).toBe(0);
      expect(installed(r)).toBe("image 1.0.0");
    }, 30_000);

    test("with [verify] require_sha256 it is REJECTED naming the field, before any byte", async () => {
      const { r, thing } = device({ verify: { require_sha256: "true" } });
      fx.server.publish("aws", "1.0.0", "image 1.0.0");
      svc.emu.createJob({ jobId: "upparat_nosha", document: doc("1.0.0"), things: [thing] });
      const res = await r.run();
      expect(res.code).toBe(0);
      const e = svc.emu.execution("upparat_nosha", thing)!;
      expect([e.status, e.statusDetails!.state]).toEqual(["REJECTED", "job_invalid"]);
      expect(e.statusDetails!.message).toContain('"sha256"');
      expect(e.statusDetails!.message).toContain("require_sha256");
      expect(fileGets()).toEqual([]);
      expect(installed(r)).toBeUndefined();
    }, 30_000);
  });

  test("class 11 (AWS): a version with a C1 control or a bidi override is REJECTED naming the field", async () => {
    const { r, thing } = device();
    fx.server.publish("aws", "1.0.0", "image 1.0.0");
    svc.emu.createJob({ jobId: "upparat_bidi", document: doc("1.0\u202e0.1"), things: [thing] });
    svc.emu.createJob({ jobId: "upparat_c1", document: doc("1.0\x9b2J"), things: [thing] });
    const res = await r.run();
    for (const id of ["upparat_bidi", "upparat_c1"]) {
      const e = svc.emu.execution(id, thing)!;
      expect([e.status, e.statusDetails!.state]).toEqual(["REJECTED", "job_invalid"]);
      expect(e.statusDetails!.message).toContain('"version": expected a non-empty string');
    }
    expect(res.stdout + res.stderr).not.toMatch(/[\u202e\x9b]/);
    expect(fileGets()).toEqual([]);
  }, 30_000);
});

describe("class 10: a configured trust anchor requires signatures", () => {
  function publicKey(keyFile: string): string {
    const out = join(dirname(keyFile), "signer.pub.pem");
    execFileSync("openssl", ["pkey", "-in", keyFile, "-pubout", "-out", out]);
    return out;
  }
  const anchors: [string, () => Record<string, string>][] = [
    ["public_key", () => ({ public_key: publicKey(makeKey(tempDir(), "signer", "ec256")) })],
    ["ca", () => ({ ca: makeCA(tempDir(), "code-ca").certFile })],
  ];

  test.each(anchors)("[verify] %s set, require_signature unset: an unsigned update is refused", async (key, anchor) => {
    fx.server.publish("release", "1.0.0", "image 1.0.0");
    const r = rig({ verify: anchor() });
    const config = await r.run(["check-config"]);
    expect(config.stdout).toContain(`# signatures required: [verify] ${key} is set (write require_signature = false to allow unsigned updates)\nrequire_signature = true\n`);
    const res = await r.run();
    expect(res.code).toBe(1);
    expect(installed(r)).toBeUndefined();
    expect(fx.server.finals()).toEqual([expect.objectContaining({ status: "FAILED", state: "verification_failed", message: expect.stringContaining(`not signed; signatures required: [verify] ${key} is set`) })]);
  });

  test.each(anchors)("[verify] %s set with require_signature = false written: it installs, and check-config says so", async (key, anchor) => {
    fx.server.publish("release", "1.0.0", "image 1.0.0");
    const r = rig({ verify: { ...anchor(), require_signature: "false" } });
    const config = await r.run(["check-config"]);
    expect(config.stdout).toContain(`# signatures not required: require_signature = false, so an unsigned update installs although [verify] ${key} is set\nrequire_signature = false\n`);
    expect((await r.run()).code).toBe(0);
    expect(installed(r)).toBe("image 1.0.0");
  });
});

describe("class 11: values that would break later are refused at parse time", () => {
  test("NUL in meta: one line naming the field, nothing downloaded", async () => {
    fx.server.publish("release", "1.0.0", "image 1.0.0", { meta: "slot=b\0rm -rf" });
    const r = rig();
    const res = await r.run();
    expect(res.code).not.toBe(1);
    expect(linesWith(res.stderr, "manifest release")).toEqual([expect.stringContaining('"meta": expected text without NUL characters')]);
    expect(fileGets()).toEqual([]);
    expect(installed(r)).toBeUndefined();
  });

  test.each([["a bidi override", "1.0\u202e0.1", "u202e"], ["a C1 control", "1.0\x9b2J", "u009b"], ["an escape sequence", "1.0\x1b[2J", "u001b"], ["a zero-width space", "1.0\u200b", "u200b"]])(
    "%s in version: one line naming the field, shown escaped, nothing downloaded",
    async (_what, version, escaped) => {
      fx.server.publish("release", version, "image");
      const r = rig();
      const res = await r.run();
      const line = linesWith(res.stderr, "manifest release");
      expect(line).toEqual([expect.stringContaining('"version": expected a non-empty string of at most 128 printable characters')]);
      expect(line[0]).toContain(`got "1.0\\${escaped}`);
      expect(res.stdout + res.stderr).not.toMatch(/[\u202e\x9b\x1b\u200b]/);
      expect(fileGets()).toEqual([]);
    },
  );

  test("otter install --version with a bidi override: a usage error naming the option, nothing journaled", async () => {
    const r = rig();
    writeFileSync(join(r.dir, "image.bin"), "image");
    const res = await r.run(["install", join(r.dir, "image.bin"), "--version", "1.0\u202e0.1"]);
    expect(res.code).toBe(2);
    expect(linesWith(res.stderr, "otter install: --version: expected")).toHaveLength(1);
    expect(res.stdout + res.stderr).not.toContain("\u202e");
    expect(existsSync(join(r.state, "journal.json"))).toBe(false);
  });

  test("otter status shows what an older otter or an operator wrote escaped, never raw", async () => {
    const r = rig();
    writeState(r, "history.json", [{ id: "manual:1\u202e", version: "1.0\u202e0.1", status: "FAILED", state: "x", message: "hook said \x1b[2J\x1b]0;pwned\x07", startedAt: "t0", endedAt: "t1" }]);
    for (const args of [["status"], ["status", "--json"]]) {
      const res = await r.run(args);
      expect(res.code).toBe(0);
      expect(res.stdout).not.toMatch(/[\u202e\x1b\x07]/);
      expect(res.stdout).toContain("\\u202e");
    }
  });
});

describe("class 12: signature fields of the wrong type, a CA without a certificate", () => {
  test.each([
    ["algorithm", { value: "MEUCIQ==", algorithm: 5 }, '"signature.algorithm": expected one of rsa-pkcs1'],
    ["certificate", { value: "MEUCIQ==", certificate: ["-----BEGIN CERTIFICATE-----"] }, '"signature.certificate": expected the signer\'s PEM certificate'],
    ["value", { value: { nested: true } }, '"signature.value": expected base64 text'],
  ])("signature.%s of the wrong JSON type: one line naming it, nothing downloaded", async (_field, signature, line) => {
    fx.server.publish("release", "1.0.0", "image 1.0.0", { signature });
    const r = rig();
    const res = await r.run();
    expect(linesWith(res.stderr, "manifest release")).toEqual([expect.stringContaining(line)]);
    expect(res.stderr).not.toContain("is not a function");
    expect(fileGets()).toEqual([]);
  });

  test("[verify] ca set and a signature without a certificate: the report names the field and the fix", async () => {
    fx.server.publish("release", "1.0.0", "image 1.0.0", { signature: "MEUCIQ==" });
    const r = rig({ verify: { ca: makeCA(tempDir(), "code-ca").certFile } });
    const res = await r.run();
    expect(res.code).toBe(1);
    const message = fx.server.finals()[0]!.message as string;
    expect(message).toContain('the signature carries no "certificate"');
    expect(message).toContain("set [verify] public_key");
    expect(message).not.toContain("neither");
    expect(installed(r)).toBeUndefined();
  });
});

describe(`class 12: no report carries a message longer than ${MAX_REPORT_MESSAGE} characters`, () => {
  // 10 KB on one line: the hook's tail in the failure message, and install progress messages
  const LOUD = 'head -c 10240 /dev/zero | tr "\\0" x; echo; exit 1';
  const cut = (message: string) => ({ length: message.length <= MAX_REPORT_MESSAGE, marked: message.endsWith("…[cut]") });

  test("an install hook that prints 10 KB and fails: every report_url message is cut, ending in …[cut]", async () => {
    fx.server.publish("release", "1.0.0", "image 1.0.0");
    const r = rig();
    r.writeHook("install", LOUD);
    const res = await r.run();
    expect(res.code).toBe(1);
    const final = fx.server.finals()[0]!;
    expect([final.code, final.message.slice(0, 33)]).toEqual(["HOOK_FAILED", "install hook failed: Exit code: 1"]);
    expect(cut(final.message)).toEqual({ length: true, marked: true });
    for (const report of fx.server.reports) expect(report.message.length).toBeLessThanOrEqual(MAX_REPORT_MESSAGE);
    expect(linesWith(res.stderr, "x".repeat(4096)).length).toBeGreaterThan(0); // the log keeps it whole
  });

  test("a long message an older otter left in the outbox is cut when sent", async () => {
    fx.server.publish("release", "0.9.0", "image 0.9.0"); // the running version: nothing to do
    const r = rig();
    writeState(r, "journal.json", { schema: 1, outbox: [{ jobId: "release:0.5.0:aaaaaaaaaaaa", seq: 1, status: "FAILED", state: "installation_hook_failed", message: "y".repeat(60_000), at: "2026-01-01T00:00:00Z" }], running: {} });
    expect((await r.run()).code).toBe(0);
    expect(cut(fx.server.finals()[0]!.message)).toEqual({ length: true, marked: true });
  });

  test("AWS: the same hook's statusDetails.message is cut alike", async () => {
    const { r, thing } = device();
    r.writeHook("install", LOUD);
    fx.server.publish("aws", "1.0.0", "image 1.0.0");
    svc.emu.createJob({ jobId: "upparat_loud", document: doc("1.0.0"), things: [thing] });
    expect((await r.run()).code).toBe(1);
    const e = svc.emu.execution("upparat_loud", thing)!;
    expect([e.status, e.statusDetails!.code]).toEqual(["FAILED", "HOOK_FAILED"]);
    expect(cut(e.statusDetails!.message!)).toEqual({ length: true, marked: true });
    for (const u of e.updates) expect(u.statusDetails?.message?.length ?? 0).toBeLessThanOrEqual(MAX_REPORT_MESSAGE);
  }, 30_000);
});
