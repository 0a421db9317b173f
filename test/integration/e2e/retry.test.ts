// Retry timing of the built binary (issue 18): a drop after progress resumes within seconds
// with the default retry_base; a server that refuses every connection sees attempts spaced
// by a growing, jittered backoff; a retry log line is followed by the attempt it announces.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { startServer, type Running } from "../../helpers/flakyserver.ts";
import { perTest } from "../../helpers/rig.ts";

const MiB = 2 ** 20;
const fx = perTest();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

// A manifest on the rig's server naming a file on another server.
function offer(url: string, file: Uint8Array): void {
  fx.server.files.set("/release.json", new TextEncoder().encode(JSON.stringify({ version: "2.0.0", url, size: file.length, sha256: sha(file) })));
}

async function flaky(handler: Parameters<typeof startServer>[0]): Promise<Running> {
  const s = await startServer(handler);
  closers.push(() => s.close());
  return s;
}

// A server that takes every connection and resets it at once; records when each came.
async function refusing(): Promise<{ url: string; at: number[] }> {
  const at: number[] = [];
  const server: Server = createServer((sock) => {
    at.push(Date.now());
    sock.resetAndDestroy();
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  closers.push(() => new Promise((res) => server.close(() => res())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, at };
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe("retry timing", () => {
  test("dropped after 1 MiB three times in a row: each resume follows within seconds (default retry_base), the file completes", async () => {
    const file = randomBytes(4 * MiB);
    const s = await flaky((req, r, n) => {
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? "")?.[1] ?? 0);
      r.serve(file, { etag: '"v2"', dropAt: n <= 3 ? from + MiB : undefined });
    });
    offer(`${s.url}/image.img`, file);
    const r = fx.rig({ hooks: ["install"], set: { download: { retry_base: "60", retry_cap: "600" } } });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(sha(readFileSync(join(r.dir, "staged")))).toBe(sha(file));
    expect(s.drops.length).toBe(3);
    const resumes = s.drops.map((dropped, i) => s.seen[i + 1]!.at - dropped);
    for (const ms of resumes) expect(ms).toBeLessThan(5000);
    console.log(`drop → resume: ${resumes.map((ms) => `${ms} ms`).join(", ")}`);
    expect(s.seen.slice(1).every((q) => /^bytes=[1-9]\d*-$/.test(q.headers.range ?? ""))).toBe(true);
    // otter's own words, not the runtime's
    expect(res.stderr).toContain('reason="connection reset by the server after');
    expect(res.stderr).not.toContain("verbose");
  }, 60_000);

  test("a server that refuses every connection: attempts spaced by a growing, jittered backoff, then one failure naming the cause", async () => {
    const srv = await refusing();
    offer(`${srv.url}/image.img`, randomBytes(1000));
    const r = fx.rig({ hooks: ["install"], set: { download: { retry_base: "0.03", retry_cap: "60", max_attempts: "9" } } });
    const res = await r.run();
    expect(res.code).toBe(1);
    expect(srv.at.length).toBe(9);
    const g = gaps(srv.at);
    console.log(`gaps between attempts: ${g.map((ms) => `${ms} ms`).join(", ")}`);
    // ceilings 30 ms · 2ⁿ: the last four gaps outweigh the first four (full jitter makes any
    // single gap random, so no one gap is compared with the next)
    expect(sum(g.slice(-4))).toBeGreaterThan(sum(g.slice(0, 4)));
    // jittered: not a fixed doubling
    expect(g.slice(1).some((ms, i) => Math.abs(ms / Math.max(1, g[i]!) - 2) > 0.2)).toBe(true);
    // every retry line is followed by the attempt it announces; none after the last
    expect(res.stderr.match(/download: retrying/g)?.length).toBe(8);
    expect(res.stderr).toContain("download failed after 9 attempts in a row without progress; the last: connection reset by the server");
  }, 60_000);

  test("the same rule for manifests: a manifest cut mid-body, then one answered 503 with Retry-After, is asked again within the check", async () => {
    const file = randomBytes(1000);
    const manifest = new TextEncoder().encode(JSON.stringify({ version: "2.0.0", url: "image.img", sha256: sha(file), meta: "m".repeat(4000) }));
    const s = await flaky((req, r, n) => {
      if (req.path === "/image.img") return r.serve(file);
      if (n === 1) return r.serve(manifest, { dropAt: 2000 });
      if (n === 2) return r.status(503, { "Retry-After": "1" });
      r.serve(manifest);
    });
    const r = fx.rig({ hooks: ["install"], set: { channels: { release: `${s.url}/release.json` }, download: { retry_base: "60", retry_cap: "600" } } });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(s.seen.filter((q) => q.path === "/release.json").length).toBe(3);
    expect(s.seen[2]!.at - s.seen[1]!.at).toBeGreaterThanOrEqual(950); // the Retry-After
    expect(res.stderr).toContain("manifest: retrying");
  }, 60_000);

  test("the same rule for reports: a report_url's Retry-After is waited for, not a shorter backoff", async () => {
    fx.server.publish("release", "2.0.0", randomBytes(1000));
    const posts: number[] = [];
    const s = await flaky((_, r) => {
      posts.push(Date.now());
      r.status(posts.length === 1 ? 503 : 200, posts.length === 1 ? { "Retry-After": "3" } : {});
    });
    const r = fx.rig({ hooks: ["install"], set: { service: { report_url: `${s.url}/report` } } });
    const res = await r.run();
    expect(res.code).toBe(0);
    expect(posts.length).toBeGreaterThanOrEqual(3);
    expect(posts[1]! - posts[0]!).toBeGreaterThanOrEqual(2900);
  }, 60_000);
});
