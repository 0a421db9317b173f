// A real AF_UNIX datagram listener playing systemd for otter's sd_notify messages
// (notify-listener.py): what otter sent, from which pid, and when (monotonic ms).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./rig.ts";

export interface Notification {
  pid: number;
  fields: Record<string, string>;
  /** performance.now() when it arrived */
  at: number;
}

export class NotifyListener {
  readonly messages: Notification[] = [];
  /** the value for NOTIFY_SOCKET */
  readonly socket: string;
  private readonly dir = mkdtempSync(join(tmpdir(), "otter-notify-"));
  private readonly child: ChildProcess;
  private bound = false;

  /** Listen on a path (default) or, with abstract, on "@name". */
  constructor(abstract = false) {
    this.socket = abstract ? `@otter-test-${process.pid}-${Math.random().toString(16).slice(2)}` : join(this.dir, "notify");
    this.child = spawn("python3", [join(import.meta.dir, "notify-listener.py"), this.socket], { stdio: ["ignore", "pipe", "inherit"] });
    let rest = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        if (line === "ready") this.bound = true;
        else this.messages.push({ ...JSON.parse(line), at: performance.now() });
      }
    });
  }

  /** Wait until the socket is bound. */
  async ready(): Promise<this> {
    await waitFor(() => this.bound, 10_000, "the notify listener to bind");
    return this;
  }

  /** Messages carrying `field`, in order. */
  with(field: string): Notification[] {
    return this.messages.filter((m) => field in m.fields);
  }

  /** Wait for a message for which `match` holds. */
  async waitFor(match: (m: Notification) => boolean, ms: number, what: string): Promise<Notification> {
    await waitFor(() => this.messages.some(match), ms, what);
    return this.messages.find(match)!;
  }

  /** The STATUS= lines in order. */
  statuses(): string[] {
    return this.with("STATUS").map((m) => m.fields.STATUS!);
  }

  close(): void {
    this.child.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
