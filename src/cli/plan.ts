// `otter plan`: ask every source once, run the policy as the daemon would now, print the
// decision with every reason. Changes nothing: no lock, no journal or approvals write, no
// report; a running daemon is not disturbed (an AWS plan connects with its own client id).
import { codeOf, describe } from "../base/errors.ts";
import { sourceKind, type Config } from "../config/config.ts";
import { isFreeze, type Offer, type SourceProblem } from "../sources/source.ts";
import { describeRunning, formatDecision } from "../policy/explain.ts";
import { Journal } from "../agent/journal.ts";
import { decideNow } from "../agent/policyinput.ts";

interface Asked {
  offers: Offer[];
  /** what could not be asked or understood (a freeze among them), as `otter status` lists it */
  problems: SourceProblem[];
}

// Every manifest channel, each problem kept; or the AWS source under a client id of its own.
async function ask(config: Config): Promise<Asked> {
  if (sourceKind(config) === "manifest") {
    const { checkChannels, channelProblems } = await import("../sources/manifest.ts");
    const results = await checkChannels(config, true);
    return { offers: results.flatMap((r) => ("offer" in r ? [r.offer] : [])), problems: channelProblems(results) };
  }
  const { createSource } = await import("../sources/index.ts");
  // AWS drops an older connection with the same client id: never take the daemon's.
  const source = await createSource({ ...config, broker: { ...config.broker, client_id: `${config.broker.client_id}-plan` } });
  await source.start({ wake: () => {}, cancelled: () => {} });
  try {
    return { offers: await source.check({ dryRun: true }), problems: [] };
  } catch (err) {
    return { offers: [], problems: [{ where: "aws", code: codeOf(err), message: describe(err) }] };
  } finally {
    await source.stop();
  }
}

// One line per problem; a freeze's message names its channel itself.
const problemLine = (p: SourceProblem) => (isFreeze(p) ? `frozen: ${p.message}` : `could not ask: ${p.where}: ${p.message}`);

/** The text (or JSON) `otter plan` prints. */
export async function plan(config: Config, json: boolean): Promise<string> {
  const { offers, problems } = await ask(config);
  const { decision, board, running } = await decideNow(config, Journal.peek(config.service.state_dir).running, offers, Date.now());
  if (json) return JSON.stringify({ decision, running, board, problems }) + "\n";
  const boardLine = `board: ${board.board ?? "unknown"}${board.board ? ` (from [policy] ${board.from})` : ""}${board.error ? `; ${board.error}` : ""}`;
  const text = formatDecision(decision);
  // Nothing to do holds only for what could be read, as --once says it.
  const verdict = decision.kind === "nothing" && problems.length ? `of the rest: ${text}` : text;
  return [boardLine, describeRunning(running), ...problems.map(problemLine), verdict].join("\n");
}
