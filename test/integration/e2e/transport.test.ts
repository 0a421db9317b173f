// One transport for every HTTP call, from the built binary: a fleet on a private HTTPS
// server with its own CA that requires a client certificate gets its manifest, its file and
// its report_url POSTs through [download] cafile / certfile / keyfile.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { clientCert, makeCA, serverCert, tempDir, type Issued } from "../../helpers/pki.ts";
import { perTest, type Rig } from "../../helpers/rig.ts";
import { tlsFront, type TlsFront } from "../../helpers/tlsfront.ts";

const fx = perTest();
let front: TlsFront;
let pki: { ca: Issued; dev: Issued };

beforeEach(async () => {
  const dir = tempDir();
  const ca = makeCA(dir, "fleet-ca");
  const srv = serverCert(dir, ca);
  pki = { ca, dev: clientCert(dir, ca, "device-7") };
  front = await tlsFront(fx.server.url, { key: srv.key, cert: srv.cert, ca: ca.cert, requestCert: true });
});
afterEach(() => front.close());

function rig(download: Record<string, string>): Rig {
  const r = fx.rig({ serverUrl: front.url, hooks: ["install"], set: { download: { allow_http: "false", ...download } } });
  return r;
}

describe("private HTTPS server with its own CA and a required client certificate", () => {
  test("manifest, file and reports all go through [download] cafile/certfile/keyfile", async () => {
    fx.server.publish("release", "2.0.0", "image 2.0.0");
    const r = rig({ cafile: pki.ca.certFile, certfile: pki.dev.certFile, keyfile: pki.dev.keyFile });
    const res = await r.run();
    expect(res.stderr).not.toContain("ERROR");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("SUCCEEDED complete_no_version_check");
    const paths = fx.server.requests.map((q) => `${q.method} ${q.path}`);
    expect(paths).toContain("GET /release.json");
    expect(paths).toContain("GET /release-2.0.0.img");
    expect(fx.server.finals().map((x) => `${x.status}:${x.state}`)).toEqual(["SUCCEEDED:complete_no_version_check"]);
    // every connection (fetch may reuse one) presented the device's certificate
    expect(front.clients.length).toBeGreaterThanOrEqual(1);
    expect(new Set(front.clients)).toEqual(new Set(["device-7"]));
    expect(front.refused).toBe(0);
  });

  test("without the client certificate nothing is fetched and the check fails (exit 3)", async () => {
    fx.server.publish("release", "2.0.0", "image 2.0.0");
    const r = rig({ cafile: pki.ca.certFile });
    const res = await r.run();
    expect(res.code).toBe(3);
    expect(fx.server.requests).toEqual([]);
    expect(res.stderr).toContain("no manifest could be fetched");
  });

  test("without the CA the server is not trusted", async () => {
    fx.server.publish("release", "2.0.0", "image 2.0.0");
    const r = rig({ certfile: pki.dev.certFile, keyfile: pki.dev.keyFile });
    const res = await r.run();
    expect(res.code).toBe(3);
    expect(fx.server.requests).toEqual([]);
  });
});

describe("manifest body cap", () => {
  test("an endless manifest body is cut at 1 MiB while reading, whatever Content-Length says", async () => {
    let sent = 0;
    let encoding: string | null = null;
    const forever = new ReadableStream({
      async pull(c) {
        if (sent >= 256 * 2 ** 20) return c.close();
        sent += 64 * 1024;
        c.enqueue(new Uint8Array(64 * 1024).fill(32));
        await Bun.sleep(1);
      },
    });
    const endless = Bun.serve({
      hostname: "127.0.0.1", port: 0,
      fetch(req) {
        encoding = req.headers.get("accept-encoding");
        return new Response(forever, { headers: { "content-type": "application/json" } });
      },
    });
    try {
      const r = fx.rig({ hooks: ["install"], set: { channels: { release: `http://127.0.0.1:${endless.port}/release.json` } } });
      const res = await r.run();
      expect(res.stderr).toContain("larger than 1048576 bytes");
      expect(sent).toBeLessThan(32 * 2 ** 20);
      expect(encoding ?? "identity").toBe("identity"); // a manifest is never asked for compressed
    } finally {
      endless.stop(true);
    }
  });

  test("a file: manifest over 1 MiB is refused too", async () => {
    const dir = tempDir();
    const path = join(dir, "release.json");
    writeFileSync(path, JSON.stringify({ version: "1", url: "x.img", sha256: "0".repeat(64), meta: "x".repeat(2 ** 20) }));
    const r = fx.rig({ hooks: ["install"], set: { channels: { release: `file://${path}` } } });
    const res = await r.run();
    expect(res.stderr).toContain("larger than 1048576 bytes");
  });
});
