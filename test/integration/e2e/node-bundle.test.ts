// dist/otter.mjs end to end, as a 32-bit ARM device runs it under Node: the same pipeline,
// but undici for HTTP and Node's own child_process, fs and mqtt stack. The Bun binary's
// suites cover the behaviour in depth; these prove the bundle does the whole job too.
import { describe, expect, test } from "bun:test";
import { jobsService } from "../../helpers/jobsservice.ts";
import { killMidDownload, NODE_BUNDLE, perTest } from "../../helpers/rig.ts";

const fx = perTest();
const MiB = 2 ** 20;

describe("node dist/otter.mjs", () => {
  test("a manifest update goes through every hook and is reported once", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0");
    const r = fx.rig({ command: NODE_BUNDLE });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(r.version()).toBe("1.0.0");
    expect(r.log().filter((l) => l.endsWith(" done")).map((l) => l.split(" ")[0])).toEqual(["version", "version", "download", "install", "restart", "version", "ready"]); // the first: otter meets the device
    expect(fx.server.finals().map((f) => `${f.status}:${f.state}`)).toEqual(["SUCCEEDED:complete_ready"]);
  }, 30_000);

  test("killed mid-download: the next start fetches only the bytes not yet written", async () => {
    fx.server.publish("release", "1.0.0", "1.0.0".padEnd(4 * MiB, "\n"));
    const r = fx.rig({ command: NODE_BUNDLE, set: { download: { sync_interval: "16M" } } });
    await killMidDownload(r, fx.server, "/release-1.0.0.img", 3 * MiB);
    expect((await r.run()).code).toBe(0);
    expect(fx.server.requests.filter((q) => q.path === "/release-1.0.0.img").map((q) => q.range)).toEqual([undefined, `bytes=${3 * MiB}-`]);
    expect(r.count("install done")).toBe(1);
  }, 30_000);
});

describe("node dist/otter.mjs with AWS IoT Jobs", () => {
  const svc = jobsService({ tls: true });

  test("a job over mutual TLS goes QUEUED → IN_PROGRESS → SUCCEEDED", async () => {
    const thing = `bundle-${process.pid}`;
    const c = svc.broker.clientCerts!;
    const r = fx.rig({
      command: NODE_BUNDLE,
      set: { service: { source: "aws" }, broker: { host: "127.0.0.1", port: String(svc.broker.tlsPort), thing_name: thing, cafile: c.ca, certfile: c.cert, keyfile: c.key } },
    });
    fx.server.publish("aws", "1.0.0", "1.0.0");
    svc.emu.createJob({ jobId: "upparat_bundle", document: { action: "upparat-update", version: "1.0.0", file: `${fx.server.url}/aws-1.0.0.img` }, things: [thing] });
    const res = await r.run();
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED complete_ready")]);
    expect(r.version()).toBe("1.0.0");
    expect(svc.emu.execution("upparat_bundle", thing)!.updates.map((u) => `${u.status}:${u.statusDetails?.state}:${u.outcome}`)).toEqual([
      "IN_PROGRESS:download_start:accepted",
      "IN_PROGRESS:installation_start:accepted",
      "IN_PROGRESS:reboot_start:accepted",
      "SUCCEEDED:complete_ready:accepted",
    ]);
  }, 30_000);
});
