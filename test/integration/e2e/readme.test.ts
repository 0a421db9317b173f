// README's recipes, run as written against the built binary: each signing command signs
// exactly the bytes otter checks for its algorithm (a manifest naming the algorithm, and
// otter install --signature with the file openssl wrote), and the MQTT recipe installs a job.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeKey, tempDir, type KeyKind } from "../../helpers/pki.ts";
import { ROOT } from "../../helpers/otter.ts";
import { perTest } from "../../helpers/rig.ts";

const fx = perTest();
const README = readFileSync(join(ROOT, "README.md"), "utf8");

const PUBLIC = "openssl pkey -in key.pem -pubout -out public.pem";
const FILE = "openssl dgst -sha256 -sign key.pem -out image.sig image.bin";
const PSS = "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sign key.pem -out image.sig image.bin";
const DIGEST = "openssl dgst -sha256 -binary -out image.sha256 image.bin && openssl pkeyutl -sign -rawin -inkey key.pem -in image.sha256 -out image.sig";
const WHOLE = "openssl pkeyutl -sign -rawin -inkey key.pem -in image.bin -out image.sig";

const CASES: [string, KeyKind, string, string][] = [
  ["rsa-pkcs1", "rsa", "rsa-pkcs1", FILE],
  ["rsa-pss", "rsa", "rsa-pss", PSS],
  ["ecdsa P-256", "ec256", "ecdsa", FILE],
  ["ecdsa P-384", "ec384", "ecdsa", FILE],
  ["ed25519 over the SHA-256 digest", "ed25519", "ed25519", DIGEST],
  ["ed25519 over the file itself", "ed25519", "ed25519", WHOLE],
];

/** A folder with key.pem, public.pem and image.bin; `sign` run there as README writes it. */
function signed(kind: KeyKind, sign: string, body: string): { dir: string; signature: string } {
  const dir = tempDir();
  execFileSync("cp", [makeKey(dir, "k", kind), join(dir, "key.pem")]);
  writeFileSync(join(dir, "image.bin"), body);
  for (const cmd of [PUBLIC, sign]) execFileSync("sh", ["-c", cmd], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  return { dir, signature: readFileSync(join(dir, "image.sig")).toString("base64") };
}

describe("README's openssl commands sign what otter checks", () => {
  test("README shows each command as tested here", () => {
    for (const cmd of [PUBLIC, FILE, PSS, DIGEST, WHOLE, "base64 -w0 image.sig"]) expect(README).toContain(cmd);
  });

  test.each(CASES)("%s: a manifest naming the algorithm installs; another file's signature does not", async (_name, kind, algorithm, sign) => {
    const { dir, signature } = signed(kind, sign, "1.0.0");
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
    const { dir } = signed("ed25519", WHOLE, "2.0.0");
    const r = fx.rig({ set: { verify: { public_key: join(dir, "public.pem") } } });
    const res = await r.run(["install", join(dir, "image.bin"), "--version", "2.0.0", "--signature", join(dir, "image.sig")]);
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining("SUCCEEDED")]);
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

test("README's MQTT recipe installs its job (ports and /tmp paths moved, commands as written)", async () => {
  const block = /Trying MQTT mode locally[\s\S]*?```\n([\s\S]*?)```/.exec(README)?.[1];
  expect(block).toBeDefined();
  const tmp = mkdtempSync(join(tmpdir(), "otter-readme-"));
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
