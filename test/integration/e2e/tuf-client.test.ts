// scripts/tuf-client, the TUF conformance suite's client protocol on otter's TUF client and
// downloader, against repositories made by scripts/tuf-repo on 127.0.0.1.
import { afterEach, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../helpers/otter.ts";
import { TufRepo } from "../../helpers/tufrepo.ts";
import { UpdateServer } from "../../helpers/updateserver.ts";

let server: UpdateServer;
let repo: TufRepo;
afterEach(() => {
  server.stop();
  repo.cleanup();
});

function client(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const p = spawn(join(ROOT, "scripts/tuf-client"), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  p.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((resolve) => p.on("close", (code) => resolve({ code, stderr })));
}

for (const consistent of [false, true]) {
  test(`init, refresh, download (consistent_snapshot ${consistent}); a refused refresh and a tampered target exit 1`, async () => {
    server = new UpdateServer();
    repo = new TufRepo(server, { consistent });
    repo.add("release/image", "1.0.0", { version: "1.0.0" });
    const md = join(repo.dir, "client");
    const targets = join(repo.dir, "got");
    const url = ["--metadata-dir", md, "--metadata-url", `${server.url}/metadata`];
    expect(await client(["--metadata-dir", md, "init", repo.root])).toEqual({ code: 0, stderr: "" });
    expect(await client([...url, "refresh"])).toEqual({ code: 0, stderr: "" });
    // Non-versioned names in the metadata folder, as the suite expects.
    expect(readdirSync(md).sort()).toEqual(["root.json", "snapshot.json", "targets.json", "timestamp.json"]);
    const get = [...url, "--target-name", "release/image", "--target-base-url", `${server.url}/targets`, "--target-dir", targets, "download"];
    expect(await client(get)).toEqual({ code: 0, stderr: "" });
    expect(readFileSync(join(targets, "release%2Fimage"), "utf8")).toBe("1.0.0");
    repo.rotate("timestamp");
    repo.bump(["timestamp"], -1);
    expect(await client([...url, "refresh"])).toEqual({ code: 1, stderr: expect.stringContaining("expired") });
    repo.bump(["timestamp"]);
    expect((await client([...url, "refresh"])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(md, "root.json"), "utf8")).signed.version).toBe(2);
    for (const [path] of server.files) if (path.startsWith("/targets/")) server.files.set(path, new TextEncoder().encode("1.0.X"));
    expect((await client([...get, "--target-dir", join(repo.dir, "got2")])).code).toBe(1);
    expect(existsSync(join(repo.dir, "got2", "release%2Fimage"))).toBe(false);
  });
}
