// Files and folders otter creates as root, opened so that they can never be someone else's:
// a new file is created exclusively and never through a link (O_CREAT|O_EXCL|O_NOFOLLOW), a
// file reopened is refused unless it is a plain file of ours, and a folder otter writes into
// must be its own all the way up, or a local user could swap in a link or a planted file.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, realpathSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";
import { UnsafePath } from "./errors.ts";

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY } = constants;

/** The uid otter runs as: its own files and root's are trusted, nobody else's. */
const me = (): number => process.geteuid?.() ?? 0;

function trusted(st: Stats): boolean {
  return st.uid === 0 || st.uid === me();
}

const owner = (): string => (me() === 0 ? "root" : `uid ${me()}`);

/** Create `path` for writing; fails (EEXIST) if anything, a link included, is at that name. */
export function createExclusive(path: string, mode: number, flags = O_WRONLY): number {
  return openSync(path, flags | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
}

/**
 * Open an existing file of otter's (`flags` e.g. O_RDWR), never through a link: undefined if
 * nothing is there; UnsafePath if it is a link, not a regular file, another user's, or has
 * other names (a hard link to a file elsewhere).
 */
export function openOwn(path: string, flags: number): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, flags | O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new UnsafePath(`${path} is a symlink, not otter's file; refused`, { cause: err });
    throw err;
  }
  const st = fstatSync(fd);
  const why = !st.isFile() ? "not a regular file" : !trusted(st) ? `owned by uid ${st.uid}` : st.nlink !== 1 ? `a file with ${st.nlink} names (hard links)` : undefined;
  if (why) {
    closeSync(fd);
    throw new UnsafePath(`${path} is ${why}, not otter's file; refused`);
  }
  return fd;
}

/** Every folder from the root down to `path`, `path` included. */
function ancestry(path: string): string[] {
  const out: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    out.unshift(p);
    if (dirname(p) === p) return out;
  }
}

/**
 * Make sure otter may trust folder `path` (creating it 0700 if missing): it and every folder
 * above it, as written and as resolved, belong to root or otter; the folder itself is not
 * writable by group or others, and no folder above it is, unless sticky (as /tmp is).
 * `key` names the setting in the one-line error.
 */
export function ownDir(path: string, key: string): void {
  const abs = resolve(path);
  const fix = `give it to ${owner()} (chown ${me()} DIR; chmod go-w DIR) or set ${key} to a folder otter creates`;
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  const real = realpathSync(abs);
  for (const p of new Set([...ancestry(abs), ...ancestry(real)])) {
    const st = lstatSync(p);
    const leaf = p === real;
    let why: string | undefined;
    if (!trusted(st)) why = `is owned by uid ${st.uid}`;
    else if (leaf && !st.isDirectory()) why = "is not a folder";
    else if (st.isDirectory() && st.mode & 0o022 && (leaf || !(st.mode & 0o1000))) why = `is writable by ${st.mode & 0o002 ? "others" : "its group"} (mode ${(st.mode & 0o7777).toString(8)})`;
    if (why) throw new UnsafePath(`${key} ${abs}: ${p} ${why}, so another user could plant what otter installs as root; ${fix.replaceAll("DIR", p)}`);
  }
}

/** Create `path` as a new, empty folder of otter's (mode 0700); fails if anything is there. */
export function freshDir(path: string): void {
  mkdirSync(path, { mode: 0o700 });
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== me()) throw new UnsafePath(`${path} was replaced while otter created it; refused`);
}
