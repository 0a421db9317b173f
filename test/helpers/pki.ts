// Keys and certificates made at test time with openssl (no private key is committed).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type KeyKind = "rsa" | "ec256" | "ec384" | "ed25519";

export interface Issued { key: string; cert: string; keyFile: string; certFile: string }

export function tempDir(prefix = "otter-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function ssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A PEM private key of the given kind, written to dir/name.key. */
export function makeKey(dir: string, name: string, kind: KeyKind): string {
  const file = join(dir, `${name}.key`);
  const opts: Record<KeyKind, string[]> = {
    rsa: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    ec256: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    ec384: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    ed25519: ["-algorithm", "ED25519"],
  };
  ssl(["genpkey", ...opts[kind], "-out", file]);
  return file;
}

/** A self-signed CA. */
export function makeCA(dir: string, name: string, kind: KeyKind = "ec256"): Issued {
  const keyFile = makeKey(dir, name, kind);
  const certFile = join(dir, `${name}.pem`);
  ssl(["req", "-x509", "-new", "-key", keyFile, "-subj", `/CN=${name}`, "-days", "30", "-out", certFile,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  return { keyFile, certFile, key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8") };
}

export interface IssueOptions {
  kind?: KeyKind;
  /** negative = already expired */
  days?: number;
  /** extensions, openssl x509v3 config lines */
  ext?: string[];
}

/** A certificate for `name` signed by `ca`. */
export function issue(dir: string, ca: Issued, name: string, o: IssueOptions = {}): Issued {
  const keyFile = makeKey(dir, name, o.kind ?? "ec256");
  const csr = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, (o.ext ?? ["keyUsage=critical,digitalSignature", "extendedKeyUsage=codeSigning"]).join("\n") + "\n");
  ssl(["req", "-new", "-key", keyFile, "-subj", `/CN=${name}`, "-out", csr]);
  ssl(["x509", "-req", "-in", csr, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-set_serial", String(Date.now()),
    "-days", String(o.days ?? 30), "-extfile", extFile, "-out", certFile]);
  return { keyFile, certFile, key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8") };
}

/** A TLS server certificate for 127.0.0.1. */
export function serverCert(dir: string, ca: Issued, name = "server"): Issued {
  return issue(dir, ca, name, { ext: ["subjectAltName=IP:127.0.0.1,DNS:localhost", "extendedKeyUsage=serverAuth"] });
}

/** A TLS client certificate. */
export function clientCert(dir: string, ca: Issued, name = "device-1"): Issued {
  return issue(dir, ca, name, { ext: ["extendedKeyUsage=clientAuth"] });
}

/** A signing certificate without extendedKeyUsage: the default purpose checks of RAUC and SWUpdate accept it. */
export function signingCert(dir: string, ca: Issued, name = "signer"): Issued {
  return issue(dir, ca, name, { ext: ["keyUsage=critical,digitalSignature"] });
}
