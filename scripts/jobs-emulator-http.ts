// The jobs emulator's command line and its HTTP control API on 127.0.0.1, for trying otter's
// MQTT mode by hand:
//   bun scripts/jobs-emulator.ts --broker mqtt://127.0.0.1:1883 [--control 8080] [--minute-ms 60000]
//       [--updates-per-second N]   (beyond N UpdateJobExecution requests a second: RequestThrottled)
//   curl -d '{"jobId":"upparat_1","document":{…},"things":["dev1"]}' 127.0.0.1:8080/jobs
//   POST /jobs {jobId, document, things?, groups?, inProgressTimeoutMinutes?,
//               jobExecutionsRolloutConfig?: {maximumPerMinute}}                 create a job
//   POST /jobs/ID/cancel {force?}                                               cancel it
//   DELETE /jobs/ID/things/THING?force=true                                     delete one execution
//   GET /jobs/ID                                                                executions and updates
//   PUT /groups/NAME {things}                                                   define a thing group
//   POST /things/THING/faults {code, op?, count?}                               reject the next requests
//   GET /things/THING/messages                                                  message counts
import { createServer, type IncomingMessage } from "node:http";
import type { ErrorCode } from "../src/sources/jobsapi.ts";
import { JobsEmulator, type Operation } from "./jobs-emulator.ts";

type Body = Record<string, unknown>;
type Route = (emu: JobsEmulator, m: string[], body: Body, query: URLSearchParams) => unknown;

const ROUTES: [string, RegExp, Route][] = [
  ["POST", /^\/jobs$/, (e, _m, b) => e.createJob(b as never)],
  ["POST", /^\/jobs\/([^/]+)\/cancel$/, (e, m, b) => e.cancelJob(m[1]!, { force: b.force === true })],
  ["DELETE", /^\/jobs\/([^/]+)\/things\/([^/]+)$/, (e, m, _b, q) => e.deleteExecution(m[1]!, m[2]!, { force: q.get("force") === "true" })],
  ["GET", /^\/jobs\/([^/]+)$/, (e, m) => e.listExecutions(m[1]!)],
  ["PUT", /^\/groups\/([^/]+)$/, (e, m, b) => e.defineGroup(m[1]!, b.things as string[])],
  ["POST", /^\/things\/([^/]+)\/faults$/, (e, m, b) => e.injectFault(m[1]!, b.code as ErrorCode, { op: b.op as Operation, count: b.count as number })],
  ["GET", /^\/things\/([^/]+)\/messages$/, (e, m) => e.messages(m[1]!)],
];

async function bodyOf(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8").trim();
  return text ? JSON.parse(text) : {};
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Run the emulator against --broker and serve the control API until killed. */
export async function main(argv: string[]): Promise<void> {
  const broker = arg(argv, "--broker");
  if (!broker) {
    process.stderr.write("usage: bun scripts/jobs-emulator.ts --broker mqtt://127.0.0.1:1883 [--control PORT] [--minute-ms N] [--updates-per-second N]\n");
    process.exit(2);
  }
  const emu = new JobsEmulator({ broker, minuteMs: Number(arg(argv, "--minute-ms") ?? 60_000) });
  const rate = arg(argv, "--updates-per-second");
  if (rate) emu.limitUpdates(Number(rate));
  await emu.start();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const route = ROUTES.find(([method, re]) => method === req.method && re.test(url.pathname));
    if (!route) return void res.writeHead(404).end("no such route\n");
    bodyOf(req)
      .then((body) => route[2](emu, route[1].exec(url.pathname)!.map(decodeURIComponent), body, url.searchParams))
      .then((out) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out ?? { ok: true }) + "\n"))
      .catch((err: Error) => res.writeHead(400).end(`${err.message}\n`));
  });
  server.listen(Number(arg(argv, "--control") ?? 8080), "127.0.0.1", () => {
    const addr = server.address();
    process.stdout.write(`jobs emulator: broker ${broker}, control http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : "?"}\n`);
  });
}
