// The supervised workload: a command from [policy] workload that otter starts after a good
// ready check and keeps as its own child, in its own process group, so it learns of its
// death at once (rule 1 of the policy) and can stop the whole group on update or shutdown.
import { spawn } from "node:child_process";
import { stopGroup } from "../base/proc.ts";

export interface WorkloadExit {
  /** exit status, when it exited by itself */
  code: number | null;
  /** the signal that ended it, if one did */
  signal: NodeJS.Signals | null;
  /** true when otter stopped it (stop()), false when it died */
  stopped: boolean;
}

export interface Workload {
  /** pid of the /bin/sh leader, which is also the process group id */
  readonly pid: number;
  /** settles when the leader has exited */
  readonly exited: Promise<WorkloadExit>;
  /** TERM the group, KILL it after graceMs; resolves once the leader is gone. Idempotent. */
  stop(graceMs?: number): Promise<WorkloadExit>;
}

export interface WorkloadOptions {
  /** default grace between TERM and KILL for stop() */
  graceMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Start `command` with /bin/sh -c in a new process group (session). `onDeath` is called
 * once if it ends without stop() being asked, with its exit code or signal.
 */
export function startWorkload(command: string, onDeath: (exit: WorkloadExit) => void, opts: WorkloadOptions = {}): Workload {
  const child = spawn("/bin/sh", ["-c", command], { detached: true, stdio: ["ignore", "inherit", "inherit"], env: opts.env ?? process.env, cwd: opts.cwd });
  if (child.pid === undefined) throw new Error(`workload: /bin/sh could not be started for "${command}"`);
  const pid = child.pid;
  let stopping = false;
  const exited = new Promise<WorkloadExit>((resolve) => {
    child.once("exit", (code, signal) => {
      const exit = { code, signal, stopped: stopping };
      if (!stopping) onDeath(exit);
      resolve(exit);
    });
  });
  let stopped: Promise<WorkloadExit> | undefined;
  const stop = (graceMs = opts.graceMs ?? 10_000) =>
    (stopped ??= (async () => {
      stopping = true;
      await stopGroup(pid, graceMs);
      return exited;
    })());
  return { pid, exited, stop };
}
