// A Sentry ingestion endpoint on 127.0.0.1 that records what the SDK sends: a real HTTP
// server taking envelope POSTs (/api/PROJECT/envelope/), so otter talks to it through the
// DSN http://publickey@127.0.0.1:PORT/1 exactly as it would to sentry.io.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface EnvelopeItem {
  header: Record<string, unknown>;
  payload: Record<string, any>;
}

export interface Envelope {
  path: string;
  /** the X-Sentry-Auth header, or sentry_key=... in the query */
  auth: string;
  header: Record<string, unknown>;
  items: EnvelopeItem[];
}

export interface FakeSentry {
  dsn: string;
  envelopes: Envelope[];
  /** the items of type "event", in arrival order */
  events(): Record<string, any>[];
  close(): Promise<void>;
}

// An envelope is newline-separated JSON: a header, then per item a header and a payload.
function parseEnvelope(path: string, auth: string, body: string): Envelope {
  const lines = body.split("\n").filter(Boolean);
  const items: EnvelopeItem[] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) items.push({ header: JSON.parse(lines[i]!), payload: JSON.parse(lines[i + 1]!) });
  return { path, auth, header: JSON.parse(lines[0]!), items };
}

/** Start the endpoint on a random loopback port. */
export async function startFakeSentry(): Promise<FakeSentry> {
  const envelopes: Envelope[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const auth = String(req.headers["x-sentry-auth"] ?? req.url ?? "");
      if (req.method === "POST" && /^\/api\/1\/envelope\//.test(req.url ?? "")) envelopes.push(parseEnvelope(req.url!, auth, body.toString("utf8")));
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://publickey@127.0.0.1:${port}/1`,
    envelopes,
    events: () => envelopes.flatMap((e) => e.items.filter((i) => i.header.type === "event").map((i) => i.payload)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
