import { describe, expect, test } from "bun:test";
import { clip, escapeUnsafe, maskUrls, printable, shown, shownUrl } from "../../../src/base/printable.ts";

describe("maskUrls", () => {
  test.each([
    ["https://user:pass@updates.example.com:8443/release.json?token=abc&v=2#top", "https://***@updates.example.com:8443/release.json?token=***&v=***#***"],
    ["a password with @: https://u:p@ss@h/x done", "a password with @: https://***@h/x done"],
    ["GET https://h/f?X-Amz-Signature=deadbeef: HTTP 403", "GET https://h/f?X-Amz-Signature=***: HTTP 403"],
    ['"url": "http://t@127.0.0.1/x?secret"', '"url": "http://***@127.0.0.1/x?***"'],
    ["mqtt://dev:pw@broker:1883 and file:///tmp/x.img", "mqtt://***@broker:1883 and file:///tmp/x.img"],
    ["no url here: user:pass@host", "no url here: user:pass@host"],
    ["https://updates.example.com/release.json", "https://updates.example.com/release.json"],
    ["an OAuth-style fragment: https://h/cb#access_token=abc&x=1.", "an OAuth-style fragment: https://h/cb#***."],
    ["an empty query or fragment: https://h/x?#", "an empty query or fragment: https://h/x?#"],
  ])("%s", (text, masked) => {
    expect(maskUrls(text)).toBe(masked);
    expect(maskUrls(masked)).toBe(masked);
  });
});

// download and transport messages name the URL they were about
describe("shownUrl", () => {
  test.each([
    ["https://u:p@h:8/a/b?X-Amz-Signature=s", "https://***@h:8/a/b?X-Amz-Signature=***"],
    ["https://h/a b?token=secret", "https://h/a b?token=***"], // read whole: the space does not end it
    ["https://h/x?t=1#frag\nment", "https://h/x?t=***#***"],
    ["/media/usb/update?.img", "/media/usb/update?.img"], // a path is no URL
    ["not a url: ftp://u:p@h/x", "not a url: ftp://***@h/x"],
  ])("%j", (url, shown) => expect(shownUrl(url)).toBe(shown));

  test("at most 160 characters, the query masked before the cut", () => {
    expect(shownUrl(`https://h/${"a".repeat(5000)}`)).toBe(`https://h/${"a".repeat(149)}…`);
    expect(shownUrl(`https://h/${"p".repeat(100)}?token=${"S".repeat(100)}`)).toBe(`https://h/${"p".repeat(100)}?token=***`);
  });
});

describe("escapeUnsafe", () => {
  test.each([
    ["v1.0\u202e0.1v", "v1.0\\u202e0.1v"],
    ["\x1b[31mred", "\\u001b[31mred"],
    ["c1 \x9b and nul \0", "c1 \\u009b and nul \\u0000"],
    ["zero\u200bwidth, line\u2028sep", "zero\\u200bwidth, line\\u2028sep"],
    ["tag \u{e0041}", "tag \\udb40\\udc41"],
    ["naïve ünïcode ✓ 🦦", "naïve ünïcode ✓ 🦦"],
  ])("%j", (text, escaped) => expect(escapeUnsafe(text)).toBe(escaped));

  test("JSON text stays the same JSON", () => {
    const value = { v: "a\u202eb\x85\u{e0041}", n: 1 };
    expect(JSON.parse(escapeUnsafe(JSON.stringify(value)))).toEqual(value);
  });
});

test("printable masks and escapes; shown is short JSON or nothing", () => {
  expect(printable("https://u:p@h/x?t=1 \u202e")).toBe("https://***@h/x?t=*** \\u202e");
  expect(shown(undefined)).toBe("nothing");
  expect(shown("x".repeat(100), 10)).toBe('"xxxxxxxxx…');
  expect(shown({ a: "\u202e" })).toBe('{"a":"\\u202e"}');
});

test("clip: at most max characters with the marker, never half a surrogate pair", () => {
  expect(clip("abcdef", 6)).toBe("abcdef");
  expect(clip("abcdefg", 6)).toBe("abcde…");
  expect(clip("abcdefg", 6, "…[cut]")).toBe("…[cut]");
  expect(clip("abcdefgh", 7, "[c]")).toBe("abcd[c]");
  expect(clip("ab🦦cd", 4)).toBe("ab…"); // the otter's two halves stay together or go together
});
