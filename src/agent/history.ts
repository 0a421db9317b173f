// Finished jobs, newest last, capped, for `otter status`: history.json in state_dir.
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import { countsAsLocalFault } from "../base/errors.ts";
import { array, count, longText, object, optional, shortText, type Check } from "../base/shape.ts";
import { loadOwned, loadShared } from "../base/statefile.ts";
import type { HistoryEntry } from "./journal.ts";

const file = (dir: string) => join(dir, "history.json");

const history: Check<HistoryEntry[]> = array(object({
  id: shortText, version: shortText, channel: optional(shortText), status: shortText, state: shortText, message: longText, code: optional(shortText), localFaults: optional(count), startedAt: shortText, endedAt: shortText,
}));

/** The history; a missing file is empty, so is one of the wrong shape (with a warning; the next finished job moves it aside). */
export function readHistory(dir: string): HistoryEntry[] {
  return loadShared("history", file(dir), history, []);
}

/** An entry's local faults (an older otter's entry counts its own code only). */
export const faultsOf = (e: HistoryEntry | undefined) => (e ? (e.localFaults ?? (countsAsLocalFault(e.code) ? 1 : 0)) : 0);

/**
 * Append an entry, keeping the newest `keep`; an entry with the same id replaces the old one,
 * taking over its count of local faults (the policy bounds those per offer).
 */
export function appendHistory(dir: string, entry: HistoryEntry, keep: number): void {
  const all = loadOwned("history", file(dir), history, []);
  const faults = faultsOf(all.find((e) => e.id === entry.id)) + (countsAsLocalFault(entry.code) ? 1 : 0);
  const list = all.filter((e) => e.id !== entry.id);
  list.push(faults ? { ...entry, localFaults: faults } : entry);
  writeFileAtomic(file(dir), JSON.stringify(list.slice(-keep), null, 1));
}
