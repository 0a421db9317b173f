// Wakes the daemon when another otter process changes one of its state files (`otter
// approve/deny` rewrites approvals.json, `otter install` queues a file). inotify first;
// where no watch can be had, the files' stat every second. The watch fails more often than
// it seems: the limit of inotify instances (fs.inotify.max_user_instances, 128 by default)
// is per user, shared by every process of that user (root's services, say), and without a
// poll an approval would wait out check_interval.
import { statSync, watch as fsWatch } from "node:fs";
import { join } from "node:path";
import { describe } from "../base/errors.ts";
import { log } from "../base/log.ts";

export const POLL_MS = 1000;

/** Call `onChange` when a file named in `names` changes in `dir`; returns the way to stop. */
export function watchStateFiles(dir: string, names: string[], onChange: () => void, watch: typeof fsWatch = fsWatch): () => void {
  try {
    const watcher = watch(dir, (_event, name) => {
      // an atomic write's temp file carries the name too
      if (name && names.some((f) => String(name).includes(f))) onChange();
    });
    return () => watcher.close();
  } catch (err) {
    log.info(`cannot watch ${dir} (${describe(err)}): looking at ${names.join(" and ")} every ${POLL_MS / 1000} s instead`);
    return poll(dir, names, onChange);
  }
}

// What a file's stat says changed: a rename in (new inode), a rewrite, its removal.
// (A file that cannot be looked at, EACCES or ENOTDIR, reads as absent: a poll never throws.)
function signature(path: string): string {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : "";
  } catch {
    return "";
  }
}

function poll(dir: string, names: string[], onChange: () => void): () => void {
  const paths = names.map((n) => join(dir, n));
  let last = paths.map(signature).join("|");
  const timer = setInterval(() => {
    const now = paths.map(signature).join("|");
    if (now === last) return;
    last = now;
    onChange();
  }, POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
