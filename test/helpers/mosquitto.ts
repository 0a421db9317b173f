// A real mosquitto on a free 127.0.0.1 port for integration tests: plain, or with a second
// mutual-TLS listener using a CA, server and client certificate made by openssl in a temp dir.
// With `connections`, what the broker logs about clients is kept as events: each connect,
// and each kick of an older connection by a new one with the same client id (a broker keeps
// one connection per client id, as AWS IoT does), stamped by the broker in epoch seconds.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BINARY = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].find(existsSync) ?? "mosquitto";

export interface Certs {
  ca: string;
  cert: string;
  key: string;
}

/** A free TCP port on 127.0.0.1 (closed again, so a server can bind it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

function openssl(dir: string, ...args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** A CA plus a server certificate for 127.0.0.1 and a client certificate, all signed by it. */
export function makeCerts(dir: string): { ca: string; server: Certs; client: Certs } {
  openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=otter test CA");
  for (const [name, cn] of [["server", "127.0.0.1"], ["client", "otter-device"]] as const) {
    openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), name === "server" ? "subjectAltName=IP:127.0.0.1,DNS:localhost\n" : "extendedKeyUsage=clientAuth\n");
    openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
  }
  const ca = join(dir, "ca.pem");
  const pair = (n: string): Certs => ({ ca, cert: join(dir, `${n}.pem`), key: join(dir, `${n}.key`) });
  return { ca, server: pair("server"), client: pair("client") };
}

export interface BrokerEvent {
  /** the broker's own time stamp, seconds since the epoch */
  at: number;
  kind: "connected" | "kicked";
  clientId: string;
}

// mosquitto 2.0's notice lines, e.g. "1796118303: New client connected from 127.0.0.1:51896 as dev1 (p2, c1, k60)."
const CONNECTED = /^(\d+): New client connected from \S+ as (\S+) \(/;
const KICKED = /^(\d+): Client (\S+) already connected, closing old connection\.$/;

export class Mosquitto {
  private proc?: ChildProcess;
  /** with `connections`: connects and kicks, in the order the broker logged them, across restarts */
  readonly events: BrokerEvent[] = [];
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly tlsPort: number | undefined,
    readonly clientCerts: Certs | undefined,
  ) {}

  /** Start a broker; with `tls`, also a mutual-TLS listener on `tlsPort`. */
  static async start(opts: { tls?: boolean; port?: number; connections?: boolean } = {}): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), "otter-mosquitto-"));
    const port = opts.port ?? (await freePort());
    // The jobs emulator subscribes to every thing's requests: a fleet's burst must queue for
    // it, not be dropped at mosquitto's default of 1000 queued messages per client.
    const lines = ["per_listener_settings false", "allow_anonymous true", "persistence false", "log_dest stderr", "log_type error", "max_queued_messages 100000", `listener ${port} 127.0.0.1`];
    if (opts.connections) lines.push("log_type notice", "connection_messages true");
    let tlsPort: number | undefined;
    let client: Certs | undefined;
    if (opts.tls) {
      const certs = makeCerts(dir);
      tlsPort = await freePort();
      client = certs.client;
      lines.push(`listener ${tlsPort} 127.0.0.1`, `cafile ${certs.ca}`, `certfile ${certs.server.cert}`, `keyfile ${certs.server.key}`, "require_certificate true");
    }
    writeFileSync(join(dir, "mosquitto.conf"), lines.join("\n") + "\n");
    // Run as root, mosquitto drops to its own user: let it read the config and test keys.
    chmodSync(dir, 0o755);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    const m = new Mosquitto(dir, port, tlsPort, client);
    await m.launch();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const proc = spawn(BINARY, ["-c", join(this.dir, "mosquitto.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let partial = "";
    proc.stderr!.on("data", (d) => {
      if (stderr.length < 64 * 1024) stderr += d;
      const lines = (partial + d).split("\n");
      partial = lines.pop()!;
      for (const line of lines) this.parse(line);
    });
    this.proc = proc;
    for (let i = 0; i < 500; i++) {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited ${proc.exitCode}: ${stderr}`);
      if (await accepts(this.port)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`mosquitto did not accept connections on ${this.port}: ${stderr}`);
  }

  private parse(line: string): void {
    const connected = CONNECTED.exec(line);
    if (connected) return void this.events.push({ at: Number(connected[1]), kind: "connected", clientId: connected[2]! });
    const kicked = KICKED.exec(line);
    if (kicked) this.events.push({ at: Number(kicked[1]), kind: "kicked", clientId: kicked[2]! });
  }

  /** Kill the broker (SIGKILL by default, like a crash) and wait until it is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    await gone;
  }

  /** Start again on the same port(s). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
