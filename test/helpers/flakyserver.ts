// A loopback HTTP(S) server that misbehaves on purpose: raw sockets, so it can cut a body,
// stall, lie about Content-Length, ignore Range or change the file between requests.
import { connect, createServer as createNet, type Server, type Socket } from "node:net";
import { createServer as createTls, type TLSSocket } from "node:tls";

export interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** CN of the client certificate (TLS with requestCert) */
  clientCN?: string;
  /** ms epoch the request's headers arrived */
  at: number;
}

export interface ServeOptions {
  etag?: string;
  lastModified?: string;
  /** answer 200 with the whole file whatever the Range */
  ignoreRange?: boolean;
  /** cut the connection once the file offset reaches this */
  dropAt?: number;
  /** stop sending (and keep the socket open) once the file offset reaches this */
  stallAt?: number;
  /** added to the true Content-Length (lie) */
  lengthDelta?: number;
  /** send this Content-Range start instead of the true one */
  rangeStart?: number;
  /** send this total in Content-Range instead of the true one */
  rangeTotal?: number;
  /** no Content-Length: the body ends when the connection closes */
  noLength?: boolean;
  /** send the body slowly: this many bytes, then a pause of `trickleMs` */
  trickle?: number;
  trickleMs?: number;
}

export interface Reply {
  /** Serve `file` honouring Range / If-Range, misbehaving as told. */
  serve(file: Uint8Array, opts?: ServeOptions): void;
  /** A bodyless status answer. */
  status(code: number, headers?: Record<string, string>): void;
  socket: Socket;
}

export type Handler = (req: Seen, reply: Reply, n: number) => void | Promise<void>;

export interface Running {
  url: string;
  seen: Seen[];
  /** bytes of file bodies written to sockets */
  sent: number;
  /** ms epoch of each connection the server cut on purpose (dropAt) */
  drops: number[];
  close(): Promise<void>;
}

/** requestCert: ask for a client certificate and refuse a client without one, unless optionalCert */
export interface TlsOptions { key: string; cert: string; ca?: string; requestCert?: boolean; optionalCert?: boolean }

const REASONS: Record<number, string> = { 200: "OK", 206: "Partial Content", 403: "Forbidden", 404: "Not Found", 416: "Range Not Satisfiable", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable" };

/** Start a server on 127.0.0.1 with a random port. */
export async function startServer(handler: Handler, tls?: TlsOptions): Promise<Running> {
  const sockets = new Set<Socket>();
  const running: Running = { url: "", seen: [], sent: 0, drops: [], close: async () => {} };
  const onSocket = (sock: Socket) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.off("data", onData);
      const [line, ...rest] = buf.slice(0, end).split("\r\n");
      const [method, path] = line!.split(" ");
      const headers: Record<string, string> = {};
      for (const h of rest) {
        const i = h.indexOf(":");
        headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      const seen: Seen = { method: method!, path: path!, headers, at: Date.now() };
      const peer = (sock as TLSSocket).getPeerCertificate?.();
      if (peer && peer.subject) seen.clientCN = peer.subject.CN as string;
      running.seen.push(seen);
      void handler(seen, reply(sock, seen, running), running.seen.length);
    };
    sock.on("data", onData);
  };
  const server: Server = tls
    ? createTls({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: !!tls.requestCert, rejectUnauthorized: !!tls.requestCert && !tls.optionalCert }, onSocket)
    : createNet(onSocket);
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as { port: number }).port;
  running.url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  running.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((res) => server.close(() => res()));
  };
  return running;
}

function head(code: number, headers: Record<string, string | number | undefined>): string {
  const lines = Object.entries(headers).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}`);
  return [`HTTP/1.1 ${code} ${REASONS[code] ?? "Status"}`, ...lines, "Connection: close", "", ""].join("\r\n");
}

function reply(sock: Socket, req: Seen, running: Running): Reply {
  return {
    socket: sock,
    status(code, headers = {}) {
      sock.end(head(code, { "Content-Length": 0, ...headers }));
    },
    serve(file, o = {}) {
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      const ifRange = req.headers["if-range"];
      const validatorOk = !ifRange || ifRange === o.etag || ifRange === o.lastModified;
      let start = 0;
      let code = 200;
      if (m && !o.ignoreRange && validatorOk) {
        start = Number(m[1]);
        if (start >= file.length) return this.status(416, { "Content-Range": `bytes */${file.length}` });
        code = 206;
      }
      const body = file.subarray(start);
      sock.write(head(code, {
        "Content-Length": o.noLength ? undefined : body.length + (o.lengthDelta ?? 0),
        "Content-Range": code === 206 ? `bytes ${o.rangeStart ?? start}-${file.length - 1}/${o.rangeTotal ?? file.length}` : undefined,
        ETag: o.etag,
        "Last-Modified": o.lastModified,
        "Accept-Ranges": "bytes",
      }));
      void pump(sock, file, start, o, running);
    },
  };
}

async function pump(sock: Socket, file: Uint8Array, start: number, o: ServeOptions, running: Running): Promise<void> {
  const stop = Math.min(file.length, o.dropAt ?? Infinity, o.stallAt ?? Infinity);
  const step = o.trickle ?? 64 * 1024;
  for (let pos = start; pos < stop; pos += step) {
    if (sock.destroyed) return;
    const chunk = file.subarray(pos, Math.min(stop, pos + step));
    running.sent += chunk.length;
    if (!sock.write(chunk)) await new Promise((res) => sock.once("drain", res));
    if (o.trickleMs) await new Promise((res) => setTimeout(res, o.trickleMs));
  }
  if (o.stallAt !== undefined && o.stallAt < file.length) return; // keep the socket open, silent
  if (o.dropAt !== undefined && o.dropAt < file.length) {
    await new Promise((res) => setTimeout(res, 10));
    running.drops.push(Date.now());
    sock.destroy();
    return;
  }
  sock.end();
}

export interface Proxy { url: string; connects: string[]; close(): Promise<void> }

/** An HTTP CONNECT proxy on 127.0.0.1 that records each tunnel's target. */
export async function startConnectProxy(): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const proxy: Proxy = { url: "", connects: [], close: async () => {} };
  const server = createNet((sock) => {
    sockets.add(sock);
    sock.on("error", () => {});
    sock.once("data", (d) => {
      const [method, target] = d.toString("latin1").split(" ");
      if (method !== "CONNECT" || !target) return void sock.end("HTTP/1.1 405 Method Not Allowed\r\n\r\n");
      proxy.connects.push(target);
      const i = target.lastIndexOf(":");
      const up = connect(Number(target.slice(i + 1)), target.slice(0, i), () => {
        sock.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        sock.pipe(up).pipe(sock);
      });
      sockets.add(up);
      up.on("error", () => sock.destroy());
    });
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((res) => server.close(() => res()));
  };
  return proxy;
}
