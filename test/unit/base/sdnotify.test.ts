// sd_notify's pure part: NOTIFY_SOCKET parsing, the watchdog's period and owner, messages, sockaddr_un.
import { describe, expect, test } from "bun:test";
import { notifyAddress, notifyMessage, oneLine, sockaddrUn, watchdogPingMs } from "../../../src/base/sdnotify.ts";

describe("notifyAddress", () => {
  test.each([
    [undefined, undefined],
    ["", undefined],
    ["/run/systemd/notify", { abstract: false, name: "/run/systemd/notify" }],
    ["@/org/freedesktop/systemd1/notify/123", { abstract: true, name: "/org/freedesktop/systemd1/notify/123" }],
  ])("%p", (value, want) => {
    expect(notifyAddress(value)).toEqual(want);
  });

  test("vsock:, relative and overlong addresses are refused with a line naming the variable", () => {
    expect(notifyAddress("vsock:2:1234")).toBe("NOTIFY_SOCKET=vsock:2:1234: only an absolute path or an @abstract name is supported");
    expect(notifyAddress("run/notify")).toMatch(/^NOTIFY_SOCKET=run\/notify: only an absolute path/);
    expect(notifyAddress(`/${"x".repeat(107)}`)).toMatch(/longer than 107 bytes$/);
    expect(notifyAddress(`/${"x".repeat(106)}`)).toEqual({ abstract: false, name: `/${"x".repeat(106)}` });
  });
});

describe("watchdogPingMs", () => {
  test("half of WATCHDOG_USEC, in ms", () => {
    expect(watchdogPingMs("30000000", undefined, 42)).toBe(15_000);
    expect(watchdogPingMs("1000000", "42", 42)).toBe(500);
  });

  test("no watchdog: unset, zero, not a number, or watching another pid", () => {
    expect(watchdogPingMs(undefined, undefined, 42)).toBeUndefined();
    expect(watchdogPingMs("0", undefined, 42)).toBeUndefined();
    expect(watchdogPingMs("30s", undefined, 42)).toBeUndefined();
    expect(watchdogPingMs("1000000", "1", 42)).toBeUndefined();
  });
});

test("a message is one assignment a line, each value on one line", () => {
  expect(notifyMessage({ READY: "1", STATUS: "downloading\nWATCHDOG=1\tnow" })).toBe("READY=1\nSTATUS=downloading WATCHDOG=1 now");
  expect(oneLine("  a\r\n\x1b[31mb  ")).toBe("a [31mb");
});

describe("sockaddrUn", () => {
  test("a path: family, the path, its NUL", () => {
    expect([...sockaddrUn({ abstract: false, name: "/a" }, true)]).toEqual([1, 0, 0x2f, 0x61, 0]);
  });

  test("an abstract name: family, a NUL, the name, no NUL after it", () => {
    expect([...sockaddrUn({ abstract: true, name: "ab" }, true)]).toEqual([1, 0, 0, 0x61, 0x62]);
    expect([...sockaddrUn({ abstract: true, name: "ab" }, false)].slice(0, 2)).toEqual([0, 1]);
  });
});
