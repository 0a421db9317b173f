// Finished jobs, newest last, capped, for `otter status`: history.json in state_dir.
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import { array, longText, object, optional, shortText, type Check } from "../base/shape.ts";
import { loadOwned, loadShared } from "../base/statefile.ts";
import type { HistoryEntry } from "./journal.ts";

const file = (dir: string) => join(dir, "history.json");

const history: Check<HistoryEntry[]> = array(object({
  id: shortText, version: shortText, channel: optional(shortText), status: shortText, state: shortText, message: longText, code: optional(shortText), startedAt: shortText, endedAt: shortText,
}));

/** The history; a missing file is empty, so is one of the wrong shape (with a warning; the next finished job moves it aside). */
export function readHistory(dir: string): HistoryEntry[] {
  return loadShared("history", file(dir), history, []);
}

/** Append an entry, keeping the newest `keep`; an entry with the same id replaces the old one. */
export function appendHistory(dir: string, entry: HistoryEntry, keep: number): void {
  const list = loadOwned("history", file(dir), history, []).filter((e) => e.id !== entry.id);
  list.push(entry);
  writeFileAtomic(file(dir), JSON.stringify(list.slice(-keep), null, 1));
}
