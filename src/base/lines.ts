// Turns a child's output stream into clean lines and keeps only the last few of them, so a
// hook that prints gigabytes costs otter a few kilobytes.

/** Longest line kept; a longer run without a newline is cut into lines of this size. */
export const MAX_LINE = 4096;

/** ANSI escape sequences: CSI (colours, cursor moves), OSC (titles, links), two-byte ESC; cut-off ones too. */
export const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?/g;
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;

/** Remove ANSI escape sequences and control characters (AWS rejects them in statusDetails). */
export function stripControl(text: string): string {
  return text.replace(ESCAPES, "").replace(/\t/g, " ").replace(CONTROLS, "");
}

/** Splits chunks at \n, \r\n or \r (progress bars), strips control characters, keeps the last non-empty lines. */
export class LineTail {
  /** the last `keep` non-empty lines, oldest first, trailing spaces removed */
  readonly last: string[] = [];
  /** the last non-empty line, trimmed */
  lastNonEmpty = "";
  private partial = "";
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly keep: number,
    private readonly onLine?: (line: string) => void,
  ) {}

  push(chunk: Uint8Array): void {
    const parts = (this.partial + this.decoder.decode(chunk, { stream: true })).split(/\r\n|\r|\n/);
    this.partial = parts.pop()!;
    for (const part of parts) this.line(part);
    while (this.partial.length > MAX_LINE) {
      this.line(this.partial.slice(0, MAX_LINE));
      this.partial = this.partial.slice(MAX_LINE);
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    const rest = this.partial + this.decoder.decode();
    this.partial = "";
    if (rest) this.line(rest);
  }

  private line(raw: string): void {
    const line = stripControl(raw).trimEnd();
    if (!line.trim()) return;
    this.lastNonEmpty = line.trim();
    this.last.push(line);
    if (this.last.length > this.keep) this.last.shift();
    this.onLine?.(line);
  }
}
