// The powercut guest, from Debian packages only: Debian's kernel, an initramfs holding
// busybox-static, the glibc libraries the otter binary links, the virtio/ext4 modules and
// guest/init; and the device's disk, an ext4 image made with `mkfs.ext4 -d` (no loop
// mount) holding otter, its config, hooks, state and download folders. Read back with
// debugfs, read-only. The kernel and initramfs are cached under .cache/powercut/.
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const CACHE = join(ROOT, ".cache/powercut");
const DEBS = join(CACHE, "debs/root");
const GUEST = join(import.meta.dir, "guest");
/** What the guest loads (modules.dep adds their dependencies). */
const MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "crc32c_generic", "ext4"];

export interface Guest {
  kernel: string;
  initrd: string;
}

/** Run a command; throw with its stderr when it fails. */
export function run(cmd: string[], opts: { cwd?: string; stdin?: Uint8Array } = {}): string {
  const p = Bun.spawnSync(cmd, { cwd: opts.cwd, stdin: opts.stdin, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${p.exitCode}: ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

function kernelVersion(): string {
  const dir = join(DEBS, "lib/modules");
  const versions = existsSync(dir) ? readdirSync(dir) : [];
  if (versions.length !== 1) throw new Error(`powercut: expected one kernel under ${dir}, found ${versions.length}; run scripts/setup-powercut`);
  return versions[0]!;
}

/** The libraries `ldd` lists for the binary, by absolute path (the loader included). */
export function libraries(binary: string): string[] {
  const out = run(["ldd", binary]);
  return [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
}

/** MODULES and what they depend on, in an order insmod can load them (dependencies first). */
function moduleClosure(modulesDir: string): string[] {
  const dep = join(modulesDir, "modules.dep");
  if (!existsSync(dep)) run([join(DEBS, "bin/busybox"), "depmod", "-b", DEBS, modulesDir.split("/").pop()!]);
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(dep, "utf8").split("\n")) {
    const [mod, rest] = line.split(":");
    if (mod && rest !== undefined) deps.set(mod, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((p) => [p.split("/").pop()!.replace(/\.ko(\.\w+)?$/, ""), p]));
  const order: string[] = [];
  const visit = (path: string) => {
    if (order.includes(path)) return;
    // modules.dep lists a module's dependencies so that the last one loads first
    for (const d of [...(deps.get(path) ?? [])].reverse()) visit(d);
    order.push(path);
  };
  for (const name of MODULES) {
    const path = byName.get(name);
    if (!path) throw new Error(`powercut: module ${name} is not in ${dep}`);
    visit(path);
  }
  return order;
}

/** Kernel and initramfs for `binary`'s libraries; built once, then reused from the cache. */
export function buildGuest(binary: string): Guest {
  const version = kernelVersion();
  const libs = libraries(binary);
  const init = readFileSync(join(GUEST, "init"));
  const key = createHash("sha256").update(version).update(libs.join()).update(init).update(MODULES.join()).digest("hex").slice(0, 12);
  const dir = join(CACHE, `guest-${key}`);
  const guest = { kernel: join(DEBS, `boot/vmlinuz-${version}`), initrd: join(dir, "initrd.gz") };
  if (existsSync(guest.initrd)) return guest;
  const tree = `${dir}.tree-${process.pid}`;
  rmSync(tree, { recursive: true, force: true });
  for (const d of ["bin", "proc", "sys", "dev", "tmp", "data", "modules"]) mkdirSync(join(tree, d), { recursive: true });
  copyFileSync(join(DEBS, "bin/busybox"), join(tree, "bin/busybox"));
  chmodSync(join(tree, "bin/busybox"), 0o755);
  symlinkSync("busybox", join(tree, "bin/sh"));
  writeFileSync(join(tree, "init"), init, { mode: 0o755 });
  for (const lib of libs) {
    mkdirSync(join(tree, dirname(lib)), { recursive: true });
    cpSync(lib, join(tree, lib), { dereference: true });
  }
  const modulesDir = join(DEBS, "lib/modules", version);
  const names: string[] = [];
  for (const path of moduleClosure(modulesDir)) {
    const name = path.split("/").pop()!.replace(/\.ko(\.\w+)?$/, "");
    const src = join(modulesDir, path);
    // busybox insmod takes plain .ko files: unpack a compressed one
    const bytes = path.endsWith(".xz") ? Bun.spawnSync(["xz", "-dc", src]).stdout : path.endsWith(".zst") ? Bun.spawnSync(["zstd", "-dc", src]).stdout : readFileSync(src);
    writeFileSync(join(tree, "modules", `${name}.ko`), bytes);
    names.push(name);
  }
  writeFileSync(join(tree, "modules/order"), names.join("\n") + "\n");
  mkdirSync(dir, { recursive: true });
  const list = run(["find", "."], { cwd: tree });
  const cpio = Bun.spawnSync([join(DEBS, "bin/busybox"), "cpio", "-o", "-H", "newc"], { cwd: tree, stdin: new TextEncoder().encode(list), stdout: "pipe", stderr: "pipe" });
  if (cpio.exitCode !== 0) throw new Error(`powercut: cpio: ${cpio.stderr.toString()}`);
  writeFileSync(`${guest.initrd}.tmp-${process.pid}`, Bun.gzipSync(new Uint8Array(cpio.stdout)));
  renameSync(`${guest.initrd}.tmp-${process.pid}`, guest.initrd);
  rmSync(tree, { recursive: true, force: true });
  return guest;
}

/** A fresh device disk at `image`: otter, its config and hooks, running `version`. */
export function buildDisk(image: string, binary: string, version: string, sizeMiB = 384): void {
  const tree = `${image}.tree`;
  rmSync(tree, { recursive: true, force: true });
  for (const d of ["bin", "state", "dl", "installed"]) mkdirSync(join(tree, d), { recursive: true });
  copyFileSync(binary, join(tree, "bin/otter"));
  chmodSync(join(tree, "bin/otter"), 0o755);
  cpSync(join(GUEST, "hooks"), join(tree, "hooks"), { recursive: true });
  copyFileSync(join(GUEST, "otter.ini"), join(tree, "otter.ini"));
  writeFileSync(join(tree, "version"), `${version}\n`);
  rmSync(image, { force: true });
  run(["mkfs.ext4", "-q", "-F", "-L", "otter", "-d", tree, image, `${sizeMiB}M`]);
  rmSync(tree, { recursive: true, force: true });
}

/** A file's bytes from the image (debugfs, read-only); undefined when it does not exist. */
export function readImageFile(image: string, path: string): Uint8Array | undefined {
  const p = Bun.spawnSync(["debugfs", "-R", `cat ${path}`, image], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0 || /File not found/.test(p.stderr.toString())) return undefined;
  return p.stdout;
}

/** Copy folder `path` of the image into `to` (debugfs rdump, read-only). */
export function dumpImageDir(image: string, path: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  run(["debugfs", "-R", `rdump ${path} ${to}`, image]);
}

/** Problems e2fsck finds in the image (read-only check); empty when it is clean. */
export function fsck(image: string): string {
  const p = Bun.spawnSync(["e2fsck", "-fn", image], { stdout: "pipe", stderr: "pipe" });
  return p.exitCode === 0 ? "" : `${p.stdout}${p.stderr}`.trim().split("\n").slice(-6).join("; ");
}
