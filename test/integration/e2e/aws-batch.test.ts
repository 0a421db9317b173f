// A fleet update: one AWS job for a thing group of 50 devices, each a real otter process with
// its own state_dir, against one broker and the jobs emulator. Prints how long the batch
// took and how many messages the service exchanged with each device.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { jobsService } from "../../helpers/jobsservice.ts";
import { Rig } from "../../helpers/rig.ts";
import { UpdateServer } from "../../helpers/updateserver.ts";

const DEVICES = 50;
const svc = jobsService();
let server: UpdateServer;
const rigs: Rig[] = [];

beforeAll(() => {
  server = new UpdateServer();
});
afterAll(() => {
  rigs.forEach((r) => r.cleanup());
  server.stop();
});

test(`one job for a group of ${DEVICES} things: every execution ends SUCCEEDED`, async () => {
  server.publish("fleet", "5.0.0", "5.0.0");
  const things = Array.from({ length: DEVICES }, (_, i) => `fleet-${String(i).padStart(2, "0")}-${process.pid}`);
  for (const thing of things) {
    rigs.push(new Rig({ serverUrl: server.url, set: { service: { source: "aws" }, broker: { host: "127.0.0.1", port: String(svc.broker.port), thing_name: thing } } }));
  }
  svc.emu.defineGroup("fleet", things);
  const file = `\${aws:iot:s3-presigned-url:${server.url}/fleet-5.0.0.img}`;
  svc.emu.createJob({ jobId: "upparat_fleet_5", document: { action: "upparat-update", version: "5.0.0", file, meta: "", force: false }, groups: ["fleet"] });

  const started = performance.now();
  const results = await Promise.all(rigs.map((r) => r.run()));
  const seconds = (performance.now() - started) / 1000;

  const failed = results.map((r, i) => [things[i], r.code, r.stderr.split("\n").slice(-3).join(" | ")]).filter(([, code]) => code !== 0);
  expect(failed).toEqual([]);
  const execs = svc.emu.listExecutions("upparat_fleet_5");
  expect(execs).toHaveLength(DEVICES);
  expect(execs.filter((e) => e.status !== "SUCCEEDED").map((e) => `${e.thingName}: ${e.status}`)).toEqual([]);
  expect(rigs.every((r) => r.version() === "5.0.0")).toBe(true);

  const counts = things.map((t) => svc.emu.messages(t));
  const received = counts.map((c) => c.received);
  const sent = counts.map((c) => c.sent);
  const range = (xs: number[]) => `${Math.min(...xs)}-${Math.max(...xs)}`;
  console.log(`batch: ${DEVICES} devices updated in ${seconds.toFixed(1)} s; per device the service received ${range(received)} and sent ${range(sent)} messages`);
  // get, describe, download_start, installation_start, reboot_start, complete_ready
  expect(Math.max(...received)).toBeLessThanOrEqual(8);
}, 180_000);
