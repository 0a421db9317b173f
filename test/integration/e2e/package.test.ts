// The packages as a device gets them: scripts/package (host target, fast compression) makes
// the .deb and the tarball, scripts/package-smoke installs them into a scratch root and runs
// them, and a stripped binary, which runs as plain Bun, is caught before it ships and when
// it is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../helpers/otter.ts";

const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
const tmp = mkdtempSync(join(tmpdir(), "otter-package-"));
const out = join(tmp, "packages");
const deb = join(out, `otter_${VERSION}_amd64.deb`);
const tarball = join(out, `otter-${VERSION}-linux-x64.tar.gz`);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, OTTER_SKIP_BUILD: "1" } });
const sha256 = (file: string) => execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0];
const built = () => readFileSync(join(ROOT, "dist/SHA256SUMS"), "utf8").match(/^(\w+) {2}otter-linux-x64$/m)![1];

beforeAll(() => {
  const r = run("scripts/package", ["--host", "--fast", "--out", out]);
  if (r.status !== 0) throw new Error(`scripts/package failed: ${r.stderr}`);
}, 180_000);

test("the .deb installs into a scratch root and runs there, the tarball too (scripts/package-smoke)", () => {
  const r = run("scripts/package-smoke", [deb, tarball]);
  expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  for (const line of [
    "dpkg --root installs it",
    "postinst enabled otter.service and started nothing",
    `otter --version: otter ${VERSION}`,
    "otter refuses the config as shipped: otter.ini [hooks] install: not set",
    "otter check-config accepts its config once the hooks are set",
    "the installed man page renders (groff), otter install in it",
    "the installed bash completion completes otter ins to install",
    "systemd-analyze verify accepts the installed unit",
    "dpkg -r: prerm disabled otter.service",
    "dpkg -P removes the config and /var/lib/otter",
    "SHA256SUMS matches its files",
  ]) expect(r.stdout).toContain(line);
});

test("the .deb holds what a device needs, with the config as its conffile", () => {
  const files = execFileSync("dpkg-deb", ["-c", deb], { encoding: "utf8" });
  expect(files).toMatch(/^-rwxr-xr-x root\/root +\d+ .* \.\/usr\/bin\/otter$/m);
  expect(files).toMatch(/^drwx------ root\/root .* \.\/var\/lib\/otter\/$/m);
  expect(files).toContain("./usr/lib/systemd/system/otter.service");
  expect(files).toContain("./usr/share/doc/otter/examples/rauc/hooks/install");
  expect(files).toMatch(/^drwxr-xr-x root\/root .* \.\/etc\/otter\/hooks\/$/m);
  expect(files).toContain("./usr/share/man/man1/otter.1.gz");
  expect(files).toContain("./usr/share/bash-completion/completions/otter");
  const control = join(tmp, "control");
  execFileSync("dpkg-deb", ["-e", deb, control]);
  expect(readFileSync(join(control, "conffiles"), "utf8").trim().split("\n")).toEqual(["/etc/otter/otter.ini"]);
});

describe("a stripped binary", () => {
  const stripped = join(tmp, "otter-stripped");
  beforeAll(() => {
    copyFileSync(join(ROOT, "dist/otter-linux-x64"), stripped);
    execFileSync("strip", [stripped]);
  });

  test("is plain Bun: --version prints Bun's version, not otter's (the silent brick)", () => {
    const says = execFileSync(stripped, ["--version"], { encoding: "utf8" }).trim();
    expect(says).toBe(Bun.version);
  });

  test("is refused by scripts/check-binary in one line saying why", () => {
    const r = run("scripts/check-binary", [stripped, "otter-linux-x64"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`check-binary: ${stripped}: --version says "${Bun.version}", not "otter ${VERSION}": this is plain Bun, the program embedded in it is gone (stripped?); package the binary as built\n`);
  });

  test("fails the .deb's install: the postinst says it was stripped, and dpkg reports the failure", () => {
    const tree = join(tmp, "restripped");
    execFileSync("dpkg-deb", ["-R", deb, tree]);
    copyFileSync(stripped, join(tree, "usr/bin/otter"));
    const bad = join(tmp, "otter_stripped.deb");
    execFileSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z1", "-b", tree, bad], { stdio: "ignore" });
    const root = join(tmp, "root");
    execFileSync("mkdir", ["-p", join(root, "var/lib/dpkg/info"), join(root, "var/lib/dpkg/updates")]);
    execFileSync("touch", [join(root, "var/lib/dpkg/status")]);
    const r = spawnSync("dpkg", [`--root=${root}`, "--force-script-chrootless", "--force-depends", "--log=/dev/null", "-i", bad], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`otter: ${root}/usr/bin/otter --version says "${Bun.version}", not "otter ${VERSION}": the binary was stripped`);
    expect(r.stderr).toContain("installed otter package post-installation script subprocess returned error exit status 1");
  });
});

test("the packaged binaries are the build's, byte for byte: not stripped", () => {
  const x = join(tmp, "x");
  execFileSync("dpkg-deb", ["-x", deb, x]);
  execFileSync("tar", ["-xzf", tarball, "-C", tmp]);
  expect(sha256(join(x, "usr/bin/otter"))).toBe(built());
  expect(sha256(join(tmp, `otter-${VERSION}-linux-x64/otter`))).toBe(built());
  expect(run("scripts/check-binary", [join(x, "usr/bin/otter"), "otter-linux-x64"]).status).toBe(0);
});
