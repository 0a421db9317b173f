// download() from a Bun-compiled binary and from the esbuild bundle under Node: the real
// undici must be the one loaded (Bun's built-in shim ignores a custom CA).
import { beforeAll, afterAll, describe, expect, test } from "bun:test";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { startServer, type Running } from "../../helpers/flakyserver.ts";
import { clientCert, makeCA, serverCert, tempDir } from "../../helpers/pki.ts";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dir, "../../..");
const BIN = join(ROOT, "node_modules/.bin");
const FILE = randomBytes(2 * 2 ** 20);
const SHA = createHash("sha256").update(FILE).digest("hex");
const dir = tempDir();
let server: Running;
let ini: string;

beforeAll(async () => {
  const ca = makeCA(dir, "dl-ca");
  const srv = serverCert(dir, ca);
  const dev = clientCert(dir, ca, "device-bin");
  server = await startServer((_, r) => r.serve(FILE, { etag: '"b1"' }), { key: srv.key, cert: srv.cert, ca: ca.cert, requestCert: true });
  ini = join(dir, "otter.ini");
  writeFileSync(ini, `[download]\ncafile = ${ca.certFile}\ncertfile = ${dev.certFile}\nkeyfile = ${dev.keyFile}\nretry_base = 0.05\nmax_attempts = 2\n`);
  await Promise.all([
    run(join(BIN, "bun"), ["build", "test/helpers/fetch-cli.ts", "--compile", "--minify", "--outfile", join(dir, "fetch-cli")], { cwd: ROOT }),
    run(join(BIN, "esbuild"), ["test/helpers/fetch-cli.ts", "--bundle", "--platform=node", "--format=esm", "--target=node20", "--log-level=warning",
      `--outfile=${join(dir, "fetch-cli.mjs")}`, "--banner:js=import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);"], { cwd: ROOT }),
  ]);
}, 120_000);

afterAll(() => server.close());

describe("download from built artifacts", () => {
  for (const [name, argv] of [["bun --compile binary", () => [join(dir, "fetch-cli")]], ["esbuild bundle under node", () => ["node", join(dir, "fetch-cli.mjs")]]] as const) {
    test(`${name}: custom CA + client certificate`, async () => {
      const [cmd, ...pre] = argv();
      const part = join(dir, `${name.split(" ")[0]}.part`);
      const seen = server.seen.length;
      const { stdout } = await run(cmd!, [...pre, ini, `${server.url}/f`, part, "--sha256", SHA]);
      expect(JSON.parse(stdout).sha256).toBe(SHA);
      expect(createHash("sha256").update(readFileSync(part)).digest("hex")).toBe(SHA);
      expect(server.seen[seen]!.clientCN).toBe("device-bin");
    }, 60_000);
  }
});
