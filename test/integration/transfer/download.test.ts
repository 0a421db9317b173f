// The downloader against real loopback servers that misbehave on purpose.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { OtterError } from "../../../src/base/errors.ts";
import { bootId } from "../../../src/base/proc.ts";
import { parseConfig, type Config } from "../../../src/config/config.ts";
import { originOf } from "../../../src/transfer/credentials.ts";
import { download } from "../../../src/transfer/download.ts";
import type { DownloadRequest, ResumePoint } from "../../../src/transfer/request.ts";
import { startConnectProxy, startServer, type Handler, type Running } from "../../helpers/flakyserver.ts";
import { clientCert, makeCA, serverCert, tempDir } from "../../helpers/pki.ts";

const MiB = 2 ** 20;
const FILE = randomBytes(3 * MiB);
const SHA = sha(FILE);
const servers: Running[] = [];

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

const BASE = "allow_http = true\nretry_base = 0.05\nretry_cap = 0.2\nmax_attempts = 20\nconnect_timeout = 5\nstall_timeout = 1";

// [download] for tests: short intervals; `extra` lines override the base ones.
function options(extra = ""): Config["download"] {
  const given = new Set(extra.split("\n").map((l) => l.split("=")[0]!.trim()));
  const base = BASE.split("\n").filter((l) => !given.has(l.split("=")[0]!.trim()));
  return parseConfig(`[download]\n${base.join("\n")}\n${extra}`, "/tmp/otter-test.ini").download;
}

async function serve(handler: Handler, tls?: Parameters<typeof startServer>[1]): Promise<Running> {
  const s = await startServer(handler, tls);
  servers.push(s);
  return s;
}

// A request whose own origin is the configured one (credentials go there).
function request(url: string, o: Partial<DownloadRequest> = {}): DownloadRequest {
  const origin = originOf(url);
  return { url, partPath: join(tempDir(), "file.part"), expectedSize: FILE.length, sha256: SHA, options: options(), credentialOrigins: origin ? [origin] : [], ...o };
}

async function failure(p: Promise<unknown>): Promise<OtterError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(OtterError);
    return err as OtterError;
  }
  throw new Error("expected the download to fail");
}

// A small deterministic random sequence (the test is repeatable).
// Bun's fetch may lose up to a few hundred KiB it had buffered when a connection is cut, so
// a resume after a drop asks from the drop point or a little below it (never above).
function expectResumedNear(range: string | undefined, at: number): void {
  const from = Number(/^bytes=(\d+)-$/.exec(range ?? "")?.[1]);
  expect(from).toBeGreaterThan(at - 512 * 1024);
  expect(from).toBeLessThanOrEqual(at);
}

