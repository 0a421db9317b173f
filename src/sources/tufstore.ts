// Where a TUF repository's trusted metadata lives on the device: STATE_DIR/tuf/<repo>/, one
// folder per repository (its metadata URL and the pinned root) holding each role's file by
// its plain name (root.json, timestamp.json, ...), so it survives reboots and
// its versions stay the floor that rollback protection needs. tuf-js's Updater reads and
// writes its metadata folder with plain readFileSync/writeFileSync; otter routes both through
// this store instead, so every write is base/atomic.ts's (temp, fsync, rename, fsync of the
// folder): a power cut leaves the old or the new root.json, never a torn one that would
// lock the device out of its channel. A dry run (otter plan) keeps what it learns in memory.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";

export interface MetadataStore {
  /** the folder of this repository's state */
  readonly dir: string;
  /** a role's metadata as last trusted (root: the pinned root until one is cached); throws when there is none */
  read(role: string): Buffer;
  write(role: string, bytes: Buffer): void;
}

/** STATE_DIR/tuf/<16 hex of sha256(metadata URL, pinned root)>: a new root or URL starts afresh. */
export function repoDir(stateDir: string, metadataUrl: string, pinnedRoot: Buffer): string {
  const id = createHash("sha256").update(metadataUrl).update("\0").update(pinnedRoot).digest("hex").slice(0, 16);
  return join(stateDir, "tuf", id);
}

// tuf-js names a role's file by encodeURIComponent(role): no "/" can reach the path.
const fileOf = (dir: string, role: string) => join(dir, `${encodeURIComponent(role)}.json`);

/**
 * The store in `dir`; `pinned`: the root to start from while `dir` has none; `dryRun`: read
 * the folder, write nothing to disk.
 */
export function openStore(dir: string, pinned: Buffer | undefined, dryRun: boolean): MetadataStore {
  const fresh = new Map<string, Buffer>();
  if (!dryRun) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    dir,
    read(role) {
      const kept = fresh.get(role);
      if (kept) return kept;
      try {
        return readFileSync(fileOf(dir, role));
      } catch (err) {
        if (role === "root" && pinned && (err as NodeJS.ErrnoException).code === "ENOENT") return pinned;
        throw err;
      }
    },
    write(role, bytes) {
      if (dryRun) fresh.set(role, bytes);
      else writeFileAtomic(fileOf(dir, role), bytes);
    },
  };
}
