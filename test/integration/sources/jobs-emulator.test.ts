// The local jobs emulator answers the way AWS IoT Jobs documents it (a raw MQTT client talks to it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import mqtt, { type MqttClient } from "mqtt";
import { jobsService } from "../../helpers/jobsservice.ts";
import { Mosquitto, freePort } from "../../helpers/mosquitto.ts";

let client: MqttClient;
let things = 0;
const inbox: { topic: string; body: Record<string, unknown> }[] = [];
const waiters = new Set<() => void>();

afterAll(async () => {
  await client.endAsync();
});
const svc = jobsService({ minuteMs: 100 });

beforeAll(async () => {
  client = await mqtt.connectAsync(svc.broker.url);
  client.on("message", (topic, payload) => {
    if (/\/(get|update|start-next)$/.test(topic)) return; // our own requests
    inbox.push({ topic, body: JSON.parse(payload.toString()) });
    for (const w of [...waiters]) w();
  });
});


/** A fresh thing whose jobs topics this test listens to. */
async function thing(): Promise<string> {
  const name = `emu${++things}`;
  await client.subscribeAsync(`$aws/things/${name}/jobs/#`, { qos: 1 });
  return name;
}

function message(match: (m: (typeof inbox)[number]) => boolean): Promise<(typeof inbox)[number]> {
  return new Promise((resolve) => {
    const check = () => {
      const m = inbox.find(match);
      if (m) {
        waiters.delete(check);
        resolve(m);
      }
    };
    waiters.add(check);
    check();
  });
}

let tokens = 0;
/** Publish a request and wait for its accepted/rejected answer (matched by clientToken). */
async function ask(name: string, op: string, body: Record<string, unknown> = {}) {
  const clientToken = `t${++tokens}`;
  const topic = `$aws/things/${name}/jobs/${op}`;
  await client.publishAsync(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 });
  const m = await message((x) => x.body.clientToken === clientToken && x.topic.startsWith(topic + "/"));
  return { answer: m.topic.slice(topic.length + 1), body: m.body };
}

const DOC = { action: "upparat-update", version: "1", file: "${aws:iot:s3-presigned-url:http://127.0.0.1/f.bin?a=1}" };

