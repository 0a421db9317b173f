// One boot of the powercut guest under qemu: the serial console goes to a log file and,
// line by line, to listeners; a power cut is a SIGKILL of qemu (the guest's page cache is
// lost, only what reached the virtual disk survives, the next boot has a new boot id).
// The guest reaches nothing but the host's server: user-mode networking with restrict=on,
// and one forward (10.0.2.100:80 → 127.0.0.1:PORT, through busybox nc per connection).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE, type Guest } from "./guest.ts";

const BUSYBOX = join(CACHE, "debs/root/bin/busybox");

export interface Line {
  /** ms since the boot started */
  t: number;
  text: string;
}

export interface Boot {
  readonly lines: Line[];
  /** resolves when qemu is gone: killed (a power cut), or the guest powered off */
  readonly exited: Promise<{ cut: boolean }>;
  onLine(fn: (line: Line) => void): void;
  /** cut the power now */
  cut(): void;
}

export interface BootOptions {
  guest: Guest;
  image: string;
  port: number;
  /** the version this boot's otter should end up running (guest/init reads it) */
  target: string;
  log: string;
  accel: "kvm" | "tcg";
  /** extra kernel command line */
  append?: string;
}

function qemuArgs(o: BootOptions): string[] {
  return [
    "qemu-system-x86_64", "-accel", o.accel, "-cpu", o.accel === "kvm" ? "host" : "max", "-m", "1024", "-smp", "1",
    "-nographic", "-no-reboot", "-kernel", o.guest.kernel, "-initrd", o.guest.initrd,
    // no_timer_check: a host busy enough slows TCG past the kernel's IO-APIC timer check,
    // which then panics ("IO-APIC + timer doesn't work!")
    "-append", `console=ttyS0 loglevel=3 panic=-1 no_timer_check random.trust_cpu=on powercut.target=${o.target} ${o.append ?? ""}`.trim(),
    "-drive", `file=${o.image},format=raw,if=virtio,cache=none`,
    "-netdev", `user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:${BUSYBOX} nc 127.0.0.1 ${o.port}`,
    "-device", "virtio-net-pci,netdev=n0,romfile=",
  ];
}

// Serial output carries terminal escapes (SeaBIOS, the kernel's console setup) and CRs.
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r/g;

// A harness that exits or is stopped (a test timing out, ^C) takes its guests with it.
const running = new Set<Bun.Subprocess>();
const killGuests = () => {
  for (const p of running) p.kill("SIGKILL");
};
process.on("exit", killGuests);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.once(signal, () => {
    killGuests();
    process.exit(code);
  });
}

export function boot(o: BootOptions): Boot {
  const started = Date.now();
  const proc = Bun.spawn(qemuArgs(o), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  const lines: Line[] = [];
  const listeners: ((l: Line) => void)[] = [];
  let cut = false;
  const emit = (text: string) => {
    const line = { t: Date.now() - started, text: text.replace(ESCAPES, "") };
    lines.push(line);
    appendFileSync(o.log, `${(line.t / 1000).toFixed(2).padStart(7)} ${line.text}\n`);
    for (const fn of listeners) fn(line);
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const p of parts) emit(p);
    }
    if (rest) emit(rest);
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const exited = proc.exited.then(async () => {
    await pumped;
    return { cut };
  });
  return {
    lines,
    exited,
    onLine: (fn) => listeners.push(fn),
    cut: () => {
      if (proc.exitCode !== null || cut) return;
      cut = true;
      proc.kill("SIGKILL");
      emit("powercut: --- power cut ---");
    },
  };
}

/**
 * KVM when it boots this kernel, else TCG. Probed once (guest/init powers off at once on
 * powercut.probe) and remembered in .cache/powercut/accel; POWERCUT_ACCEL overrides.
 */
export async function chooseAccel(guest: Guest, image: string): Promise<"kvm" | "tcg"> {
  const forced = process.env.POWERCUT_ACCEL;
  if (forced === "kvm" || forced === "tcg") return forced;
  const file = join(CACHE, "accel");
  if (existsSync(file)) return readFileSync(file, "utf8").trim() === "kvm" ? "kvm" : "tcg";
  let accel: "kvm" | "tcg" = "tcg";
  if (existsSync("/dev/kvm")) {
    const log = join(CACHE, "accel-probe.log");
    writeFileSync(log, "");
    const b = boot({ guest, image, port: 9, target: "probe", log, accel: "kvm", append: "powercut.probe" });
    const timer = setTimeout(() => b.cut(), 60_000);
    await b.exited;
    clearTimeout(timer);
    if (b.lines.some((l) => l.text.includes("powercut: probe ok"))) accel = "kvm";
  }
  writeFileSync(file, `${accel}\n`);
  return accel;
}
