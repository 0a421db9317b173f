// `otter install URL|PATH --version V`: check what the operator gave (a missing file or a
// bad field is a usage error, exit 2, never a FAILED report), then run the pipeline on it,
// or, when another otter holds the lock, queue it for that otter (sources/manual.ts).
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT, LockHeld, UsageError, describe, type ExitCode } from "../base/errors.ts";
import { filePath } from "../base/fileurl.ts";
import { lockOwner } from "../base/lock.ts";
import { signaturePolicy, type Config } from "../config/config.ts";
import type { ProgressBar } from "../transfer/progress.ts";
import { FieldError } from "../sources/offerfields.ts";
import { manualOffer, manualSource, queueInstall, type InstallRequest } from "../sources/manual.ts";
import { runAgent } from "../agent/agent.ts";

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

// A local file the operator named: it must exist and be a readable regular file.
function localFile(where: string): string {
  const path = where.startsWith("file:") ? filePath(where, (why) => new UsageError(`otter install: ${why}`)) : resolve(where);
  let kind: string;
  try {
    kind = statSync(path).isFile() ? "file" : "not a regular file";
    accessSync(path, constants.R_OK);
  } catch (err) {
    kind = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `cannot read it (${(err as NodeJS.ErrnoException).code ?? describe(err)})`;
  }
  if (kind !== "file") throw new UsageError(`otter install ${where}: ${kind}; give the path of the update file (or its URL)`);
  return path;
}

// --signature FILE|BASE64: a file holds the signature raw (openssl -sign -out) or as base64 text.
function signatureValue(given: string): string {
  if (!existsSync(given)) {
    if (BASE64.test(given)) return given.replace(/\s/g, "");
    throw new UsageError(`--signature: ${JSON.stringify(given)} is neither a file nor base64 text; e.g. --signature image.sig`);
  }
  const bytes = readFileSync(given);
  const text = bytes.toString("latin1");
  return BASE64.test(text) ? text.replace(/\s/g, "") : bytes.toString("base64");
}

// --certificate FILE|PEM: the signer's certificate, checked against [verify] ca.
function certificate(given: string): string {
  const pem = given.includes("-----BEGIN") ? given : existsSync(given) ? readFileSync(given, "utf8") : "";
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`--certificate: ${JSON.stringify(given)} is neither a PEM certificate nor a file holding one`);
  return pem;
}

/** The request the command line makes, every part checked now. Throws UsageError naming the bad one. */
export function installRequest(config: Config, where: string, options: Record<string, string>): InstallRequest {
  if (options.certificate && !options.signature) throw new UsageError("--certificate goes with --signature (the certificate carries the key that checks it)");
  const local = URL_SCHEME.test(where) && !where.startsWith("file:") ? undefined : localFile(where);
  const req: InstallRequest = { where: local ?? where, version: options.version!, sha256: options.sha256?.toLowerCase() };
  if (options.signature) req.signature = { value: signatureValue(options.signature), ...(options.certificate ? { certificate: certificate(options.certificate) } : {}) };
  const sig = signaturePolicy(config.verify);
  if (sig.required && !req.signature) throw new UsageError(`otter install: ${sig.why}; pass --signature FILE|BASE64 (and --certificate FILE with [verify] ca)`);
  try {
    manualOffer(req, "check");
  } catch (err) {
    // Named as the operator gave them: --version, --sha256, --signature, URL|PATH.
    if (err instanceof FieldError) throw new UsageError(`otter install: ${err.message.replace(/^"(version|sha256|signature)[^"]*"/, "--$1").replace(/^"url"/, "URL|PATH")}`);
    throw err;
  }
  return req;
}

/** Run the pipeline on the request, or queue it for the otter that holds the lock. */
export async function install(config: Config, req: InstallRequest, print: (line: string) => void, progress?: ProgressBar): Promise<ExitCode> {
  const queue = () => {
    const holder = lockOwner(config.service.state_dir);
    if (!queueInstall(config, req)) throw new UsageError(`another otter install is queued already and not yet taken (otter status shows it); run this one after it`);
    const next = holder?.command === "otter run"
      ? `the daemon (pid ${holder.pid}) installs it as its next job, after the one under way if any`
      : `${holder ? `otter pid ${holder.pid} (${holder.command})` : "another otter"} holds the lock; the next otter run (the daemon, or --once) installs it`;
    print(`queued version ${req.version}: ${next}; otter status shows it`);
    return EXIT.ok;
  };
  if (lockOwner(config.service.state_dir)) return queue();
  try {
    return await runAgent(config, { once: true, source: manualSource(config, req), summary: print, progress });
  } catch (err) {
    if (err instanceof LockHeld) return queue(); // another otter took the lock meanwhile
    throw err;
  }
}
