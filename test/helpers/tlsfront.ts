// A TLS front for a plain loopback server: terminates HTTPS with a given certificate
// (optionally requiring a client certificate from a CA) and pipes each connection to the
// plain port, so UpdateServer's manifests, files and report log serve over mutual TLS.
import { connect } from "node:net";
import { createServer, type TLSSocket } from "node:tls";

export interface TlsFront {
  url: string;
  /** CN of each accepted client certificate, per connection */
  clients: string[];
  /** TLS handshakes refused (no or bad client certificate) */
  refused: number;
  close(): void;
}

export async function tlsFront(target: string, tls: { key: string; cert: string; ca?: string; requestCert?: boolean }): Promise<TlsFront> {
  const { port } = new URL(target);
  const front: TlsFront = { url: "", clients: [], refused: 0, close: () => server.close() };
  const server = createServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: !!tls.requestCert, rejectUnauthorized: !!tls.requestCert }, (sock: TLSSocket) => {
    const cn = sock.getPeerCertificate()?.subject?.CN;
    if (cn) front.clients.push(String(cn));
    const back = connect(Number(port), "127.0.0.1");
    sock.pipe(back).pipe(sock);
    const end = () => { sock.destroy(); back.destroy(); };
    sock.on("error", end).on("close", end);
    back.on("error", end).on("close", end);
  });
  server.on("tlsClientError", () => front.refused++);
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  front.url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return front;
}