function lcg(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

// Every case runs on both engines of src/transfer/http.ts: Bun's fetch (the compiled binaries) and
// undici (dist/otter.mjs under Node).
for (const engine of ["bun", "undici"] as const) describe(`download (${engine} engine)`, () => {
  beforeAll(() => {
    if (engine === "undici") process.env.OTTER_HTTP = "undici";
  });
  afterAll(() => {
    delete process.env.OTTER_HTTP;
  });

  test("a plain download lands with the right digest, fetched once", async () => {
    const s = await serve((_, r) => r.serve(FILE, { etag: '"v1"' }));
    const req = request(`${s.url}/f`);
    const res = await download(req);
    expect(res).toEqual({ path: req.partPath, size: FILE.length, sha256: SHA, fetched: FILE.length });
    expect(sha(readFileSync(req.partPath))).toBe(SHA);
    expect(s.seen.length).toBe(1);
    expect(s.seen[0]!.headers["accept-encoding"]).toBe("identity");
  });

  test("connection dropped at random offsets: resumes each time, bytes fetched about once", async () => {
    const rnd = lcg(7);
    const s = await serve((req, r) => {
      const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? "")?.[1] ?? 0);
      r.serve(FILE, { etag: '"v1"', dropAt: start + 100_000 + Math.floor(rnd() * 400_000) });
    });
    const res = await download(request(`${s.url}/f`, { options: options("max_attempts = 4") }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.length).toBeGreaterThan(4);
    const starts = s.seen.slice(1).map((q) => Number(/bytes=(\d+)-/.exec(q.headers.range!)![1]));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(s.seen.slice(1).every((q) => q.headers["if-range"] === '"v1"')).toBe(true);
    expect(res.fetched).toBeLessThanOrEqual(FILE.length * 1.01);
  });

  test("a stalled body times out and resumes at the offset reached", async () => {
    const s = await serve((_, r, n) => r.serve(FILE, { lastModified: "Tue, 24 Nov 2026 01:00:00 GMT", stallAt: n === 1 ? MiB : undefined }));
    const res = await download(request(`${s.url}/f`));
    expect(res.sha256).toBe(SHA);
    expect(s.seen[1]!.headers.range).toBe(`bytes=${MiB}-`);
    expect(s.seen[1]!.headers["if-range"]).toBe("Tue, 24 Nov 2026 01:00:00 GMT");
    expect(res.fetched).toBe(FILE.length);
  });

  test("a link slower than low_speed_limit over low_speed_time counts as a stall", async () => {
    const s = await serve((_, r, n) => r.serve(FILE, { etag: '"v1"', ...(n === 1 ? { trickle: 4096, trickleMs: 50 } : {}) }));
    const res = await download(request(`${s.url}/f`, { options: options("stall_timeout = 30\nlow_speed_limit = 1M\nlow_speed_time = 1") }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.length).toBe(2);
    expect(s.seen[1]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  test("Content-Length shorter than the body: the short body is resumed", async () => {
    const s = await serve((_, r, n) => r.serve(FILE, { etag: '"v1"', lengthDelta: n === 1 ? -500_000 : 0 }));
    const res = await download(request(`${s.url}/f`));
    expect(res.sha256).toBe(SHA);
    expect(s.seen[1]!.headers.range).toBe(`bytes=${FILE.length - 500_000}-`);
    expect(res.fetched).toBeLessThanOrEqual(FILE.length * 1.01);
  });

  // A connection closed short of Content-Length errors the stream; Bun's fetch (a WHATWG
  // stream) drops what it had buffered but not yet handed over (seen up to ~400 KiB; it has
  // backpressure, so this stays small), and the download resumes that much earlier.
  const QUEUED = engine === "bun" ? MiB : 0;

  // The server overstates the first answer only: were every answer to overstate, Bun would
  // drop a resume's whole short body whenever it was buffered before otter read it (under
  // load), and no attempt would make progress (seen: 20 attempts, 0 bytes each).
  test("Content-Length longer than the body, size unknown: resumed at what was read, then the digest says done", async () => {
    const s = await serve((_, r, n) => r.serve(FILE, { etag: '"v1"', lengthDelta: n === 1 ? 5000 : 0 }));
    const res = await download(request(`${s.url}/f`, { expectedSize: undefined }));
    expect(res.sha256).toBe(SHA);
    const at = Number(/^bytes=(\d+)-$/.exec(s.seen[1]!.headers.range!)![1]);
    expect(at).toBeLessThanOrEqual(FILE.length);
    expect(at).toBeGreaterThanOrEqual(FILE.length - QUEUED);
    expect(res.fetched).toBeLessThanOrEqual(FILE.length + QUEUED);
  });

  test("a 416 whose bytes on disk do not match the digest restarts from zero", async () => {
    if (engine === "bun") return; // Bun resumes below the end (above), so no 416 comes; the digest still guards it
    const other = randomBytes(FILE.length);
    const s = await serve((_, r, n) => r.serve(n === 1 ? other : FILE, { etag: '"v1"', lengthDelta: n === 1 ? 10 : 0 }));
    const res = await download(request(`${s.url}/f`, { expectedSize: undefined }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.map((q) => q.headers.range ?? "")).toEqual(["", `bytes=${FILE.length}-`, ""]);
  });

  test("a server that ignores Range (200) restarts the file from zero, never appends", async () => {
    const s = await serve((_, r, n) => r.serve(FILE, { etag: '"v1"', dropAt: n === 1 ? MiB : undefined, ignoreRange: true }));
    const res = await download(request(`${s.url}/f`));
    expect(res.sha256).toBe(SHA);
    expectResumedNear(s.seen[1]!.headers.range, MiB);
    expect(res.fetched).toBeLessThanOrEqual(FILE.length + MiB + 256 * 1024);
  });

  test("a 206 that starts elsewhere than asked restarts from zero", async () => {
    const s = await serve((_, r, n) => r.serve(FILE, { etag: '"v1"', dropAt: n === 1 ? MiB : undefined, rangeStart: n === 2 ? 0 : undefined }));
    const res = await download(request(`${s.url}/f`));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.map((q) => q.headers.range ?? "")).toEqual(["", expect.stringMatching(/^bytes=\d+-$/), ""]);
    expectResumedNear(s.seen[1]!.headers.range, MiB);
  });

  test("a 206 with another total restarts from zero", async () => {
    const s = await serve((_, r, n) => r.serve(FILE, { etag: '"v1"', dropAt: n === 1 ? MiB : undefined, rangeTotal: n === 2 ? FILE.length + 1 : undefined }));
    const res = await download(request(`${s.url}/f`));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.length).toBe(3);
    expect(s.seen[2]!.headers.range).toBeUndefined();
  });

  test("the file changed between attempts (new ETag): If-Range gets the new file whole", async () => {
    const next = randomBytes(FILE.length);
    const s = await serve((_, r, n) => (n === 1 ? r.serve(FILE, { etag: '"v1"', dropAt: MiB }) : r.serve(next, { etag: '"v2"' })));
    const res = await download(request(`${s.url}/f`, { sha256: sha(next) }));
    expect(res.sha256).toBe(sha(next));
    expect(s.seen[1]!.headers["if-range"]).toBe('"v1"');
    expect(sha(readFileSync(res.path))).toBe(sha(next));
  });

  test("500, then 429 with Retry-After, are retried; Retry-After wins over a long backoff", async () => {
    const s = await serve((_, r, n) => (n === 1 ? r.status(500) : n === 2 ? r.status(429, { "Retry-After": "0" }) : r.serve(FILE)));
    // retry_base 30 s: only the Retry-After of 0 lets the third request come within the test's time.
    const res = await download(request(`${s.url}/f`, { options: options("retry_base = 0\nretry_cap = 30") }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.length).toBe(3);
  });

  test("404 fails at once with a clear reason", async () => {
    const s = await serve((_, r) => r.status(404));
    const err = await failure(download(request(`${s.url}/missing?X-Amz-Signature=secret`)));
    expect(err.code).toBe("DOWNLOAD_HTTP");
    expect(err.message).toContain("HTTP 404");
    expect(err.message).not.toContain("secret");
    expect(s.seen.length).toBe(1);
  });

  test("403 on a presigned URL: one fresh URL, resumed at the same offset", async () => {
    const s = await serve((req, r, n) => {
      if (req.path.startsWith("/new")) return r.serve(FILE, { etag: '"v1"' });
      return n === 1 ? r.serve(FILE, { etag: '"v1"', dropAt: MiB }) : r.status(403);
    });
    let refreshed = 0;
    const res = await download(request(`${s.url}/old`, { refreshUrl: async () => (refreshed++, `${s.url}/new`) }));
    expect(res.sha256).toBe(SHA);
    expect(refreshed).toBe(1);
    const last = s.seen.at(-1)!;
    expect(last.path).toBe("/new");
    expectResumedNear(last.headers.range, MiB);
    expect(res.fetched).toBe(FILE.length);
  });

  test("403 on a presigned URL: the fresh URL is asked for at once, never after a backoff", async () => {
    const s = await serve((req, r) => (req.path === "/new" ? r.serve(FILE, { etag: '"v1"' }) : r.status(403)));
    const res = await download(request(`${s.url}/old`, { options: options("retry_base = 30\nretry_cap = 30"), refreshUrl: async () => `${s.url}/new` }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen[1]!.at - s.seen[0]!.at).toBeLessThan(2000); // a backoff would be up to 30 s
  });

  test("403 again after a fresh URL is URL_EXPIRED; 403 without refreshUrl is final", async () => {
    const s = await serve((_, r) => r.status(403));
    const err = await failure(download(request(`${s.url}/old`, { refreshUrl: async () => `${s.url}/new` })));
    expect(err.code).toBe("DOWNLOAD_URL_EXPIRED");
    expect(s.seen.map((q) => q.path)).toEqual(["/old", "/new"]);
    expect((await failure(download(request(`${s.url}/old`)))).code).toBe("DOWNLOAD_HTTP");
  });

  test("resume after a power cut (another boot): only the checkpointed prefix is kept, then Range continues", async () => {
    const s = await serve((_, r) => r.serve(FILE, { etag: '"v1"' }));
    const dir = tempDir();
    const part = join(dir, "file.part");
    // 1 MiB checkpointed, plus a torn tail that was never fsynced.
    writeFileSync(part, Buffer.concat([FILE.subarray(0, MiB), randomBytes(5000)]));
    const resume: ResumePoint = { bytes: MiB, etag: '"v1"', fetched: MiB + 5000, attempts: 2, boot: "00000000-0000-0000-0000-000000000000" };
    const res = await download(request(`${s.url}/f`, { partPath: part, resume }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.length).toBe(1);
    expect(s.seen[0]!.headers.range).toBe(`bytes=${MiB}-`);
    expect(s.seen[0]!.headers["if-range"]).toBe('"v1"');
    expect(res.fetched).toBe(FILE.length + 5000);
    expect(s.sent).toBe(FILE.length - MiB);
  });

  test("resume after a kill in the same boot: bytes written past the checkpoint are kept too", async () => {
    const s = await serve((_, r) => r.serve(FILE, { etag: '"v1"' }));
    const part = join(tempDir(), "file.part");
    const written = 2 * MiB + 777; // 1 MiB fsynced, the rest still in the page cache when otter died
    writeFileSync(part, FILE.subarray(0, written));
    const resume: ResumePoint = { bytes: MiB, etag: '"v1"', fetched: written, attempts: 0, boot: bootId() };
    const seen: ResumePoint[] = [];
    const res = await download(request(`${s.url}/f`, { partPath: part, resume, onCheckpoint: (r) => void seen.push(r) }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.map((q) => [q.headers.range, q.headers["if-range"]])).toEqual([[`bytes=${written}-`, '"v1"']]);
    expect(s.sent).toBe(FILE.length - written);
    expect(seen.every((r) => r.bytes >= written)).toBe(true); // what was kept is never re-journaled as less
  });

  test("a new file's validator is journaled before its first byte, also after a restart", async () => {
    const next = randomBytes(FILE.length);
    const part = join(tempDir(), "file.part");
    writeFileSync(part, FILE.subarray(0, MiB));
    const s = await serve((_, r) => r.serve(next, { etag: '"v2"' })); // the file changed while otter was down
    const seen: ResumePoint[] = [];
    const resume: ResumePoint = { bytes: MiB, etag: '"v1"', fetched: MiB, attempts: 0, boot: bootId() };
    await download(request(`${s.url}/f`, { partPath: part, resume, sha256: sha(next), onCheckpoint: (r) => void seen.push(r) }));
    expect(s.seen[0]!.headers["if-range"]).toBe('"v1"');
    expect(seen[0]).toMatchObject({ bytes: 0, etag: '"v2"' });
    expect(seen.every((r) => r.etag === '"v2"')).toBe(true);
  });

  test("resume of a complete part file: the digest says done without a request", async () => {
    const s = await serve((_, r) => r.serve(FILE, { etag: '"v1"' }));
    const part = join(tempDir(), "file.part");
    writeFileSync(part, FILE);
    const res = await download(request(`${s.url}/f`, { partPath: part, resume: { bytes: FILE.length, etag: '"v1"', fetched: FILE.length, attempts: 0 } }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.length).toBe(0);
    expect(res.fetched).toBe(FILE.length);
  });

  test("checkpoints come after fsync, in order, ending at the full size", async () => {
    const big = randomBytes(20 * MiB);
    const s = await serve((_, r) => r.serve(big, { etag: '"v1"' }));
    const seen: ResumePoint[] = [];
    const req = request(`${s.url}/f`, { expectedSize: big.length, sha256: sha(big), onCheckpoint: (r) => void seen.push(r) });
    await download(req);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.map((r) => r.bytes)).toEqual([...seen.map((r) => r.bytes)].sort((a, b) => a - b));
    expect(seen.at(-1)!.bytes).toBe(big.length);
    expect(seen[0]!.etag).toBe('"v1"');
  });

  // The fsync runs beside the stream: a checkpoint must name only bytes the file holds, never
  // more than were written when it began. Not under undici: this case's fsync waits would
  // pause its body while the server closes, which undici 7 meets with an uncatchable
  // assertion (nodejs/undici#5360).
  test("each checkpoint names only bytes in the file: its prefix is the file's own", async () => {
    if (engine === "undici") return void console.log("skipped for undici: a paused body at the server's close trips nodejs/undici#5360");
    const big = randomBytes(32 * MiB);
    const s = await serve((_, r) => r.serve(big, { etag: '"v1"' }));
    const wrong: { bytes: number; size: number }[] = [];
    let checkpoints = 0;
    // three runs on tmpfs, where an fsync returns at once: a checkpoint that named unwritten
    // bytes would be seen before they land
    for (let run = 0; run < 3; run++) {
      const partPath = join(mkdtempSync("/dev/shm/otter-test-"), "file.part");
      const onCheckpoint = (r: ResumePoint) => {
        checkpoints++;
        const size = statSync(partPath).size;
        const tail = Buffer.alloc(Math.min(r.bytes, 64 * 1024));
        const fd = openSync(partPath, "r");
        readSync(fd, tail, 0, tail.length, r.bytes - tail.length);
        closeSync(fd);
        if (size < r.bytes || !tail.equals(big.subarray(r.bytes - tail.length, r.bytes))) wrong.push({ bytes: r.bytes, size });
      };
      await download(request(`${s.url}/f`, { partPath, expectedSize: big.length, sha256: sha(big), options: options("sync_interval = 64K"), onCheckpoint }));
      rmSync(dirname(partPath), { recursive: true });
    }
    expect(checkpoints).toBeGreaterThanOrEqual(24);
    expect(wrong).toEqual([]);
  });

  test("bandwidth_limit paces the download: 3 MiB at 1 MiB/s takes about 3 s, not less", async () => {
    // undici 7 throws an uncatchable assertion when the server closes while the body waits on
    // the cap (nodejs/undici#5360): seen on main's code too; the node bundle's known risk
    if (engine === "undici") return void console.log("skipped for undici: a body paced by the cap trips nodejs/undici#5360 when the server closes");
    const s = await serve((_, r) => r.serve(FILE, { etag: '"v1"' }));
    const started = performance.now();
    const res = await download(request(`${s.url}/f`, { options: options("bandwidth_limit = 1M") }));
    expect(res.sha256).toBe(SHA);
    expect(performance.now() - started).toBeGreaterThan(2500); // a lower bound only: load makes it slower, never faster
  }, 30_000);

  test("a wrong digest deletes the part file", async () => {
    const s = await serve((_, r) => r.serve(FILE));
    const req = request(`${s.url}/f`, { sha256: "0".repeat(64) });
    const err = await failure(download(req));
    expect(err.code).toBe("DIGEST_MISMATCH");
    expect(existsSync(req.partPath)).toBe(false);
  });

  test("too large: rejected on Content-Length before the body, and while streaming when there is none", async () => {
    const s = await serve((req, r) => r.serve(FILE, { noLength: req.path === "/nolength" }));
    const o = options("max_file_size = 1M");
    const early = await failure(download(request(`${s.url}/f`, { expectedSize: undefined, options: o })));
    expect(early.code).toBe("DOWNLOAD_TOO_LARGE");
    const late = await failure(download(request(`${s.url}/nolength`, { expectedSize: undefined, options: o })));
    expect(late.code).toBe("DOWNLOAD_TOO_LARGE");
    const more = await failure(download(request(`${s.url}/nolength`, { expectedSize: MiB })));
    expect(more.code).toBe("DOWNLOAD_TOO_LARGE");
  });

  // A past bug: a body that paused exactly at the expected size and then went on had its
  // "too large" taken for a transport error at a complete size and forgiven.
  test("more bytes after exactly the expected size are too large, not a complete file", async () => {
    const s = await serve((_, r) => r.serve(FILE, { noLength: true, trickle: MiB, trickleMs: 200 }));
    const err = await failure(download(request(`${s.url}/f`, { expectedSize: MiB })));
    expect(err.code).toBe("DOWNLOAD_TOO_LARGE");
  });

  test("a 206 that sends past the total its Content-Range announced is too large", async () => {
    const s = await serve((_, r, n) => r.serve(FILE, { etag: '"v1"', dropAt: n === 1 ? MiB : undefined, rangeTotal: n === 2 ? FILE.length - 1000 : undefined }));
    const err = await failure(download(request(`${s.url}/f`, { expectedSize: undefined })));
    expect(err.code).toBe("DOWNLOAD_TOO_LARGE");
  });

  test("retries are bounded by max_attempts and report the last reason", async () => {
    const s = await serve((_, r) => r.status(503));
    const err = await failure(download(request(`${s.url}/f`, { options: options("max_attempts = 3") })));
    expect(err.code).toBe("DOWNLOAD_RETRIES_EXHAUSTED");
    expect(err.message).toContain("HTTP 503");
    expect(s.seen.length).toBe(3);
  });

  test("the data budget stops endless re-downloads", async () => {
    const s = await serve((_, r) => r.serve(FILE, { dropAt: 2 * MiB, ignoreRange: true }));
    const err = await failure(download(request(`${s.url}/f`, { options: options("budget_factor = 2") })));
    expect(err.code).toBe("DOWNLOAD_BUDGET");
  });

  test("a body larger than the declared size says so (not a budget error), with or without Content-Length", async () => {
    const s = await serve((req, r) => r.serve(FILE, { noLength: req.path === "/nolength" }));
    for (const path of ["/f", "/nolength"]) {
      const err = await failure(download(request(`${s.url}${path}`, { expectedSize: 10 })));
      expect(err.code).toBe("DOWNLOAD_TOO_LARGE");
      expect(err.message).toContain("larger than the declared size 10");
    }
  });

  test("an offer over max_file_size is refused before any request", async () => {
    const s = await serve((_, r) => r.serve(FILE));
    const err = await failure(download(request(`${s.url}/f`, { options: options("max_file_size = 1M") })));
    expect(err.code).toBe("DOWNLOAD_TOO_LARGE");
    expect(err.message).toContain("nothing was fetched");
    expect(s.seen.length).toBe(0);
  });

  test("the data budget is never passed: an attempt whose rest would pass it is not read", async () => {
    const s = await serve((_, r) => r.serve(FILE, { etag: '"v1"', dropAt: Math.floor(FILE.length * 0.83), ignoreRange: true }));
    const seen: ResumePoint[] = [];
    const err = await failure(download(request(`${s.url}/f`, { options: options("budget_factor = 1.5"), onCheckpoint: (r) => void seen.push(r) })));
    expect(err.code).toBe("DOWNLOAD_BUDGET");
    expect(err.message).toContain("would pass the data budget");
    expect(s.seen.length).toBe(2); // the drop, then the 200 that would restart from zero: refused before its body
    expect(seen.at(-1)!.fetched).toBeLessThanOrEqual(FILE.length * 1.5);
  });

  test("cancel stops a stalled download promptly with Cancelled", async () => {
    const s = await serve((_, r) => r.serve(FILE, { stallAt: MiB }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const p = download(request(`${s.url}/f`, { signal: ac.signal, options: options("stall_timeout = 60") }));
    const err = await failure(p);
    expect(err.code).toBe("CANCELLED");
  });

  test("plain http is refused unless allow_http", async () => {
    const err = await failure(download(request("http://127.0.0.1:9/f", { options: options("allow_http = false") })));
    expect(err.code).toBe("DOWNLOAD_HTTP");
    expect(err.message).toContain("allow_http");
    expect((await failure(download(request("relative/file.bin")))).code).toBe("DOWNLOAD_HTTP");
  });

  test("extra headers from [download] headers are sent", async () => {
    const s = await serve((_, r) => r.serve(FILE));
    await download(request(`${s.url}/f`, { options: options("headers =\n  Authorization: Bearer t0k\n  X-Device: d1") }));
    expect(s.seen[0]!.headers.authorization).toBe("Bearer t0k");
    expect(s.seen[0]!.headers["x-device"]).toBe("d1");
  });

  test("credentials stay with their origin: a redirect elsewhere drops headers, userinfo and the client certificate", async () => {
    const dir = tempDir();
    const ca = makeCA(dir, "cred-ca");
    const srv = serverCert(dir, ca);
    const dev = clientCert(dir, ca, "device-c");
    const other = await serve((_, r) => r.serve(FILE), { key: srv.key, cert: srv.cert, ca: ca.cert, requestCert: true, optionalCert: true });
    const home = await serve((req, r) => (req.path === "/same" ? r.status(302, { Location: "/f" }) : req.path === "/away" ? r.status(302, { Location: `${other.url}/f` }) : r.serve(FILE)),
      { key: srv.key, cert: srv.cert, ca: ca.cert, requestCert: true, optionalCert: true });
    const o = options(`cafile = ${ca.certFile}\ncertfile = ${dev.certFile}\nkeyfile = ${dev.keyFile}\nheaders =\n  X-Api-Key: k3y`);
    const withUser = (path: string) => home.url.replace("https://", "https://dev:pa%40ss@") + path;
    await download(request(withUser("/same"), { options: o, credentialOrigins: [home.url] }));
    expect(home.seen.map((q) => [q.path, q.headers["x-api-key"], q.headers.authorization, q.clientCN])).toEqual([
      ["/same", "k3y", `Basic ${Buffer.from("dev:pa@ss").toString("base64")}`, "device-c"],
      ["/f", "k3y", `Basic ${Buffer.from("dev:pa@ss").toString("base64")}`, "device-c"],
    ]);
    await download(request(withUser("/away"), { options: o, credentialOrigins: [home.url] }));
    expect(home.seen.at(-1)!.headers["x-api-key"]).toBe("k3y");
    // a file on another origin (a redirect, or a URL a manifest names) gets none of them
    await download(request(`${other.url}/f`, { options: o, credentialOrigins: [home.url] }));
    expect(other.seen.length).toBe(2);
    for (const q of other.seen) {
      expect([q.headers["x-api-key"], q.headers.authorization, q.clientCN]).toEqual([undefined, undefined, undefined]);
    }
  });

  test("HTTPS_PROXY tunnels the download; NO_PROXY bypasses it", async () => {
    const dir = tempDir();
    const ca = makeCA(dir, "proxy-ca");
    const srv = serverCert(dir, ca);
    const s = await serve((_, r) => r.serve(FILE), { key: srv.key, cert: srv.cert });
    const proxy = await startConnectProxy();
    const port = new URL(s.url).port;
    process.env.HTTPS_PROXY = proxy.url;
    try {
      const res = await download(request(`https://localhost:${port}/f`, { options: options(`cafile = ${ca.certFile}`) }));
      expect(res.sha256).toBe(SHA);
      expect(proxy.connects).toEqual([`localhost:${port}`]);
      process.env.NO_PROXY = "localhost";
      await download(request(`https://localhost:${port}/f`, { options: options(`cafile = ${ca.certFile}`) }));
      expect(proxy.connects.length).toBe(1);
      expect(s.seen.length).toBe(2);
    } finally {
      delete process.env.HTTPS_PROXY;
      delete process.env.NO_PROXY;
      await proxy.close();
    }
  });

  test("redirects are followed; a redirect to plain http is refused without allow_http", async () => {
    const s = await serve((req, r) => (req.path === "/f" ? r.status(302, { Location: "/cdn/f" }) : r.serve(FILE)));
    const res = await download(request(`${s.url}/f`));
    expect(res.sha256).toBe(SHA);
    expect(s.seen.map((q) => q.path)).toEqual(["/f", "/cdn/f"]);
    const dir = tempDir();
    const ca = makeCA(dir, "redirect-ca");
    const srv = serverCert(dir, ca);
    const tls = await serve((_, r) => r.status(302, { Location: `${s.url}/cdn/f` }), { key: srv.key, cert: srv.cert });
    const err = await failure(download(request(`${tls.url}/f`, { options: options(`allow_http = false\ncafile = ${ca.certFile}`) })));
    expect(err.code).toBe("DOWNLOAD_HTTP");
    expect(err.message).toContain("allow_http");
  });

  test("a local file (absolute path or file://) is copied and hashed, for a local source only", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "src.bin"), FILE);
    const res = await download(request(join(dir, "src.bin"), { allowLocal: true }));
    expect(res.sha256).toBe(SHA);
    expect(statSync(res.path).size).toBe(FILE.length);
    for (const url of [join(dir, "src.bin"), `file://${dir}/src.bin`]) {
      const err = await failure(download(request(url)));
      expect(err.code).toBe("DOWNLOAD_HTTP");
      expect(err.message).toContain("local files come only from a file:// channel or otter install PATH");
    }
  });

  test("custom CA and client certificate (mutual TLS)", async () => {
    const dir = tempDir();
    const ca = makeCA(dir, "download-ca");
    const srv = serverCert(dir, ca);
    const dev = clientCert(dir, ca);
    const s = await serve((_, r) => r.serve(FILE), { key: srv.key, cert: srv.cert, ca: ca.cert, requestCert: true });
    const tls = `cafile = ${ca.certFile}\ncertfile = ${dev.certFile}\nkeyfile = ${dev.keyFile}`;
    const res = await download(request(`${s.url}/f`, { options: options(tls) }));
    expect(res.sha256).toBe(SHA);
    expect(s.seen[0]!.clientCN).toBe("device-1");
    const err = await failure(download(request(`${s.url}/f`, { options: options(`certfile = ${dev.certFile}\nkeyfile = ${dev.keyFile}`) })));
    expect(err.code).toBe("DOWNLOAD_HTTP");
    expect(err.message).toContain("TLS");
  });
});
