// The downloader's pure pieces: backoff, Retry-After, Content-Range, headers, progress text.
import { describe, expect, test } from "bun:test";
import { backoffSeconds, parseContentRange, retryAfterSeconds, retryDelaySeconds } from "../../../src/base/backoff.ts";
import { credentialOrigins, splitUserinfo } from "../../../src/transfer/credentials.ts";
import { describeNetworkError, parseHeaders } from "../../../src/transfer/http.ts";
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
  });

  test("the retry rule: Retry-After wins, 1-2 s after progress, full-jitter backoff without", () => {
    const rule = { base: 60, cap: 600 };
    expect(retryDelaySeconds({ ...rule, progressed: false, failures: 1, retryAfter: 5000 })).toBe(600);
    expect(retryDelaySeconds({ ...rule, progressed: true, failures: 0, retryAfter: 7 })).toBe(7);
    expect(retryDelaySeconds({ ...rule, progressed: true, failures: 0, random: 0 })).toBe(1);
    expect(retryDelaySeconds({ ...rule, progressed: true, failures: 0, random: 0.999 })).toBeCloseTo(2, 2);
    expect(retryDelaySeconds({ ...rule, progressed: false, failures: 1, random: 0.5 })).toBe(30);
    expect(retryDelaySeconds({ ...rule, progressed: false, failures: 3, random: 0.5 })).toBe(120);
    expect(retryDelaySeconds({ ...rule, progressed: false, failures: 9, random: 1 })).toBe(600);
    expect(retryDelaySeconds({ base: 0.05, cap: 0.2, progressed: true, failures: 0, random: 0.5 })).toBe(0.2); // the cap bounds every wait
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

describe("network errors in otter's words", () => {
  const err = (code: string, message: string) => Object.assign(new TypeError(message), { code });
  test("both engines' codes read alike, with what the attempt got", () => {
    const bun = err("ECONNRESET", "ECONNRESET: The socket connection was closed unexpectedly. For more information, pass `verbose: true` in the second argument to fetch()");
    const undici = err("UND_ERR_SOCKET", "other side closed");
    for (const e of [bun, undici]) expect(describeNetworkError(e, "http://h:8/f", 2 ** 20)).toBe("connection reset by the server after 1.0 MiB");
    expect(describeNetworkError(err("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:9"), "http://127.0.0.1:9/f", 0)).toBe("connection refused by 127.0.0.1:9");
    expect(describeNetworkError(err("ENOTFOUND", "getaddrinfo ENOTFOUND x.invalid"), "https://x.invalid/f")).toBe("host not found: x.invalid");
  });

  test("an unknown error keeps its text, never a runtime's advice, capped", () => {
    const odd = err("ERR_ODD", `Weird: ${"x".repeat(500)}. For more information, pass \`verbose: true\` in the second argument to fetch()`);
    const text = describeNetworkError(odd, "http://h/f");
    expect(text).not.toContain("verbose");
    expect(text.length).toBeLessThan(200);
    expect(text).toContain("(ERR_ODD)");
  });
});

describe("credentials", () => {
  test("the origins they may go to: channels (a TUF channel's metadata and targets_url), report_url and credential_origins, each once; a file:// channel has none", () => {
    const config = {
      channels: { release: "https://u:p@updates.example.com/release.json", nightly: "https://updates.example.com:443/n.json", local: "file:///media/usb/r.json", signed: "tuf+https://repo.example.com/metadata" },
      service: { report_url: "http://reports.example.com:8080/r" },
      download: { credential_origins: ["https://files.example.com:8443/"] },
      tuf: { targets_url: "https://cdn.example.com/targets/" },
    } as unknown as Parameters<typeof credentialOrigins>[0];
    expect(credentialOrigins(config)).toEqual(["https://files.example.com:8443", "https://updates.example.com", "https://repo.example.com", "https://cdn.example.com", "http://reports.example.com:8080"]);
  });

  test("userinfo becomes Basic authorization and leaves the URL", () => {
    expect(splitUserinfo("https://dev:pa%40ss@h/f")).toEqual({ url: "https://h/f", basic: `Basic ${Buffer.from("dev:pa@ss").toString("base64")}` });
    expect(splitUserinfo("https://h/f?x=1")).toEqual({ url: "https://h/f?x=1" });
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