describe("jobs emulator", () => {
  test("get lists pending executions; an empty payload is a valid request", async () => {
    const t = await thing();
    svc.emu.createJob({ jobId: "j_get", document: DOC, things: [t] });
    await client.publishAsync(`$aws/things/${t}/jobs/get`, "", { qos: 1 });
    const m = await message((x) => x.topic === `$aws/things/${t}/jobs/get/accepted`);
    expect(m.body.inProgressJobs).toEqual([]);
    expect((m.body.queuedJobs as { jobId: string }[]).map((j) => j.jobId)).toEqual(["j_get"]);
    expect(m.body.queuedJobs).toEqual([expect.objectContaining({ versionNumber: 1, executionNumber: 1, queuedAt: expect.any(Number) })]);
  });

  test("describe signs the presigned-URL placeholder afresh each time and echoes the clientToken", async () => {
    const t = await thing();
    svc.emu.createJob({ jobId: "j_sign", document: DOC, things: [t] });
    const a = await ask(t, "j_sign/get");
    const b = await ask(t, "$next/get");
    expect(a.answer).toBe("accepted");
    const url = (r: typeof a) => ((r.body.execution as { jobDocument: { file: string } }).jobDocument.file);
    expect(url(a)).toMatch(/^http:\/\/127\.0\.0\.1\/f\.bin\?a=1&sig=\d+$/);
    expect(url(b)).not.toBe(url(a));
    expect((b.body.execution as { jobId: string }).jobId).toBe("j_sign");
    const none = await ask(t, "j_sign/get", { includeJobDocument: false });
    expect((none.body.execution as object)).not.toHaveProperty("jobDocument");
  });

  test("start-next moves the next QUEUED execution to IN_PROGRESS", async () => {
    const t = await thing();
    expect((await ask(t, "start-next")).body).not.toHaveProperty("execution");
    svc.emu.createJob({ jobId: "j_next", document: DOC, things: [t] });
    const r = await ask(t, "start-next", { statusDetails: { state: "picked" }, stepTimeoutInMinutes: 600 });
    expect(r.body.execution).toMatchObject({ jobId: "j_next", status: "IN_PROGRESS", versionNumber: 2, statusDetails: { state: "picked" }, startedAt: expect.any(Number) });
    const left = (r.body.execution as { approximateSecondsBeforeTimedOut: number }).approximateSecondsBeforeTimedOut;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(60); // 600 emulated minutes of 100 ms
  });

  test("update: rules for status, statusDetails, versions and terminal states", async () => {
    const t = await thing();
    svc.emu.createJob({ jobId: "j_upd", document: DOC, things: [t] });
    const rows: [Record<string, unknown>, string, string?][] = [
      [{ status: "QUEUED" }, "rejected", "InvalidRequest"],
      [{ status: "IN_PROGRESS", statusDetails: { "bad key": "x" } }, "rejected", "InvalidRequest"],
      [{ status: "IN_PROGRESS", statusDetails: { a: "" } }, "rejected", "InvalidRequest"],
      [{ status: "IN_PROGRESS", statusDetails: { a: "x\ny" } }, "rejected", "InvalidRequest"],
      [{ status: "IN_PROGRESS", statusDetails: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"])) }, "rejected", "InvalidRequest"],
      [{ status: "IN_PROGRESS", stepTimeoutInMinutes: 0 }, "rejected", "InvalidRequest"],
      [{ status: "IN_PROGRESS", expectedVersion: 7 }, "rejected", "VersionMismatch"],
      [{ status: "IN_PROGRESS", expectedVersion: 1, statusDetails: { state: "a" } }, "accepted"],
      [{ status: "IN_PROGRESS" }, "accepted"],
      [{ status: "SUCCEEDED", includeJobExecutionState: true, includeJobDocument: true }, "accepted"],
      [{ status: "IN_PROGRESS" }, "rejected", "InvalidStateTransition"],
      [{ status: "FAILED" }, "rejected", "InvalidStateTransition"],
    ];
    for (const [body, answer, code] of rows) {
      const r = await ask(t, "j_upd/update", body);
      expect([JSON.stringify(body), r.answer, r.body.code]).toEqual([JSON.stringify(body), answer, code]);
    }
    const last = await ask(t, "j_upd/update", { status: "SUCCEEDED" });
    expect(last.body.executionState).toMatchObject({ status: "SUCCEEDED", versionNumber: 4, statusDetails: { state: "a" } });
    expect((await ask(t, "j_upd/get")).body.code).toBe("TerminalStateReached");
    expect((await ask(t, "nope/update", { status: "IN_PROGRESS" })).body.code).toBe("ResourceNotFound");
    const mismatch = inbox.find((m) => m.body.code === "VersionMismatch" && m.topic.includes(t))!;
    expect(mismatch.body.executionState).toMatchObject({ status: "QUEUED", versionNumber: 1 });
  });

  test("bad JSON and unknown topics are rejected", async () => {
    const t = await thing();
    await client.publishAsync(`$aws/things/${t}/jobs/get`, "{nope", { qos: 1 });
    expect((await message((x) => x.topic === `$aws/things/${t}/jobs/get/rejected`)).body.code).toBe("InvalidJson");
    expect((await ask(t, "a/b/c")).body.code).toBe("InvalidTopic");
  });

  test("notify and notify-next follow the pending list; a thing group gets one execution per member", async () => {
    const [a, b] = [await thing(), await thing()];
    svc.emu.defineGroup("fleet", [a, b]);
    svc.emu.createJob({ jobId: "j_group", document: DOC, groups: ["fleet"] });
    for (const t of [a, b]) {
      const n = await message((x) => x.topic === `$aws/things/${t}/jobs/notify`);
      expect((n.body.jobs as { QUEUED: { jobId: string }[] }).QUEUED.map((j) => j.jobId)).toEqual(["j_group"]);
      const next = await message((x) => x.topic === `$aws/things/${t}/jobs/notify-next`);
      expect(next.body.execution).toMatchObject({ jobId: "j_group", status: "QUEUED", jobDocument: { action: "upparat-update" } });
    }
    expect(svc.emu.listExecutions("j_group").map((e) => e.thingName).sort()).toEqual([a, b].sort());
    svc.emu.cancelJob("j_group");
    const gone = await message((x) => x.topic === `$aws/things/${a}/jobs/notify-next` && !x.body.execution);
    expect(gone.body.timestamp).toEqual(expect.any(Number));
    expect(svc.emu.listExecutions("j_group").map((e) => e.status)).toEqual(["CANCELED", "CANCELED"]);
    expect(svc.emu.messages(a)).toEqual({ received: 0, sent: 4 });
  });

  test("a normal cancel leaves IN_PROGRESS executions; force cancels them", async () => {
    const t = await thing();
    svc.emu.createJob({ jobId: "j_force", document: DOC, things: [t] });
    await ask(t, "j_force/update", { status: "IN_PROGRESS" });
    svc.emu.cancelJob("j_force");
    expect(svc.emu.execution("j_force", t)!.status).toBe("IN_PROGRESS");
    svc.emu.cancelJob("j_force", { force: true });
    expect(svc.emu.execution("j_force", t)!.status).toBe("CANCELED");
    expect((await ask(t, "j_force/update", { status: "SUCCEEDED" })).body.code).toBe("InvalidStateTransition");
  });

  test("a job's in-progress timeout ends the execution TIMED_OUT; stepTimeoutInMinutes -1 clears a step timer", async () => {
    const t = await thing();
    svc.emu.createJob({ jobId: "j_job_timeout", document: DOC, things: [t], inProgressTimeoutMinutes: 1 });
    await ask(t, "j_job_timeout/update", { status: "IN_PROGRESS", stepTimeoutInMinutes: 1 });
    await ask(t, "j_job_timeout/update", { status: "IN_PROGRESS", stepTimeoutInMinutes: -1 });
    await svc.emu.until(() => svc.emu.execution("j_job_timeout", t)!.status === "TIMED_OUT");
    const n = await message((x) => x.topic === `$aws/things/${t}/jobs/notify` && JSON.stringify(x.body.jobs) === "{}");
    expect(n.body.jobs).toEqual({});
  });

  test("a rollout of maximumPerMinute reaches the group in waves, one a minute; things not reached have no execution yet", async () => {
    const group = [await thing(), await thing(), await thing(), await thing(), await thing()];
    svc.emu.defineGroup("waves", group);
    svc.emu.createJob({ jobId: "j_waves", document: DOC, groups: ["waves"], jobExecutionsRolloutConfig: { maximumPerMinute: 2 } });
    const reached = () => svc.emu.listExecutions("j_waves").map((e) => e.thingName);
    expect(reached()).toEqual(group.slice(0, 2));
    expect(inbox.some((m) => m.topic === `$aws/things/${group[4]}/jobs/notify`)).toBe(false);
    // A wave is queued in one go: whoever sees the third execution sees the fourth too.
    await svc.emu.until(() => reached().length > 2);
    expect(reached()).toEqual(group.slice(0, 4));
    await svc.emu.until(() => reached().length > 4);
    expect(reached()).toEqual(group);
    const n = await message((x) => x.topic === `$aws/things/${group[4]}/jobs/notify`);
    expect((n.body.jobs as { QUEUED: { jobId: string }[] }).QUEUED.map((j) => j.jobId)).toEqual(["j_waves"]);
    expect(() => svc.emu.createJob({ jobId: "j_waves_bad", document: DOC, things: [group[0]!], jobExecutionsRolloutConfig: { maximumPerMinute: 0 } })).toThrow("maximumPerMinute");
  });

  test("UpdateJobExecution beyond the rate limit is answered RequestThrottled and changes nothing; get is not limited", async () => {
    const t = await thing();
    svc.emu.createJob({ jobId: "j_throttle", document: DOC, things: [t] });
    svc.emu.limitUpdates(1);
    const before = svc.emu.throttledUpdates;
    try {
      // Sent together, so the one token a second cannot refill between them.
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => ask(t, "j_throttle/update", { status: "IN_PROGRESS", statusDetails: { state: `s${i}` } })));
      const throttled = answers.filter((a) => a.body.code === "RequestThrottled").length;
      expect(answers.filter((a) => a.answer === "accepted").length).toBeGreaterThanOrEqual(1);
      expect(throttled).toBeGreaterThanOrEqual(3);
      expect(svc.emu.throttledUpdates - before).toBe(throttled);
      const e = svc.emu.execution("j_throttle", t)!;
      expect(e.versionNumber).toBe(1 + 5 - throttled);
      expect(e.updates.filter((u) => u.outcome === "RequestThrottled")).toHaveLength(throttled);
      expect((await Promise.all(Array.from({ length: 5 }, () => ask(t, "get")))).map((a) => a.answer)).toEqual(Array(5).fill("accepted"));
    } finally {
      svc.emu.limitUpdates(undefined);
    }
  });

  test("the command line serves the HTTP control API", async () => {
    const own = await Mosquitto.start(); // a broker of its own: two emulators on one broker would both answer
    const port = await freePort();
    const proc = spawn(process.execPath, ["scripts/jobs-emulator.ts", "--broker", own.url, "--control", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
    const device = await mqtt.connectAsync(own.url);
    try {
      await new Promise<void>((resolve) => proc.stdout!.on("data", (d) => String(d).includes("control http://") && resolve()));
      const api = (path: string, method = "GET", body?: unknown) =>
        fetch(`http://127.0.0.1:${port}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) }).then((r) => r.json());
      await api("/jobs", "POST", { jobId: "j_http", document: DOC, things: ["cli1"] });
      await device.subscribeAsync("$aws/things/cli1/jobs/j_http/update/+", { qos: 1 });
      const answer = new Promise<string>((resolve) => device.on("message", (topic) => resolve(topic)));
      await device.publishAsync("$aws/things/cli1/jobs/j_http/update", JSON.stringify({ status: "SUCCEEDED", statusDetails: { state: "done" } }), { qos: 1 });
      expect(await answer).toBe("$aws/things/cli1/jobs/j_http/update/accepted");
      expect(await api("/jobs/j_http")).toEqual([expect.objectContaining({ thingName: "cli1", status: "SUCCEEDED", statusDetails: { state: "done" } })]);
      expect(await api("/things/cli1/messages")).toEqual({ received: 1, sent: 5 });
    } finally {
      proc.kill();
      await device.endAsync();
      await own.stop();
    }
  });
});
