// The host side of the powercut guest's network: a real HTTP server on 127.0.0.1 that
// serves one release channel (manifest + file, with Range, If-Range and a strong ETag so a
// download resumes after a power cut) and records every report POSTed to report_url, so a
// trial can check that the final report of each job arrived exactly once.
import { createHash } from "node:crypto";
import { tarball } from "../../test/helpers/tarball.ts";

export type Kind = "plain" | "archive";

export interface Release {
  version: string;
  kind: Kind;
  /** the offer's job id as otter reports it (manifest mode: channel:version:sha256[0..12]) */
  jobId: string;
  /** file name → sha256 of what the install hook must leave in /data/installed */
  installed: Map<string, string>;
  bytes: Uint8Array<ArrayBuffer>;
}

export interface Report {
  at: number;
  body: Record<string, any>;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** `n` bytes from a seeded xorshift stream: reproducible for a seed, incompressible. */
export function noise(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = (seed >>> 0) || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, n);
}

/** A release of `size` bytes: one file, or a tar.gz of a few files and their SHA256SUMS. */
export function makeRelease(version: string, kind: Kind, size: number, seed: number): Release {
  if (kind === "plain") {
    const bytes = noise(size, seed);
    return { version, kind, jobId: `release:${version}:${sha256(bytes).slice(0, 12)}`, installed: new Map([["image", sha256(bytes)]]), bytes };
  }
  const parts = [size / 2, size / 4, size / 8, size / 8 - 4096].map((n, i) => ({ name: `part${i}.bin`, body: noise(Math.floor(n), seed + i + 1) }));
  parts.push({ name: "VERSION", body: new TextEncoder().encode(`${version}\n`) });
  const sums = parts.map((p) => `${sha256(p.body)}  ${p.name}\n`).join("");
  const files = [...parts, { name: "SHA256SUMS", body: new TextEncoder().encode(sums) }];
  const bytes = new Uint8Array(Bun.gzipSync(new Uint8Array(tarball(files))));
  return { version, kind, jobId: `release:${version}:${sha256(bytes).slice(0, 12)}`, installed: new Map(files.map((f) => [f.name, sha256(f.body)])), bytes };
}

export class PowercutServer {
  readonly reports: Report[] = [];
  /** called as the file's bytes go out: (sent in this response so far, offset it started at) */
  onBytes?: (sent: number, start: number) => void;
  private release?: Release;
  private server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 60, fetch: (req) => this.handle(req) });

  get port(): number {
    return this.server.port!;
  }

  publish(release: Release): void {
    this.release = release;
  }

  /** Final (non-IN_PROGRESS) reports for `jobId`, in arrival order. */
  finals(jobId: string): Record<string, any>[] {
    return this.reports.map((r) => r.body).filter((b) => b.jobId === jobId && b.status !== "IN_PROGRESS");
  }

  stop(): void {
    this.server.stop(true);
  }

  private manifest(r: Release) {
    const name = r.kind === "plain" ? `${r.version}.img` : `${r.version}.tar.gz`;
    return {
      version: r.version, url: `files/${name}`, sha256: sha256(r.bytes), size: r.bytes.length, meta: r.version,
      ...(r.kind === "archive" ? { archive: "tar.gz" } : {}),
    };
  }

  private async handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (req.method === "POST" && path === "/report") {
      this.reports.push({ at: Date.now(), body: (await req.json()) as Record<string, any> });
      return new Response(null, { status: 200 });
    }
    const r = this.release;
    if (!r) return new Response("nothing published", { status: 404 });
    if (path === "/release.json") return Response.json(this.manifest(r));
    if (path !== `/${this.manifest(r).url}`) return new Response("not found", { status: 404 });
    return this.file(req, r.bytes, `"${sha256(r.bytes).slice(0, 16)}"`);
  }

  /** The file, or from a Range's start when If-Range (if any) still names this ETag. */
  private file(req: Request, bytes: Uint8Array, etag: string): Response {
    const range = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
    const ifRange = req.headers.get("if-range");
    const honored = range !== null && (!ifRange || ifRange === etag);
    const start = honored ? Number(range[1]) : 0;
    if (honored && start >= bytes.length) return new Response(null, { status: 416, headers: { "content-range": `bytes */${bytes.length}` } });
    const headers: Record<string, string> = { etag, "accept-ranges": "bytes", "content-length": String(bytes.length - start) };
    if (honored) headers["content-range"] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    let sent = 0;
    const body = new ReadableStream({
      pull: (c) => {
        if (start + sent >= bytes.length) return c.close();
        const chunk = bytes.subarray(start + sent, Math.min(bytes.length, start + sent + 65536));
        sent += chunk.length;
        c.enqueue(chunk);
        this.onBytes?.(sent, start);
      },
    });
    return new Response(body, { status: honored ? 206 : 200, headers });
  }
}
