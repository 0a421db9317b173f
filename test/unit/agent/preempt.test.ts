// Which decision preempts a job still before install: only one that starts an offer of a
// higher-priority channel now.
import { expect, test } from "bun:test";
import { preempting } from "../../../src/agent/preempt.ts";
import type { Config } from "../../../src/config/config.ts";
import type { Decision } from "../../../src/policy/policy.ts";
import type { Offer } from "../../../src/sources/source.ts";

const policy = { priority: ["release", "weekly", "nightly"] } as unknown as Config["policy"];
const offer = (id: string, channel?: string): Offer => ({ id, source: channel ? "manifest" : "aws", channel, version: "1", url: "x", meta: "", force: false });
const none = { reasons: [], rejected: [] };
const update = (o: Offer): Decision => ({ kind: "update", offer: o, ...none });
const nightly = offer("nightly:1", "nightly");
const release = offer("release:1", "release");

test.each<[string, Offer, Decision, Offer | undefined]>([
  ["a higher channel's offer to start now preempts", nightly, update(release), release],
  ["the job's own offer does not", nightly, update(nightly), undefined],
  ["a lower channel's offer does not", release, update(nightly), undefined],
  ["the same channel's newer offer does not", nightly, update(offer("nightly:2", "nightly")), undefined],
  ["a wait that may download now (window) preempts", nightly, { kind: "wait", offer: release, until: 0, waitingFor: "window", downloadAllowed: true, ...none }, release],
  ["a wait for min_soak does not", nightly, { kind: "wait", offer: release, until: 0, waitingFor: "min_soak", downloadAllowed: false, ...none }, undefined],
  ["nothing to do does not", nightly, { kind: "nothing", ...none }, undefined],
  ["an operator's job (no channel) is never preempted", offer("upparat_1"), update(release), undefined],
])("%s", (_name, job, decision, expected) => {
  expect(preempting(policy, job, decision)).toBe(expected);
});
