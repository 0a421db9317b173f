// Kill otter at random instants through whole updates and check what must hold whatever
// the instant: the update ends installed and ready, with one final report (a report cut off
// in flight may arrive twice, with the same seq) and never a failure. Used by
// test/integration/e2e/torture.test.ts and, for longer runs, scripts/torture.
import { Rig } from "./rig.ts";
import { UpdateServer } from "./updateserver.ts";

export interface TortureStats {
  rounds: number;
  starts: number;
  kills: number;
  /** the journal's state at each kill */
  killedIn: Record<string, number>;
  failures: string[];
}

export async function torture(rounds: number, maxDelayMs = 400): Promise<TortureStats> {
  const stats: TortureStats = { rounds, starts: 0, kills: 0, killedIn: {}, failures: [] };
  // A kill instant is drawn over at most one whole update as this machine runs it: on an idle
  // machine an update takes less than maxDelayMs, and a draw past its end kills nothing.
  let window = maxDelayMs;
  for (let round = 0; round < rounds; round++) {
    const server = new UpdateServer();
    // Kills this frequent look like a reboot loop to the guard (max_starts, tested on its
    // own); lift it so the rounds test resuming, not the guard.
    const rig = new Rig({ serverUrl: server.url, set: { service: { max_starts: "1000" } } });
    try {
      server.publish("release", "1.0.0", "1.0.0".padEnd(512 * 1024, "\n"));
      // Slow hooks widen the windows a kill can land in.
      rig.writeHook("install", 'sleep 0.05; head -n1 "$4" > "$T/staged"');
      rig.writeHook("ready", 'sleep 0.05; [ "$(cat "$T/version")" = "$(cat "$T/staged")" ]');
      let done = false;
      for (let start = 0; start < 200 && !done; start++) {
        stats.starts++;
        const began = performance.now();
        const otter = rig.start();
        const killer = setTimeout(() => otter.kill("SIGKILL"), Math.random() * window);
        const code = await otter.exited;
        clearTimeout(killer);
        if (start === 0 && otter.signalCode === null && code === 0) window = Math.min(window, performance.now() - began);
        if (otter.signalCode === "SIGKILL") {
          stats.kills++;
          const state = rig.journal()?.job?.state ?? (rig.journal()?.outbox?.length ? "outbox" : "none");
          stats.killedIn[state] = (stats.killedIn[state] ?? 0) + 1;
        } else if (code === 0) done = true;
        else stats.failures.push(`round ${round}: exit ${code}`);
      }
      const finals = server.finals();
      const kinds = [...new Set(finals.map((f) => `${f.status}:${f.state}`))];
      const seqs = new Set(finals.map((f) => f.seq));
      if (!done) stats.failures.push(`round ${round}: never finished`);
      if (rig.version() !== "1.0.0") stats.failures.push(`round ${round}: version ${rig.version()}`);
      if (kinds.join() !== "SUCCEEDED:complete_ready" || seqs.size !== 1) stats.failures.push(`round ${round}: finals ${JSON.stringify(finals.map((f) => [f.seq, f.status, f.state]))}`);
      if (rig.count("ready done") < 1) stats.failures.push(`round ${round}: ready never passed`);
    } finally {
      server.stop();
      rig.cleanup();
    }
  }
  return stats;
}
