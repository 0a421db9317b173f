// Finished jobs, newest last, capped, for `otter status`: history.json in state_dir.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import type { HistoryEntry } from "./journal.ts";

const file = (dir: string) => join(dir, "history.json");

export function readHistory(dir: string): HistoryEntry[] {
  try {
    const list = JSON.parse(readFileSync(file(dir), "utf8"));
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/** Append an entry, keeping the newest `keep`; an entry with the same id replaces the old one. */
export function appendHistory(dir: string, entry: HistoryEntry, keep: number): void {
  const list = readHistory(dir).filter((e) => e.id !== entry.id);
  list.push(entry);
  writeFileAtomic(file(dir), JSON.stringify(list.slice(-keep), null, 1));
}
