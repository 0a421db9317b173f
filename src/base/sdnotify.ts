// systemd's notification protocol (sd_notify(3)), the pure part: where $NOTIFY_SOCKET
// points, whether the watchdog ($WATCHDOG_USEC, $WATCHDOG_PID) is ours and how often to
// ping it, the text of a message and the sockaddr_un it goes to. The socket is base/notify.ts.

/** An AF_UNIX datagram address: a file path, or a name in the abstract namespace ("@name"). */
export interface NotifyAddress {
  abstract: boolean;
  /** the path, or the abstract name without its "@" */
  name: string;
}

// sockaddr_un.sun_path is 108 bytes on Linux.
const SUN_PATH = 108;
const AF_UNIX = 1;

/** NOTIFY_SOCKET's address; undefined when unset; an error text for one otter cannot use. */
export function notifyAddress(value: string | undefined): NotifyAddress | string | undefined {
  if (!value) return undefined;
  const abstract = value.startsWith("@");
  const name = abstract ? value.slice(1) : value;
  // systemd also offers vsock: addresses (virtual machines); a device agent never gets one.
  if (!abstract && !value.startsWith("/")) return `NOTIFY_SOCKET=${value}: only an absolute path or an @abstract name is supported`;
  if (Buffer.byteLength(name) + 1 > SUN_PATH) return `NOTIFY_SOCKET=${value}: longer than ${SUN_PATH - 1} bytes`;
  return { abstract, name };
}

/**
 * How often to ping the watchdog: half of WATCHDOG_USEC (as sd_watchdog_enabled(3) advises),
 * in ms; undefined when there is no watchdog or it watches another process (WATCHDOG_PID).
 */
export function watchdogPingMs(usec: string | undefined, watchedPid: string | undefined, pid: number): number | undefined {
  if (!usec || !/^\d+$/.test(usec) || Number(usec) === 0) return undefined;
  if (watchedPid && watchedPid !== String(pid)) return undefined;
  return Number(usec) / 2000;
}

/** The datagram for some VARIABLE=value assignments; values are kept to one line. */
export function notifyMessage(fields: Record<string, string>): string {
  return Object.entries(fields).map(([k, v]) => `${k}=${oneLine(v)}`).join("\n");
}

/** STATUS= and the like are one line: control characters (a newline would start a new assignment) become spaces. */
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
}

/** struct sockaddr_un for `addr`, as long as sendto(2) is to be told: family, then a path and its NUL, or a NUL and the abstract name. */
export function sockaddrUn(addr: NotifyAddress, littleEndian: boolean): Uint8Array {
  const name = Buffer.from(addr.name);
  const bytes = new Uint8Array(2 + name.length + 1);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, littleEndian);
  bytes.set(name, addr.abstract ? 3 : 2);
  return bytes;
}
