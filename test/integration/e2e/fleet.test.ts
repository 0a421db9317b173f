// The short form of scripts/fleet: 50 otter daemons on one broker, one job for all of them
// rolled out in two waves, UpdateJobExecution throttled, and the broker SIGKILLed mid-rollout
// and started again 3 s later. Every execution must end SUCCEEDED with each report accepted
// once, nothing re-downloaded, and the reconnects spread by their full jitter: at most 20 %
// of the fleet due within any 100 ms. Due times come from otter's own log (when each
// jittered wait ended), so a loaded machine cannot bunch them; the broker's connect stamps
// only give the per-second figure that is printed.
import { expect, test } from "bun:test";
import { JobsEmulator } from "../../../scripts/jobs-emulator.ts";
import { fleet } from "../../helpers/fleet.ts";
import { Mosquitto } from "../../helpers/mosquitto.ts";
import { Rig, waitFor } from "../../helpers/rig.ts";
import { UpdateServer } from "../../helpers/updateserver.ts";

const DEVICES = 50;

test(`${DEVICES} daemons, a broker restart mid-rollout: all SUCCEEDED, no report lost or doubled, reconnects spread`, async () => {
  const s = await fleet({ devices: DEVICES, perMinute: 25, minuteMs: 8000, updatesPerSecond: 10, deadlineMs: 150_000 });
  console.log(`fleet: ${DEVICES} daemons in ${s.rolloutS.toFixed(1)} s, the broker killed with executions at ${JSON.stringify(s.atKill)}; ${s.throttled} updates throttled; `
    + `at most ${s.maxPer100ms} reconnects due in any 100 ms, ${s.peakConnectsPerSecond.afterRestart} connects in the broker's busiest second after the restart; `
    + `per device the service received ${s.received.min}-${s.received.max} and sent ${s.sent.min}-${s.sent.max} messages`);
  expect(s.notSucceeded).toEqual([]);
  expect(s.lost).toEqual([]);
  expect(s.duplicated).toEqual([]);
  expect(s.undelivered).toBe(0);
  expect(s.notReconnected).toEqual([]);
  expect(s.reconnects).toHaveLength(DEVICES);
  expect(s.maxPer100ms).toBeLessThanOrEqual(DEVICES * 0.2);
  expect([s.imageGets, s.rangeGets]).toEqual([DEVICES, 0]);
  expect(s.kicks).toBe(0);
  // The limit was met: backoff on RequestThrottled is part of what passed.
  expect(s.throttled).toBeGreaterThan(0);
}, 240_000);

test("two daemons sharing a client id: the broker kicks one for the other, and each backs off further every time instead of looping", async () => {
  // Upparat's default client id is "upparat" for every device: AWS (and mosquitto) keep one
  // connection per client id, so two such devices take turns kicking each other off.
  const broker = await Mosquitto.start({ connections: true });
  const emu = new JobsEmulator({ broker: broker.url });
  await emu.start();
  const server = new UpdateServer();
  const rigs = ["a", "b"].map((t) => new Rig({ serverUrl: server.url, set: { service: { source: "aws", check_interval: "3600" }, broker: { host: "127.0.0.1", port: String(broker.port), thing_name: `shared-${t}-${process.pid}`, client_id: "upparat" } } }));
  const daemons = rigs.map((r) => r.start(["run"]));
  try {
    const kicks = () => broker.events.filter((e) => e.kind === "kicked" && e.clientId === "upparat").length;
    await waitFor(() => kicks() >= 5, 60_000, "five kicks");
  } finally {
    daemons.forEach((d) => d.kill("SIGTERM"));
    await Promise.all(daemons.map((d) => d.exited));
    await emu.stop();
    await broker.stop();
    server.stop();
  }
  const logs = await Promise.all(daemons.map((d) => new Response(d.stderr).text()));
  rigs.forEach((r) => r.cleanup());
  // The attempt that got through after each kick: 1, 2, 3… (windows of 1, 2, 4… s), never back to 1.
  const attempts = logs.map((log) => [...log.matchAll(/ mqtt connected .* attempt=(\d+)/g)].map((m) => Number(m[1])));
  console.log(`shared client id: reconnect attempts per daemon ${JSON.stringify(attempts)}`);
  expect(attempts.flat().length).toBeGreaterThanOrEqual(4);
  for (const a of attempts) expect(a).toEqual(a.map((_, i) => i + 1));
  expect(logs.some((log) => log.includes('does another client use client id "upparat"?'))).toBe(true);
}, 90_000);
