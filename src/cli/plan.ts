// `otter plan`: ask every source once, run the policy as the daemon would now, print the
// decision with every reason. Changes nothing: no lock, no journal or approvals write, no
// report; a running daemon is not disturbed (an AWS plan connects with its own client id).
import { OtterError, describe } from "../base/errors.ts";
import { sourceKind, type Config } from "../config/config.ts";
import type { Offer } from "../sources/source.ts";
import { describeRunning, formatDecision } from "../policy/explain.ts";
import { Journal } from "../agent/journal.ts";
import { decideNow } from "../agent/policyinput.ts";

interface Asked {
  offers: Offer[];
  /** one line per source or channel that could not be asked */
  errors: string[];
  /** channels whose signed metadata has expired (a freeze), one line each */
  frozen: string[];
}

// Every manifest channel, each error kept; or the AWS source under a client id of its own.
async function ask(config: Config): Promise<Asked> {
  if (sourceKind(config) === "manifest") {
    const { checkChannels } = await import("../sources/manifest.ts");
    const results = await checkChannels(config, true);
    const failed = results.flatMap((r) => ("error" in r ? [{ channel: r.channel, error: r.error }] : []));
    const expired = (e: Error) => e instanceof OtterError && e.code === "TUF_EXPIRED";
    return {
      offers: results.flatMap((r) => ("offer" in r ? [r.offer] : [])),
      errors: failed.filter((f) => !expired(f.error)).map((f) => `channel ${f.channel}: ${f.error.message}`),
      frozen: failed.filter((f) => expired(f.error)).map((f) => f.error.message),
    };
  }
  const { createSource } = await import("../sources/index.ts");
  // AWS drops an older connection with the same client id: never take the daemon's.
  const source = await createSource({ ...config, broker: { ...config.broker, client_id: `${config.broker.client_id}-plan` } });
  await source.start({ wake: () => {}, cancelled: () => {} });
  try {
    return { offers: await source.check({ dryRun: true }), errors: [], frozen: [] };
  } catch (err) {
    return { offers: [], errors: [`aws: ${describe(err)}`], frozen: [] };
  } finally {
    await source.stop();
  }
}

/** The text (or JSON) `otter plan` prints. */
export async function plan(config: Config, json: boolean): Promise<string> {
  const { offers, errors, frozen } = await ask(config);
  const { decision, board, running } = await decideNow(config, Journal.peek(config.service.state_dir).running, offers, Date.now());
  if (json) return JSON.stringify({ decision, running, board, errors, frozen }) + "\n";
  const boardLine = `board: ${board.board ?? "unknown"}${board.board ? ` (from [policy] ${board.from})` : ""}${board.error ? `; ${board.error}` : ""}`;
  const head = [boardLine, describeRunning(running), ...errors.map((e) => `could not ask: ${e}`), ...frozen.map((e) => `frozen: ${e}`)];
  const text = formatDecision(decision);
  // A freeze is not "nothing to do": say which channel is frozen instead.
  if (decision.kind !== "nothing" || !frozen.length) return head.join("\n") + "\n" + text;
  const { frozenSummary } = await import("../sources/manifest.ts");
  return [...head, frozenSummary(frozen), ...text.split("\n").slice(1)].join("\n");
}
