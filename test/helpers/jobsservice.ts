// A mosquitto broker with the AWS IoT Jobs emulator on it, started once for the tests that
// register it (a file or a describe block) and stopped after them. afterAll hooks run in the
// order they were registered: a file that must close its own clients before the broker goes
// registers that afterAll before calling this.
import { afterAll, beforeAll } from "bun:test";
import { JobsEmulator } from "../../scripts/jobs-emulator.ts";
import { Mosquitto } from "./mosquitto.ts";

export function jobsService(opts: { tls?: boolean; minuteMs?: number } = {}): { broker: Mosquitto; emu: JobsEmulator } {
  const svc = {} as { broker: Mosquitto; emu: JobsEmulator };
  beforeAll(async () => {
    svc.broker = await Mosquitto.start({ tls: opts.tls });
    svc.emu = new JobsEmulator({ broker: svc.broker.url, minuteMs: opts.minuteMs });
    await svc.emu.start();
  });
  afterAll(async () => {
    await svc.emu.stop();
    await svc.broker.stop();
  });
  return svc;
}
