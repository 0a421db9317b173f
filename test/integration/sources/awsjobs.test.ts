// The AWS jobs source against a real mosquitto and the local jobs emulator.
import { afterAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { isTransient, type OtterError } from "../../../src/base/errors.ts";
import { parseConfig } from "../../../src/config/config.ts";
import { createAwsJobsSource } from "../../../src/sources/awsjobs.ts";
import { MAX_REPORT_MESSAGE, type Report, type Source } from "../../../src/sources/source.ts";
import { JobsEmulator } from "../../../scripts/jobs-emulator.ts";
import { RecordedEvents } from "../../helpers/events.ts";
import { jobsService } from "../../helpers/jobsservice.ts";
import { Mosquitto, freePort } from "../../helpers/mosquitto.ts";

const started: Source[] = [];
let things = 0;

afterAll(async () => {
  for (const s of started) await s.stop();
});
const svc = jobsService({ tls: true, minuteMs: 200 });

function doc(extra: Record<string, unknown> = {}) {
  return { action: "upparat-update", version: "2.0.0", file: "${aws:iot:s3-presigned-url:https://s3.example.com/bucket/image.bin}", meta: "slot-b", force: false, ...extra };
}

/** A started source for a fresh thing, and what it reported to the pipeline. */
async function source(opts: { broker?: string; ini?: string } = {}) {
  const thing = `dev${++things}-${process.pid}`;
  const ini = opts.ini ?? `[broker]\nhost = 127.0.0.1\nport = ${svc.broker.port}\nthing_name = ${thing}\n${opts.broker ?? ""}`;
  const config = parseConfig(ini, "/tmp/otter.ini", { env: {} });
  config.broker.thing_name = thing;
  config.broker.client_id = thing;
  const src = createAwsJobsSource(config, { answerTimeoutMs: 10_000, reconnectBaseMs: 50, reconnectCapMs: 400, minProgressIntervalMs: 0 });
  const events = new RecordedEvents();
  started.push(src);
  await src.start(events);
  await events.until(() => events.wakes > 0);
  return { thing, src, events };
}

function report(jobId: string, status: Report["status"], state: string, message = "", details?: Record<string, string>): Report {
  return { jobId, seq: 1, status, state, message, details, at: new Date().toISOString() };
}

async function failure(p: Promise<unknown>): Promise<OtterError> {
  try {
    await p;
  } catch (err) {
    return err as OtterError;
  }
  throw new Error("expected a failure");
}

describe("AWS jobs source", () => {
  test("connects, says wake, and finds nothing pending", async () => {
    const { src } = await source();
    expect(await src.check()).toEqual([]);
  });

  test("describes the pending job into an offer with a signed URL", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_offer", document: doc(), things: [thing] });
    const offers = await src.check();
    expect(offers).toHaveLength(1);
    expect(offers[0]).toMatchObject({ id: "upparat_offer", source: "aws", version: "2.0.0", meta: "slot-b", force: false });
    expect(offers[0]!.url).toMatch(/^https:\/\/s3\.example\.com\/bucket\/image\.bin\?sig=\d+$/);
    expect(offers[0]!.inProgressState).toBeUndefined();
  });

  test("IN_PROGRESS then SUCCEEDED are acknowledged and recorded in order", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_flow", document: doc(), things: [thing] });
    await src.check();
    expect(await src.report(report("upparat_flow", "IN_PROGRESS", "download_start"))).toBe("acknowledged");
    expect(await src.report(report("upparat_flow", "IN_PROGRESS", "download_progress", "", { downloaded_bytes: "1048576" }))).toBe("acknowledged");
    expect(await src.report(report("upparat_flow", "SUCCEEDED", "complete_ready", "2.0.0 is running"))).toBe("acknowledged");
    const [exec] = svc.emu.listExecutions("upparat_flow");
    expect(exec!.status).toBe("SUCCEEDED");
    expect(exec!.statusDetails).toEqual({ state: "complete_ready", message: "2.0.0 is running" });
    expect(exec!.updates.map((u) => [u.status, u.statusDetails?.state, u.outcome])).toEqual([
      ["IN_PROGRESS", "download_start", "accepted"],
      ["IN_PROGRESS", "download_progress", "accepted"],
      ["SUCCEEDED", "complete_ready", "accepted"],
    ]);
    expect(exec!.updates[0]!.statusDetails!.message).toBe("none");
    expect(exec!.updates[1]!.statusDetails!.downloaded_bytes).toBe("1048576");
    expect(new Set(exec!.updates.map((u) => u.clientToken)).size).toBe(3);
  });

  test("a second terminal report is already-terminal, not a failure", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_twice", document: doc(), things: [thing] });
    await src.check();
    expect(await src.report(report("upparat_twice", "SUCCEEDED", "complete_ready"))).toBe("acknowledged");
    expect(await src.report(report("upparat_twice", "SUCCEEDED", "complete_ready"))).toBe("already-terminal");
    expect(svc.emu.execution("upparat_twice", thing)!.updates.map((u) => u.outcome)).toEqual(["accepted", "InvalidStateTransition"]);
  });

  test("hook output is sanitized to what AWS accepts", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_dirty", document: doc(), things: [thing] });
    await src.check();
    const details = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`extra ${i}`, ""]));
    expect(await src.report(report("upparat_dirty", "FAILED", "installation_hook_failed", "\x1b[31mboom\x1b[0m\r\n50%\r99%\n" + "x".repeat(3000), details))).toBe("acknowledged");
    const sd = svc.emu.execution("upparat_dirty", thing)!.statusDetails!;
    expect(Object.keys(sd)).toHaveLength(10);
    expect(sd.message!.startsWith("boom 99% xxx")).toBe(true);
    expect([sd.message!.length, sd.message!.endsWith("…[cut]")]).toEqual([MAX_REPORT_MESSAGE, true]);
    expect(sd.extra_0).toBe("none");
  });

  test("an IN_PROGRESS job comes first, with the state it was left in", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_first", document: doc(), things: [thing] });
    svc.emu.createJob({ jobId: "upparat_second", document: doc(), things: [thing] });
    await src.report(report("upparat_second", "IN_PROGRESS", "reboot_start"));
    const [offer] = await src.check();
    expect(offer).toMatchObject({ id: "upparat_second", inProgressState: "reboot_start" });
  });

  test("the oldest QUEUED job is offered; other prefixes are left alone", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "other_job", document: doc(), things: [thing] });
    svc.emu.createJob({ jobId: "upparat_old", document: doc(), things: [thing] });
    svc.emu.createJob({ jobId: "upparat_new", document: doc(), things: [thing] });
    const offers = await src.check();
    expect(offers.map((o) => o.id)).toEqual(["upparat_old"]);
    expect(svc.emu.execution("other_job", thing)!.updates).toEqual([]);
  });

  test("more than one IN_PROGRESS job: each FAILED error_multiple_in_progress", async () => {
    const { thing, src } = await source();
    for (const id of ["upparat_m1", "upparat_m2"]) {
      svc.emu.createJob({ jobId: id, document: doc(), things: [thing] });
      await src.report(report(id, "IN_PROGRESS", "download_start"));
    }
    svc.emu.createJob({ jobId: "upparat_m3", document: doc(), things: [thing] });
    expect((await src.check()).map((o) => o.id)).toEqual(["upparat_m3"]);
    for (const id of ["upparat_m1", "upparat_m2"]) {
      const e = svc.emu.execution(id, thing)!;
      expect(e.status).toBe("FAILED");
      expect(e.statusDetails).toEqual({ state: "error_multiple_in_progress", message: "More than one job IN_PROGRESS: upparat_m1, upparat_m2" });
    }
  });

  test("a wrong action or a malformed document is REJECTED with the reason, and the next job is offered", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_wrong", document: doc({ action: "reboot" }), things: [thing] });
    svc.emu.createJob({ jobId: "upparat_nofile", document: doc({ file: undefined }), things: [thing] });
    svc.emu.createJob({ jobId: "upparat_notjson", document: "{not json", things: [thing] });
    svc.emu.createJob({ jobId: "upparat_fine", document: doc(), things: [thing] });
    expect((await src.check()).map((o) => o.id)).toEqual(["upparat_fine"]);
    const wrong = svc.emu.execution("upparat_wrong", thing)!;
    expect(wrong.status).toBe("REJECTED");
    expect(wrong.statusDetails!.state).toBe("job_invalid");
    expect(wrong.statusDetails!.message).toContain('"action": expected "upparat-update", got "reboot"');
    expect(svc.emu.execution("upparat_nofile", thing)!.statusDetails!.message).toContain('"file"');
    expect(svc.emu.execution("upparat_notjson", thing)!.status).toBe("REJECTED");
  });

  test("RequestThrottled is transient and the retry is acknowledged", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_throttle", document: doc(), things: [thing] });
    await src.check();
    svc.emu.injectFault(thing, "RequestThrottled");
    const err = await failure(src.report(report("upparat_throttle", "IN_PROGRESS", "download_start")));
    expect(isTransient(err)).toBe(true);
    expect(err.code).toBe("REPORT_UNACKNOWLEDGED");
    expect(await src.report(report("upparat_throttle", "IN_PROGRESS", "download_start"))).toBe("acknowledged");
    svc.emu.injectFault(thing, "InternalError");
    expect(isTransient(await failure(src.report(report("upparat_throttle", "SUCCEEDED", "complete_ready"))))).toBe(true);
    expect(await src.report(report("upparat_throttle", "SUCCEEDED", "complete_ready"))).toBe("acknowledged");
    expect(svc.emu.execution("upparat_throttle", thing)!.updates.map((u) => u.outcome)).toEqual(["RequestThrottled", "accepted", "InternalError", "accepted"]);
  });

  test("other rejections are SourceRejected, not retried", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_invalid", document: doc(), things: [thing] });
    await src.check();
    svc.emu.injectFault(thing, "InvalidRequest");
    const err = await failure(src.report(report("upparat_invalid", "IN_PROGRESS", "download_start")));
    expect(err.code).toBe("SOURCE_REJECTED");
    expect(isTransient(err)).toBe(false);
  });

  test("someone else's update (VersionMismatch) is logged and the report still lands", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_version", document: doc(), things: [thing] });
    await src.check();
    const other = await mqtt.connectAsync(svc.broker.url);
    await other.publishAsync(`$aws/things/${thing}/jobs/upparat_version/update`, JSON.stringify({ status: "IN_PROGRESS" }), { qos: 1 });
    await svc.emu.until(() => svc.emu.execution("upparat_version", thing)!.versionNumber === 2);
    await other.endAsync();
    expect(await src.report(report("upparat_version", "IN_PROGRESS", "download_start"))).toBe("acknowledged");
    expect(svc.emu.execution("upparat_version", thing)!.updates.map((u) => u.outcome)).toEqual(["accepted", "VersionMismatch", "accepted"]);
  });

  test("an update whose answer was lost, sent again, is not recorded twice: VersionMismatch with our own state is its acknowledgement", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_lost_answer", document: doc(), things: [thing] });
    await src.check();
    // The first copy as it reached AWS before a broker restart swallowed its answer.
    const first = await mqtt.connectAsync(svc.broker.url);
    const details = { state: "installation_start", message: "installing version 2.0.0" };
    await first.publishAsync(`$aws/things/${thing}/jobs/upparat_lost_answer/update`, JSON.stringify({ status: "IN_PROGRESS", statusDetails: details, expectedVersion: 1 }), { qos: 1 });
    await svc.emu.until(() => svc.emu.execution("upparat_lost_answer", thing)!.versionNumber === 2);
    await first.endAsync();
    expect(await src.report(report("upparat_lost_answer", "IN_PROGRESS", details.state, details.message))).toBe("acknowledged");
    expect(svc.emu.execution("upparat_lost_answer", thing)!.updates.map((u) => u.outcome)).toEqual(["accepted", "VersionMismatch"]);
    // The version it learnt from the rejection goes with the next update.
    expect(await src.report(report("upparat_lost_answer", "SUCCEEDED", "complete_ready", "done"))).toBe("acknowledged");
    expect(svc.emu.execution("upparat_lost_answer", thing)!.updates.map((u) => u.outcome)).toEqual(["accepted", "VersionMismatch", "accepted"]);
  });

  test("a forced cancel while IN_PROGRESS is seen; later reports are already-terminal", async () => {
    const { thing, src, events } = await source();
    svc.emu.createJob({ jobId: "upparat_cancel", document: doc(), things: [thing] });
    await src.check();
    await src.report(report("upparat_cancel", "IN_PROGRESS", "download_start"));
    svc.emu.cancelJob("upparat_cancel", { force: true });
    await events.until(() => events.cancels.includes("upparat_cancel"));
    expect(await src.report(report("upparat_cancel", "IN_PROGRESS", "download_progress"))).toBe("already-terminal");
    expect(await src.report(report("upparat_cancel", "FAILED", "cancelled"))).toBe("already-terminal");
    expect(svc.emu.execution("upparat_cancel", thing)!.status).toBe("CANCELED");
  });

  test("a job resumed from the journal (never offered by this source) is watched once it reports", async () => {
    const { thing, src, events } = await source();
    svc.emu.createJob({ jobId: "upparat_resumed", document: doc(), things: [thing] });
    await src.report(report("upparat_resumed", "IN_PROGRESS", "installation_start"));
    svc.emu.cancelJob("upparat_resumed", { force: true });
    await events.until(() => events.cancels.includes("upparat_resumed"));
  });

  test("a QUEUED job canceled after it was offered is seen", async () => {
    const { thing, src, events } = await source();
    svc.emu.createJob({ jobId: "upparat_qcancel", document: doc(), things: [thing] });
    await src.check();
    svc.emu.cancelJob("upparat_qcancel");
    await events.until(() => events.cancels.includes("upparat_qcancel"));
  });

  test("a deleted execution is seen as cancelled and its reports are dropped", async () => {
    const { thing, src, events } = await source();
    svc.emu.createJob({ jobId: "upparat_deleted", document: doc(), things: [thing] });
    await src.check();
    await src.report(report("upparat_deleted", "IN_PROGRESS", "download_start"));
    svc.emu.deleteExecution("upparat_deleted", thing, { force: true });
    await events.until(() => events.cancels.includes("upparat_deleted"));
    expect(await src.report(report("upparat_deleted", "SUCCEEDED", "complete_ready"))).toBe("already-terminal");
  });

  test("a thing removed from a continuous job's group (REMOVED) is seen as cancelled", async () => {
    const { thing, src, events } = await source();
    svc.emu.createJob({ jobId: "upparat_removed", document: doc(), things: [thing] });
    await src.check();
    await src.report(report("upparat_removed", "IN_PROGRESS", "download_start"));
    svc.emu.removeFromJob("upparat_removed", thing);
    await events.until(() => events.cancels.includes("upparat_removed"));
  });

  test("repeated IN_PROGRESS updates of one state are spaced by the minimum interval; new phases and final ones are not held back", async () => {
    const { thing, src } = await source();
    const paced = createAwsJobsSource(parseConfig(`[broker]\nhost = 127.0.0.1\nport = ${svc.broker.port}\nthing_name = ${thing}\nclient_id = ${thing}-paced\n`, "/tmp/otter.ini", { env: {} }), { minProgressIntervalMs: 300 });
    started.push(paced);
    await paced.start(new RecordedEvents());
    svc.emu.createJob({ jobId: "upparat_paced", document: doc(), things: [thing] });
    await src.check();
    for (const state of ["download_progress", "download_progress", "download_progress"]) await paced.report(report("upparat_paced", "IN_PROGRESS", state));
    await paced.report(report("upparat_paced", "SUCCEEDED", "complete_ready"));
    const at = svc.emu.execution("upparat_paced", thing)!.updates.map((u) => u.at);
    // The source waits from its answer, which the emulator sends after recording: a strict bound.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(300);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(300);
  });

  test("the step timeout expires into TIMED_OUT, which the source sees as cancelled", async () => {
    const { thing, src, events } = await source({ broker: "step_timeout = 1" });
    svc.emu.createJob({ jobId: "upparat_step", document: doc(), things: [thing] });
    await src.check();
    await src.report(report("upparat_step", "IN_PROGRESS", "download_start"));
    await events.until(() => events.cancels.includes("upparat_step"));
    expect(svc.emu.execution("upparat_step", thing)!.status).toBe("TIMED_OUT");
  });

  test("refresh re-describes the job for a freshly signed URL", async () => {
    const { thing, src } = await source();
    svc.emu.createJob({ jobId: "upparat_refresh", document: doc(), things: [thing] });
    const [offer] = await src.check();
    const fresh = await src.refresh!(offer!);
    const sig = (u: string) => Number(new URL(u).searchParams.get("sig"));
    expect(sig(fresh.url)).toBeGreaterThan(sig(offer!.url));
    expect({ ...fresh, url: "" }).toEqual({ ...offer!, url: "" });
  });

  test("refresh of a job that was canceled throws Cancelled", async () => {
    const { thing, src, events } = await source();
    svc.emu.createJob({ jobId: "upparat_gone", document: doc(), things: [thing] });
    const [offer] = await src.check();
    svc.emu.cancelJob("upparat_gone");
    const err = await failure(src.refresh!(offer!));
    expect(err.code).toBe("CANCELLED");
    await events.until(() => events.cancels.includes("upparat_gone"));
  });

  test("a new job is announced with wake", async () => {
    const { thing, events } = await source();
    const before = events.wakes;
    svc.emu.createJob({ jobId: "upparat_wake", document: doc(), things: [thing] });
    await events.until(() => events.wakes > before);
  });

  test("mutual TLS with cafile, certfile and keyfile", async () => {
    const c = svc.broker.clientCerts!;
    const { thing, src } = await source({ ini: `[broker]\nhost = 127.0.0.1\nport = ${svc.broker.tlsPort}\nthing_name = x\ncafile = ${c.ca}\ncertfile = ${c.cert}\nkeyfile = ${c.key}\n` });
    svc.emu.createJob({ jobId: "upparat_tls", document: doc(), things: [thing] });
    expect((await src.check()).map((o) => o.id)).toEqual(["upparat_tls"]);
  });

  test("start() does not throw while the broker is down; check() fails transiently until it is up", async () => {
    const port = await freePort();
    const config = parseConfig(`[broker]\nhost = 127.0.0.1\nport = ${port}\nthing_name = late\n`, "/tmp/otter.ini", { env: {} });
    const src = createAwsJobsSource(config, { answerTimeoutMs: 300, reconnectBaseMs: 50, reconnectCapMs: 200 });
    const events = new RecordedEvents();
    started.push(src);
    await src.start(events);
    const err = await failure(src.check());
    expect([err.code, isTransient(err)]).toEqual(["SOURCE_UNAVAILABLE", true]);
    const late = await Mosquitto.start({ port });
    const lateEmu = new JobsEmulator({ broker: late.url });
    try {
      await lateEmu.start();
      await events.until(() => events.wakes > 0);
      lateEmu.createJob({ jobId: "upparat_late", document: doc(), things: ["late"] });
      expect((await src.check()).map((o) => o.id)).toEqual(["upparat_late"]);
    } finally {
      await src.stop();
      await lateEmu.stop();
      await late.stop();
    }
  });

  // Last: it restarts the broker the other tests share.
  test("broker killed and restarted: reconnects, asks again, and finds a job queued meanwhile", async () => {
    const { thing, src, events } = await source();
    await svc.broker.kill();
    svc.emu.createJob({ jobId: "upparat_offline", document: doc(), things: [thing] });
    const wakes = events.wakes;
    await svc.broker.restart();
    await events.until(() => events.wakes > wakes);
    await svc.emu.until(() => svc.emu.connected);
    expect((await src.check()).map((o) => o.id)).toEqual(["upparat_offline"]);
    expect(await src.report(report("upparat_offline", "SUCCEEDED", "complete_ready"))).toBe("acknowledged");
  });
});
