// Sends sd_notify(3) messages to systemd (the protocol is base/sdnotify.ts). node:dgram has
// no AF_UNIX, so:
//  - in the Bun binaries, one datagram socket through bun:ffi: socket(2) and sendto(2) from
//    libc ("libc.so.6" is also musl's own name for itself), about 5 µs a message;
//  - under Node (dist/otter.mjs), systemd-notify --pid=OTTER --no-block, about 10 ms a message.
//    NotifyAccess=main takes only messages whose kernel credentials name otter: --pid says so
//    (systemd 252's systemd-notify sends its parent's pid by default, older ones their own;
//    another pid's credentials need CAP_SYS_ADMIN, which otter as root has). --no-block skips
//    the BARRIER=1 that systemd would refuse, and log, from systemd-notify's own pid.
import { spawn } from "node:child_process";
import { endianness } from "node:os";
import { describe } from "./errors.ts";
import { log } from "./log.ts";
import { notifyAddress, notifyMessage, sockaddrUn, watchdogPingMs, type NotifyAddress } from "./sdnotify.ts";

export interface Notifier {
  /** send VARIABLE=value assignments in one datagram; never throws (systemd may be gone) */
  send(fields: Record<string, string>): void;
  /** ms between watchdog pings, when systemd watches otter (WATCHDOG_USEC / 2) */
  readonly watchdogMs?: number;
  /** wait until what was sent is out (systemd-notify runs after otter's send returns) */
  flush(): Promise<void>;
}

const NOTIFY_VARS = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] as const;

/**
 * The notifier for the socket systemd gave otter, or undefined when it gave none. The variables
 * leave the environment, so hooks and the workload do not inherit them (sd_notify's
 * unset_environment): their messages would be refused as not from the main process.
 */
export async function openNotifier(env: NodeJS.ProcessEnv = process.env): Promise<Notifier | undefined> {
  const [socket, usec, watchedPid] = NOTIFY_VARS.map((k) => env[k]);
  for (const k of NOTIFY_VARS) delete env[k];
  const addr = notifyAddress(socket);
  if (addr === undefined) return undefined;
  if (typeof addr === "string") {
    log.warn(`${addr}; systemd is not notified`);
    return undefined;
  }
  let failed = false;
  const sender = process.versions.bun ? await ffiSender(addr) : commandSender(socket!);
  return {
    watchdogMs: watchdogPingMs(usec, watchedPid, process.pid),
    flush: sender.flush,
    send(fields) {
      const error = sender.send(notifyMessage(fields));
      // Once: a systemd that went away (or a test listener that stopped) is not worth a line a ping.
      if (error && !failed) log.warn(`cannot notify systemd at ${socket}: ${error}`);
      failed ||= error !== undefined;
    },
  };
}

const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;

interface Sender {
  /** send one datagram; an error text, or undefined */
  send(message: string): string | undefined;
  flush(): Promise<void>;
}

// One socket for the process's life; a message is one sendto(2), done when it returns.
async function ffiSender(addr: NotifyAddress): Promise<Sender> {
  const { dlopen, FFIType, ptr } = await import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64_fast },
  });
  const fd = libc.symbols.socket(1, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const to = sockaddrUn(addr, endianness() === "LE");
  return {
    send(message) {
      if (fd < 0) return "socket(AF_UNIX) failed";
      const bytes = Buffer.from(message);
      return Number(libc.symbols.sendto(fd, ptr(bytes), bytes.length, MSG_NOSIGNAL, ptr(to), to.length)) < 0 ? "sendto failed" : undefined;
    },
    flush: async () => {},
  };
}

// systemd-notify, one at a time so messages arrive in order (READY before STATUS before STOPPING).
function commandSender(socket: string): Sender {
  let queue = Promise.resolve<string | undefined>(undefined);
  let lastError: string | undefined;
  return {
    send(message) {
      queue = queue.then(() => new Promise<string | undefined>((resolve) => {
        const child = spawn("systemd-notify", [`--pid=${process.pid}`, "--no-block", ...message.split("\n")], {
          stdio: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NOTIFY_SOCKET: socket },
        });
        child.once("error", (err) => resolve(`systemd-notify: ${describe(err)}`));
        child.once("exit", (code) => resolve(code === 0 ? undefined : `systemd-notify exited ${code}`));
      })).then((error) => (lastError = error));
      // The outcome is known only later: report the previous message's, so a failure is still said once.
      return lastError;
    },
    flush: () => queue.then(() => {}),
  };
}
