// The downloader's pure pieces: backoff, Retry-After, Content-Range, headers, progress text.
import { describe, expect, test } from "bun:test";
import { backoffSeconds, parseContentRange, retryAfterSeconds, retryDelaySeconds } from "../../../src/base/backoff.ts";
import { parseHeaders } from "../../../src/transfer/http.ts";
import { formatBytes, renderProgress } from "../../../src/transfer/progress.ts";

describe("backoff", () => {
  test("full jitter: random × min(cap, base·2ⁿ)", () => {
    expect(backoffSeconds(0, 60, 600, 1)).toBe(60);
    expect(backoffSeconds(3, 60, 600, 1)).toBe(480);
    expect(backoffSeconds(4, 60, 600, 1)).toBe(600);
    expect(backoffSeconds(100, 60, 600, 0.5)).toBe(300);
    expect(backoffSeconds(2, 60, 600, 0)).toBe(0);
  });

  test("Retry-After: seconds or an HTTP date, capped by retry_cap", () => {
    const now = Date.parse("2026-11-24T02:00:00Z");
    expect(retryAfterSeconds("120", now)).toBe(120);
    expect(retryAfterSeconds("Tue, 24 Nov 2026 02:00:30 GMT", now)).toBe(30);
    expect(retryAfterSeconds("Tue, 24 Nov 2026 01:00:00 GMT", now)).toBe(0);
    expect(retryAfterSeconds("soon", now)).toBeUndefined();
    expect(retryAfterSeconds(undefined, now)).toBeUndefined();
    expect(retryDelaySeconds(0, 60, 600, 5000)).toBe(600);
    expect(retryDelaySeconds(0, 60, 600, 7)).toBe(7);
    expect(retryDelaySeconds(1, 60, 600, undefined, 0.5)).toBe(60);
  });

  test("Content-Range", () => {
    expect(parseContentRange("bytes 100-199/1000")).toEqual({ start: 100, end: 199, total: 1000 });
    expect(parseContentRange("bytes 100-199/*")).toEqual({ start: 100, end: 199, total: undefined });
    expect(parseContentRange("bytes 200-100/1000")).toBeUndefined();
    expect(parseContentRange("items 1-2/3")).toBeUndefined();
    expect(parseContentRange(undefined)).toBeUndefined();
  });
});

describe("headers", () => {
  test("Name: value lines; a bad line names the key and shows an example", () => {
    expect(parseHeaders(["Authorization: Bearer a:b", "X-Y:z"])).toEqual({ authorization: "Bearer a:b", "x-y": "z" });
    expect(() => parseHeaders(["no colon here"])).toThrow(/\[download\] headers: expected "Name: value"/);
  });
});

describe("progress", () => {
  test("bar text", () => {
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(100)).toBe("100 B");
    const line = renderProgress({ bytes: 512 * 2 ** 20, total: 2 ** 30, bytesPerSecond: 2 ** 20 }, 100);
    expect(line).toContain(" 50% 512.0 MiB/1.0 GiB 1.0 MiB/s ETA 8:32");
    expect(line.startsWith("[####")).toBe(true);
    expect(renderProgress({ bytes: 10, bytesPerSecond: 0 })).toBe("10 B  0 B/s");
  });
});
