// A real HTTP server on 127.0.0.1 for pipeline tests: serves update files and channel
// manifests, collects report POSTs in order, and can hold a response mid-way so a test
// can kill otter at that instant.
import { createHash } from "node:crypto";

export interface Hold {
  /** resolves when the held request has reached the hold point */
  reached: Promise<void>;
  /** let it go on; a held report is recorded only when `record` */
  release(record?: boolean): void;
}

function hold(): Hold & { wait: Promise<boolean>; hit(): void } {
  let release!: (record?: boolean) => void;
  let hit!: () => void;
  const wait = new Promise<boolean>((r) => (release = (record = true) => r(record)));
  const reached = new Promise<void>((r) => (hit = r));
  return { wait, reached, release, hit };
}

export class UpdateServer {
  readonly files = new Map<string, Uint8Array<ArrayBuffer>>();
  readonly reports: Record<string, any>[] = [];
  readonly requests: { method: string; path: string; range?: string }[] = [];
  private holds = new Map<string, ReturnType<typeof hold>>();
  private slows = new Map<string, { chunk: number; ms: number }>();
  private reportHold?: { when: (r: Record<string, any>) => boolean; h: ReturnType<typeof hold> };
  private server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => this.handle(req) });
  /** answer report POSTs with this status (e.g. 503 to simulate an outage) */
  reportStatus = 200;

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** Publish a file and its manifest for a channel; returns the manifest fields. */
  publish(channel: string, version: string, body: string | Uint8Array<ArrayBuffer>, extra: Record<string, unknown> = {}) {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    const name = `${channel}-${version}.img`;
    this.files.set(`/${name}`, bytes);
    const manifest = { version, url: name, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), ...extra };
    this.files.set(`/${channel}.json`, new TextEncoder().encode(JSON.stringify(manifest)));
    return manifest;
  }

  /** Hold the next response for `path` after `afterBytes` bytes of body (0 = before headers). */
  holdAt(path: string, afterBytes = 0): Hold {
    const h = hold();
    this.holds.set(path, Object.assign(h, { afterBytes }));
    return h;
  }

  /** Serve `path` slowly, as a thin link would: `chunk` bytes every `ms`. */
  slow(path: string, chunk: number, ms: number): void {
    this.slows.set(path, { chunk, ms });
  }

  /** Hold the first report for which `when` holds, unanswered, until released. */
  holdReport(when: (report: Record<string, any>) => boolean): Hold {
    const h = hold();
    this.reportHold = { when, h };
    return h;
  }

  /** Reports that end a job (a channel's events, which name no job, are not). */
  finals(): Record<string, any>[] {
    return this.reports.filter((r) => r.status !== undefined && r.status !== "IN_PROGRESS");
  }

  stop(): void {
    for (const h of this.holds.values()) h.release(false);
    this.reportHold?.h.release(false);
    this.server.stop(true);
  }

  private async handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    this.requests.push({ method: req.method, path, range: req.headers.get("range") ?? undefined });
    const h = this.holds.get(path) as (ReturnType<typeof hold> & { afterBytes: number }) | undefined;
    if (h && req.method === "GET") this.holds.delete(path);
    if (req.method === "POST" && path === "/report") {
      const body = (await req.json()) as Record<string, any>;
      const held = this.reportHold?.when(body) ? this.reportHold.h : undefined;
      if (held) {
        this.reportHold = undefined;
        held.hit();
        if (!(await held.wait)) return new Response(null, { status: 503 });
      }
      if (this.reportStatus < 300) this.reports.push(body);
      return new Response(null, { status: this.reportStatus });
    }
    const file = this.files.get(path);
    if (!file) return new Response("not found", { status: 404 });
    const slow = this.slows.get(path);
    if (slow) {
      const body = new ReadableStream({
        async start(c) {
          for (let at = 0; at < file.length; at += slow.chunk) {
            c.enqueue(file.slice(at, at + slow.chunk));
            await Bun.sleep(slow.ms);
          }
          c.close();
        },
      });
      return new Response(body, { headers: { "content-length": String(file.length) } });
    }
    if (!h) return new Response(file);
    if (h.afterBytes === 0) {
      h.hit();
      await h.wait;
      return new Response(file);
    }
    const stream = new ReadableStream({
      async start(c) {
        c.enqueue(file.slice(0, h.afterBytes));
        h.hit();
        await h.wait;
        c.enqueue(file.slice(h.afterBytes));
        c.close();
      },
    });
    return new Response(stream, { headers: { "content-length": String(file.length) } });
  }
}
