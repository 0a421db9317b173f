import { expect, test } from "bun:test";
import { torture } from "../../helpers/torture.ts";

test("otter SIGKILLed at random instants through 6 whole updates: each ends installed, ready, reported once", async () => {
  const stats = await torture(6);
  console.log(`torture: ${stats.rounds} updates, ${stats.starts} starts, ${stats.kills} kills, killed in ${JSON.stringify(stats.killedIn)}`);
  expect(stats.failures).toEqual([]);
  expect(stats.kills).toBeGreaterThan(0);
}, 300_000);
