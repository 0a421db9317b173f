// The part file's writer. The stream hashes each chunk on the main thread and hands it
// here. A chunk that is the stream's own (Bun's fetch, a local read) is queued and written
// on the runtime's thread pool (fs.writev), so writing overlaps hashing the next chunks
// while Bun's fetch reads the socket on its own thread: three costs on three threads. One
// write is in flight at a time, so the file is always a contiguous prefix and `written` is
// its end: a checkpoint names `written`, never the bytes still queued. The queue is
// bounded, so memory stays flat and a SIGKILL loses little. Any other chunk (undici's) is
// written at once: see HttpResponse.chunksOwned for why undici's body is never left waiting.
// (A Worker that hashed and wrote was measured too: as fast, but its own JS VM adds
// 9-13 MiB of RSS, which the 64 MiB aim has no room for.)
import { writeSync, writev } from "node:fs";

/** Bytes queued past which the stream waits for the disk (and the most a SIGKILL loses). */
export const QUEUE_BYTES = 2 ** 20;
/** The most one write takes: measured with dd on ext4, 256-512 KiB writes cost the kernel
 * least (0.22 s/GiB; 64 KiB 0.27; 2 MiB, a large-folio size, 1.05). */
const WRITE_BYTES = 512 * 1024;

export class PartWriter {
  /** bytes in the file: everything before this offset is written */
  written: number;
  /** bytes queued, not yet written */
  queued = 0;
  /** the error a write failed with; nothing more is written after it */
  failure?: unknown;
  /** owned chunks waiting for the disk, in file order */
  private queue: Uint8Array[] = [];
  private busy = false;
  /** each returns true once it has resolved its promise */
  private waiters: (() => boolean)[] = [];

  constructor(private readonly fd: number, at: number) {
    this.written = at;
  }

  /** Write `chunk` at the end (written + queued); a failure is kept in `failure`. `owned`:
   * nothing else holds the chunk's memory, so it is queued, written beside the stream and
   * then freed, rather than left (~32 MiB of spent chunks) for the garbage collector. */
  push(chunk: Uint8Array, owned: boolean): void {
    if (this.failure) return;
    if (owned || this.queued > 0) {
      this.queue.push(owned ? chunk : chunk.slice()); // behind queued chunks, only a copy keeps the order
      this.queued += chunk.length;
      this.pump();
      return;
    }
    try {
      for (let at = 0; at < chunk.length; ) at += writeSync(this.fd, chunk, at, chunk.length - at, this.written + at);
      this.written += chunk.length;
    } catch (err) {
      this.failure = err;
    }
  }

  /** Whether the stream should wait (room()) before its next chunk. */
  get full(): boolean {
    return this.queued > QUEUE_BYTES;
  }

  /** Resolves once the queue is down to half its bound, or a write failed. */
  room(): Promise<void> {
    return this.until(() => this.queued <= QUEUE_BYTES / 2);
  }

  /** Resolves once everything queued is written, or a write failed; never rejects. */
  idle(): Promise<void> {
    return this.until(() => this.queued === 0 && !this.busy);
  }

  /** Start again at `at` (a restart truncates the file); only when idle. */
  reset(at: number): void {
    if (this.queued > 0 || this.busy) throw new Error("part writer reset while writing");
    this.written = at;
    this.failure = undefined;
  }

  // Resolve when `ready()` holds or a write failed; checked after each write.
  private until(ready: () => boolean): Promise<void> {
    if (ready() || this.failure) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(() => {
        if (!ready() && !this.failure) return false;
        resolve();
        return true;
      });
    });
  }

  private wake(): void {
    if (this.waiters.length) this.waiters = this.waiters.filter((settle) => !settle());
  }

  // Write the head of the queue (up to WRITE_BYTES) at `written`.
  private pump(): void {
    if (this.busy || this.failure || this.queue.length === 0) return;
    const batch: Uint8Array[] = [];
    let n = 0;
    for (const chunk of this.queue) {
      if (batch.length > 0 && n + chunk.length > WRITE_BYTES) break;
      batch.push(chunk);
      n += chunk.length;
    }
    this.busy = true;
    writev(this.fd, batch, this.written, (err, bytes) => {
      this.busy = false;
      if (err) this.failure = err;
      else this.done(bytes);
      this.pump();
      this.wake();
    });
  }

  // `bytes` of the queue's head are on disk: drop (and free) what is done; a short write
  // leaves the rest of its chunk at the head for the next write.
  private done(bytes: number): void {
    this.written += bytes;
    this.queued -= bytes;
    while (bytes > 0) {
      const head = this.queue[0]!;
      if (bytes < head.length) {
        this.queue[0] = head.subarray(bytes);
        return;
      }
      bytes -= head.length;
      this.queue.shift();
      free(head);
    }
  }
}

// Detach a buffer we alone hold so its memory goes back at once (ArrayBuffer.prototype.transfer
// to length 0; runtimes without it leave it to the garbage collector).
function free(chunk: Uint8Array): void {
  const buffer = chunk.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  if (chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) buffer.transfer?.(0);
}
