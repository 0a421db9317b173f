import { describe, expect, test } from "bun:test";
import { EVENTS, STATES, cancellable, next, resumeFrom, transitions, type Event, type State } from "../../../src/agent/pipeline.ts";

describe("pipeline table", () => {
  // Every row of the table, so a changed transition shows up here.
  const expected: [State, Event, State][] = [
    ["versionCheck", "ok", "downloadHook"], ["versionCheck", "skip", "report"], ["versionCheck", "failed", "report"], ["versionCheck", "cancelled", "report"],
    ["downloadHook", "ok", "download"], ["downloadHook", "failed", "report"], ["downloadHook", "cancelled", "report"],
    ["download", "ok", "verify"], ["download", "failed", "report"], ["download", "cancelled", "report"],
    ["verify", "ok", "install"], ["verify", "failed", "report"], ["verify", "cancelled", "report"], ["verify", "lost", "download"],
    ["install", "ok", "restart"], ["install", "failed", "rollback"], ["install", "refused", "report"], ["install", "lost", "download"],
    ["restart", "ok", "confirmVersion"], ["restart", "failed", "rollback"],
    ["confirmVersion", "ok", "ready"], ["confirmVersion", "failed", "rollback"], ["confirmVersion", "notRestarted", "restart"],
    ["ready", "ok", "report"], ["ready", "failed", "rollback"],
    ["rollback", "ok", "report"], ["rollback", "failed", "report"],
    ["report", "ok", "done"],
  ];
  test.each(expected)("%s --%s--> %s", (from, event, to) => {
    expect(next(from, event)).toBe(to);
  });

  test("the table has exactly these rows and every other pair throws", () => {
    const rows = new Set(expected.map(([s, e]) => `${s}/${e}`));
    for (const s of STATES) {
      for (const e of EVENTS) {
        if (rows.has(`${s}/${e}`)) continue;
        expect(() => next(s, e)).toThrow(`no transition from ${s} on ${e}`);
      }
    }
    const count = Object.values(transitions).reduce((n: number, row) => n + Object.keys(row).length, 0);
    expect(count).toBe(expected.length);
  });

  test("every state but done is reachable from versionCheck", () => {
    const seen = new Set<State>(["versionCheck"]);
    const queue: State[] = ["versionCheck"];
    while (queue.length) for (const to of Object.values(transitions[queue.shift()!]) as State[]) if (!seen.has(to)) (seen.add(to), queue.push(to));
    expect([...seen].sort()).toEqual([...STATES].sort());
  });

  test("an install can no longer be cancelled", () => {
    for (const s of ["install", "restart", "confirmVersion", "ready", "rollback"] as State[]) expect(() => next(s, "cancelled")).toThrow();
  });
});

describe("resumeFrom", () => {
  const rows: [State, State][] = [
    ["versionCheck", "versionCheck"], ["downloadHook", "downloadHook"], ["download", "download"],
    ["verify", "verify"], ["install", "install"], ["restart", "confirmVersion"],
    ["confirmVersion", "confirmVersion"], ["ready", "ready"], ["rollback", "rollback"],
    ["report", "report"], ["done", "done"],
  ];
  test.each(rows)("killed in %s resumes in %s", (killed, resumed) => {
    expect(resumeFrom(killed)).toBe(resumed);
  });
  test("covers every state", () => expect(rows.map(([s]) => s).sort()).toEqual([...STATES].sort()));
});

describe("cancellable", () => {
  test("only before install", () => {
    expect(STATES.filter(cancellable)).toEqual(["versionCheck", "downloadHook", "download", "verify"]);
  });
});
