// A RAUC device in a temp folder, for tests that run RAUC for real: two file-backed raw
// slots, a custom bootloader keeping the primary slot and slot states in files
// (test/fixtures/rauc/bootloader), a private D-Bus system bus, and the RAUC service started
// on the slot the bootloader boots (test/fixtures/rauc/boot, which also stands in for a reboot).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { missingCommand } from "./needs.ts";
import { tempDir, type Issued } from "./pki.ts";
import { waitFor } from "./rig.ts";

const FIXTURES = resolve(import.meta.dir, "../fixtures/rauc");
export const BOOT = join(FIXTURES, "boot");
const COMPATIBLE = "otter-test-device";

function run(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Why RAUC cannot run here (it mounts bundles on loop devices), or undefined. */
export function raucMissing(): string | undefined {
  const missing = missingCommand(["rauc", "mksquashfs", "dbus-daemon", "dbus-send", "findmnt"]);
  if (missing) return missing;
  const uid = process.getuid?.();
  if (uid !== 0) return `rauc install mounts the bundle on a loop device, which needs root (running as uid ${uid})`;
  const dir = tempDir("otter-loop-probe-");
  try {
    mkdirSync(join(dir, "in"));
    mkdirSync(join(dir, "mnt"));
    run("mksquashfs", [join(dir, "in"), join(dir, "probe.sqfs"), "-quiet", "-noappend"]);
    const r = spawnSync("mount", ["-o", "loop,ro", join(dir, "probe.sqfs"), join(dir, "mnt")], { encoding: "utf8" });
    if (r.status !== 0) return `rauc install mounts the bundle on a loop device, and mount -o loop fails here: ${r.stderr.trim()}`;
    spawnSync("umount", [join(dir, "mnt")]);
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Slot states as `rauc status --detailed --output-format=shell` prints them. */
export interface SlotStatus {
  state: string;
  bootname: string;
  bootStatus: string;
  version: string;
}

export class RaucDevice {
  readonly dir = tempDir("otter-rauc-");
  private readonly bus: ChildProcess;
  /** what otter needs in its environment to reach this device's RAUC (the hooks inherit it) */
  readonly env: Record<string, string>;

  /** A device trusting `ca`, booted from slot A, which holds `factory`. */
  constructor(ca: Issued, factory: Uint8Array) {
    const d = this.dir;
    mkdirSync(join(d, "boot"));
    mkdirSync(join(d, "mnt"));
    writeFileSync(join(d, "A.img"), factory);
    writeFileSync(join(d, "B.img"), "");
    writeFileSync(join(d, "boot/primary"), "A\n");
    for (const slot of ["A", "B"]) writeFileSync(join(d, `boot/state.${slot}`), "good\n");
    writeFileSync(join(d, "ca.pem"), ca.cert);
    writeFileSync(join(d, "system.conf"), `[system]
compatible=${COMPATIBLE}
bootloader=custom
mountprefix=${d}/mnt
data-directory=${d}/data
bundle-formats=plain

[keyring]
path=${d}/ca.pem

[handlers]
bootloader-custom-backend=${FIXTURES}/bootloader

[slot.rootfs.0]
device=${d}/A.img
type=raw
bootname=A

[slot.rootfs.1]
device=${d}/B.img
type=raw
bootname=B
`);
    writeFileSync(join(d, "bus.conf"), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${d}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`);
    this.bus = spawn("dbus-daemon", [`--config-file=${d}/bus.conf`, "--nofork"], { stdio: "ignore" });
    this.env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${d}/bus`, REBOOT_CMD: `${BOOT} ${d}` };
  }

  /** Wait for the bus, then boot (the first time, or again after a power cut). */
  async boot(): Promise<void> {
    await waitFor(() => existsSync(join(this.dir, "bus")), 5000, "the D-Bus socket");
    run(BOOT, [this.dir], this.env);
  }

  /** A plain bundle of `image` as `version`, signed by `signer`. */
  bundle(version: string, image: Uint8Array, signer: Issued, name = `${version}.raucb`): string {
    const content = join(this.dir, `content-${name}`);
    mkdirSync(content);
    writeFileSync(join(content, "rootfs.img"), image);
    writeFileSync(join(content, "manifest.raucm"), `[update]\ncompatible=${COMPATIBLE}\nversion=${version}\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n`);
    const out = join(this.dir, name);
    run("rauc", ["bundle", `--cert=${signer.certFile}`, `--key=${signer.keyFile}`, content, out]);
    rmSync(content, { recursive: true });
    return out;
  }

  /** Slots by bootname, as the running RAUC service reports them. */
  status(): { booted: string; primary: string; slots: Record<string, SlotStatus> } {
    const vars = new Map<string, string>();
    for (const line of run("rauc", ["status", "--detailed", "--output-format=shell"], this.env).split("\n")) {
      const m = line.match(/^(\w+)='(.*)'$/);
      if (m) vars.set(m[1]!, m[2]!);
    }
    const slots: Record<string, SlotStatus> = {};
    const names = vars.get("RAUC_SYSTEM_SLOTS")!.split(" ");
    let primary = "";
    for (const [i, n] of vars.get("RAUC_SLOTS")!.split(" ").entries()) {
      const v = (key: string) => vars.get(`RAUC_SLOT_${key}_${n}`) ?? "";
      slots[v("BOOTNAME")] = { state: v("STATE"), bootname: v("BOOTNAME"), bootStatus: v("BOOT_STATUS"), version: v("STATUS_BUNDLE_VERSION") };
      if (names[i] === vars.get("RAUC_BOOT_PRIMARY")) primary = v("BOOTNAME");
    }
    return { booted: vars.get("RAUC_SYSTEM_BOOTED_BOOTNAME")!, primary, slots };
  }

  slot(bootname: "A" | "B"): Buffer {
    return readFileSync(join(this.dir, `${bootname}.img`));
  }

  /** The bootloader stops inside the next `rauc install`, when RAUC marks the target slot bad. */
  pauseInstall(): void {
    writeFileSync(join(this.dir, "boot/pause"), "");
  }

  /** Whether an install reached that pause. */
  installPaused(): boolean {
    return existsSync(join(this.dir, "boot/paused"));
  }

  /** The power goes: the RAUC service and what it runs die at once, and its mounts go with it at the next boot. */
  cutPower(): void {
    const pid = Number(readFileSync(join(this.dir, "service.pid"), "utf8"));
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
    rmSync(join(this.dir, "boot/paused"), { force: true });
  }

  stop(): void {
    if (existsSync(join(this.dir, "service.pid"))) this.cutPower();
    this.bus.kill("SIGKILL");
    for (const m of run("findmnt", ["-rn", "-o", "TARGET"]).split("\n").filter((t) => t.startsWith(`${this.dir}/`)).reverse()) {
      spawnSync("umount", ["-l", m]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
