// The docs' recipes, run as written against the built binary: each key and signing command
// of docs/signatures.md makes exactly what otter checks for its algorithm (a manifest naming
// the algorithm, otter install --signature with the file openssl wrote, a signer certificate
// chaining to [verify] ca), and docs/manifests-and-jobs.md's MQTT recipe installs a job.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tempDir } from "../../helpers/pki.ts";
import { ROOT } from "../../helpers/otter.ts";
import { perTest } from "../../helpers/rig.ts";

const fx = perTest();
const doc = (name: string) => readFileSync(join(ROOT, "docs", name), "utf8");
const SIGNATURES = doc("signatures.md");
const JOBS = doc("manifests-and-jobs.md");

const RSA = "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out key.pem";
const EC = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem";
const ED25519 = "openssl genpkey -algorithm ed25519 -out key.pem";

const PUBLIC = "openssl pkey -in key.pem -pubout -out public.pem";
const FILE = "openssl dgst -sha256 -sign key.pem -out image.sig image.bin";
const PSS = "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sign key.pem -out image.sig image.bin";
const DIGEST = "openssl dgst -sha256 -binary -out image.sha256 image.bin && openssl pkeyutl -sign -rawin -inkey key.pem -in image.sha256 -out image.sig";
const WHOLE = "openssl pkeyutl -sign -rawin -inkey key.pem -in image.bin -out image.sig";

// A signer certificate from a CA, as docs/signatures.md makes them.
const CA_KEY = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca-key.pem";
const CA = "openssl req -x509 -new -key ca-key.pem -subj /CN=updates-ca -days 3650 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out ca.pem";
const SIGNER = "openssl req -new -key key.pem -subj /CN=signer -addext keyUsage=critical,digitalSignature -addext extendedKeyUsage=codeSigning | openssl x509 -req -CA ca.pem -CAkey ca-key.pem -days 365 -copy_extensions copy -out signer.pem";

const CASES: [string, string, string, string][] = [
  ["rsa-pkcs1", RSA, "rsa-pkcs1", FILE],
  ["rsa-pss", RSA, "rsa-pss", PSS],
  ["ecdsa P-256", EC, "ecdsa", FILE],
  ["ecdsa P-384", EC.replace("P-256", "P-384"), "ecdsa", FILE],
  ["ed25519 over the SHA-256 digest", ED25519, "ed25519", DIGEST],
  ["ed25519 over the file itself", ED25519, "ed25519", WHOLE],
];

/** A folder with image.bin and what `commands` make there, run as docs/signatures.md writes them. */
function signed(commands: string[], body: string): { dir: string; signature: string } {
  const dir = tempDir();
  writeFileSync(join(dir, "image.bin"), body);
  for (const cmd of commands) execFileSync("sh", ["-c", cmd], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  return { dir, signature: readFileSync(join(dir, "image.sig")).toString("base64") };
}

describe("docs/signatures.md's openssl commands sign what otter checks", () => {
  test("docs/signatures.md shows each command as tested here", () => {
    for (const cmd of [RSA, EC, ED25519, PUBLIC, FILE, PSS, DIGEST, WHOLE, "base64 -w0 image.sig", CA_KEY, CA, SIGNER]) expect(SIGNATURES).toContain(cmd);
  });

  test.each(CASES)("%s: a manifest naming the algorithm installs; another file's signature does not", async (_name, key, algorithm, sign) => {
    const { dir, signature } = signed([key, PUBLIC, sign], "1.0.0");
    fx.server.publish("release", "1.0.0", "1.0.0", { signature: { value: signature, algorithm } });
    fx.server.publish("weekly", "1.1.0", "1.1.0", { signature: { value: signature, algorithm } }); // 1.0.0's signature
    const r = fx.rig({ channels: ["release", "weekly"], set: { verify: { public_key: join(dir, "public.pem") } } });
    const res = await r.run();
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED")]);
    expect(r.version()).toBe("1.0.0");
    const wrong = await r.run();
    expect([wrong.code, wrong.stdout]).toEqual([1, expect.stringContaining("verification_failed")]);
  });

  test("otter install --signature takes the file openssl wrote (ed25519 over the file)", async () => {
    const { dir } = signed([ED25519, PUBLIC, WHOLE], "2.0.0");
    const r = fx.rig({ set: { verify: { public_key: join(dir, "public.pem") } } });
    const res = await r.run(["install", join(dir, "image.bin"), "--version", "2.0.0", "--signature", join(dir, "image.sig")]);
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED")]);
    expect(r.version()).toBe("2.0.0");
  });

  test("a signer certificate from the CA: a manifest carrying it installs, and otter install --certificate too", async () => {
    const { dir, signature } = signed([ED25519, CA_KEY, CA, SIGNER, DIGEST], "1.0.0");
    const certificate = readFileSync(join(dir, "signer.pem"), "utf8");
    fx.server.publish("release", "1.0.0", "1.0.0", { signature: { value: signature, certificate } });
    const r = fx.rig({ channels: ["release"], set: { verify: { ca: join(dir, "ca.pem") } } });
    const res = await r.run();
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED")]);
    expect(r.version()).toBe("1.0.0");
    writeFileSync(join(dir, "image.bin"), "2.0.0");
    execFileSync("sh", ["-c", DIGEST], { cwd: dir });
    const by = await r.run(["install", join(dir, "image.bin"), "--version", "2.0.0", "--signature", join(dir, "image.sig"), "--certificate", join(dir, "signer.pem")]);
    expect([by.code, by.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED")]);
    expect(r.version()).toBe("2.0.0");
  });
});

// A port nobody listens on now (the recipe's fixed ports may be taken by parallel tests).
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

test("docs/manifests-and-jobs.md's MQTT recipe installs its job (ports and /tmp paths moved, commands as written)", async () => {
  const block = /Trying MQTT mode locally[\s\S]*?```\n([\s\S]*?)```/.exec(JOBS)?.[1];
  expect(block).toBeDefined();
  const tmp = mkdtempSync(join(tmpdir(), "otter-recipe-"));
  let script = block!;
  for (const port of ["1883", "8080", "8000"]) script = script.replaceAll(port, String(await freePort()));
  for (const path of ["/tmp/www", "/tmp/otter-mqtt", "/tmp/otter.ini"]) script = script.replaceAll(path, join(tmp, path.slice(5)));
  writeFileSync(join(tmp, "recipe.sh"), script);
  // Job control gives the background commands a list to end when the recipe is done.
  const p = Bun.spawn(["bash", "-c", `set -m; . "${join(tmp, "recipe.sh")}"; kill $(jobs -p)`], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  rmSync(tmp, { recursive: true, force: true });
  expect(code).toBe(0);
  expect(out).toContain("otter: upparat_1 (version 1.2.3): SUCCEEDED complete_no_version_check");
  expect(out).toContain('"status":"SUCCEEDED"');
}, 30_000);
