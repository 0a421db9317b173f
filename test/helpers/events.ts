// A SourceEvents that records what a source said, and lets a test wait for it.
import type { SourceEvents } from "../../src/sources/source.ts";

export class RecordedEvents implements SourceEvents {
  wakes = 0;
  readonly cancels: string[] = [];
  private readonly waiters = new Set<() => void>();

  wake(): void {
    this.wakes++;
    this.changed();
  }

  cancelled(jobId: string): void {
    this.cancels.push(jobId);
    this.changed();
  }

  /** Resolves once `ready()` holds; re-checked on every event. */
  until(ready: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!ready()) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  private changed(): void {
    for (const w of [...this.waiters]) w();
  }
}
