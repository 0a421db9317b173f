// scripts/tuf-repo: publish to a TUF repository that otter's TUF channels read, from a release
// pipeline (and otter's tests). Built on @tufjs/models; keys are PEM private keys (ed25519
// or ECDSA P-256) given per role as --key ROLE=FILE; never part of the device binary.
//
//   tuf-repo init REPO --key root=R.pem --key targets=T.pem --key snapshot=S.pem --key timestamp=S.pem [--consistent]
//   tuf-repo add-target REPO PATH FILE --custom '{"version": "1.2.0", "boards": ["rpi4"]}' --key targets=… --key snapshot=… --key timestamp=…
//   tuf-repo bump REPO ROLE... --key ROLE=…       new versions of targets/snapshot/timestamp, re-signed (snapshot and timestamp follow)
//   tuf-repo rotate REPO ROLE NEW.pem --key root=OLD.pem [--key root=NEW.pem]   root N+1: ROLE's keys replaced by NEW's
// --expires DAYS (may be negative) sets the expiry of what a command signs (default root 365,
// targets 90, snapshot 30, timestamp 1). REPO/metadata is served as the metadata URL,
// REPO/targets as the targets URL: tuf+https://HOST/metadata.
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { canonicalize } from "@tufjs/canonical-json";
import { Key, Metadata, MetaFile, MetadataKind, Root, Signature, Snapshot, TargetFile, Targets, Timestamp } from "@tufjs/models";

type Role = "root" | "targets" | "snapshot" | "timestamp";
const ROLES: Role[] = ["root", "targets", "snapshot", "timestamp"];
const DAYS: Record<Role, number> = { root: 365, targets: 90, snapshot: 30, timestamp: 1 };
const SPEC = "1.0.31";

interface Signer {
  key: Key;
  private: KeyObject;
}

function fail(message: string): never {
  console.error(`tuf-repo: ${message}`);
  process.exit(2);
}

// A PEM private key as a TUF key (keyid = sha256 of its canonical JSON) and what signs with it.
function signerOf(file: string): Signer {
  const priv = createPrivateKey(readFileSync(file, "utf8"));
  const pub = createPublicKey(priv);
  let keyType: string, scheme: string, value: string;
  if (priv.asymmetricKeyType === "ed25519") {
    [keyType, scheme, value] = ["ed25519", "ed25519", pub.export({ format: "der", type: "spki" }).subarray(-32).toString("hex")];
  } else if (priv.asymmetricKeyType === "ec" && priv.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    [keyType, scheme, value] = ["ecdsa", "ecdsa-sha2-nistp256", pub.export({ format: "pem", type: "spki" }).toString()];
  } else fail(`${file}: expected an ed25519 or ECDSA P-256 private key`);
  const keyVal = { public: value };
  const keyID = createHash("sha256").update(canonicalize({ keytype: keyType, scheme, keyval: keyVal })).digest("hex");
  return { key: new Key({ keyID, keyType, scheme, keyVal }), private: priv };
}

function signWith(s: Signer): (data: Buffer) => Signature {
  const algorithm = s.key.keyType === "ed25519" ? null : "sha256";
  return (data) => new Signature({ keyID: s.key.keyID, sig: sign(algorithm, data, s.private).toString("hex") });
}

const expiry = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");

class Repo {
  constructor(readonly dir: string, readonly signers: Partial<Record<Role, Signer[]>>, readonly days?: number) {}
  get meta(): string {
    return join(this.dir, "metadata");
  }
  read<K extends MetadataKind>(kind: K): Metadata<any> {
    const file = join(this.meta, `${kind}.json`);
    if (!existsSync(file)) fail(`${file} is missing; run tuf-repo init first`);
    return Metadata.fromJSON(kind as MetadataKind.Root, JSON.parse(readFileSync(file, "utf8")));
  }
  expires(role: Role): string {
    return expiry(this.days ?? DAYS[role]);
  }
  // Sign with every key given for the role and write ROLE.json (and N.ROLE.json where the
  // client fetches versioned names: root always, targets and snapshot with consistent snapshots).
  write(role: Role, md: Metadata<any>, consistent: boolean): void {
    const keys = this.signers[role] ?? fail(`${role} must be signed: pass --key ${role}=FILE`);
    md.signatures = {};
    for (const s of keys) md.sign(signWith(s), true);
    const text = JSON.stringify(md.toJSON(), null, 1);
    mkdirSync(this.meta, { recursive: true });
    writeFileSync(join(this.meta, `${role}.json`), text);
    if (role === "root" || (consistent && role !== "timestamp")) writeFileSync(join(this.meta, `${md.signed.version}.${role}.json`), text);
  }
  consistent(): boolean {
    return (this.read(MetadataKind.Root).signed as Root).consistentSnapshot;
  }
  // New snapshot (naming targets' current version) and timestamp (naming the snapshot's).
  snapshotAndTimestamp(bumpSnapshot = true): void {
    const consistent = this.consistent();
    let snapshot = this.read(MetadataKind.Snapshot).signed as Snapshot;
    if (bumpSnapshot) {
      const targets = this.read(MetadataKind.Targets).signed as Targets;
      snapshot = new Snapshot({ version: snapshot.version + 1, specVersion: SPEC, expires: this.expires("snapshot"), meta: { "targets.json": new MetaFile({ version: targets.version }) } });
      this.write("snapshot", new Metadata(snapshot), consistent);
    }
    const old = this.read(MetadataKind.Timestamp).signed as Timestamp;
    const timestamp = new Timestamp({ version: old.version + 1, specVersion: SPEC, expires: this.expires("timestamp"), snapshotMeta: new MetaFile({ version: snapshot.version }) });
    this.write("timestamp", new Metadata(timestamp), consistent);
  }
}

function init(repo: Repo, consistent: boolean): void {
  const root = new Root({ version: 1, specVersion: SPEC, expires: repo.expires("root"), consistentSnapshot: consistent });
  for (const role of ROLES) for (const s of repo.signers[role] ?? fail(`init needs a key for every role: --key ${role}=FILE`)) root.addKey(s.key, role);
  repo.write("root", new Metadata(root), consistent);
  repo.write("targets", new Metadata(new Targets({ version: 1, specVersion: SPEC, expires: repo.expires("targets") })), consistent);
  repo.write("snapshot", new Metadata(new Snapshot({ version: 1, specVersion: SPEC, expires: repo.expires("snapshot"), meta: { "targets.json": new MetaFile({ version: 1 }) } })), consistent);
  repo.write("timestamp", new Metadata(new Timestamp({ version: 1, specVersion: SPEC, expires: repo.expires("timestamp"), snapshotMeta: new MetaFile({ version: 1 }) })), consistent);
  mkdirSync(join(repo.dir, "targets"), { recursive: true });
}

function addTarget(repo: Repo, path: string, file: string, custom: Record<string, unknown>): void {
  const bytes = readFileSync(file);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const target = new TargetFile({ path, length: bytes.length, hashes: { sha256 }, unrecognizedFields: { custom: custom as never } });
  const old = repo.read(MetadataKind.Targets).signed as Targets;
  const targets = new Targets({ version: old.version + 1, specVersion: SPEC, expires: repo.expires("targets"), targets: { ...old.targets, [path]: target }, delegations: old.delegations });
  const consistent = repo.consistent();
  const dest = join(repo.dir, "targets", path);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(file, dest);
  if (consistent) copyFileSync(file, join(dirname(dest), `${sha256}.${path.split("/").pop()}`));
  repo.write("targets", new Metadata(targets), consistent);
  repo.snapshotAndTimestamp();
}

function bump(repo: Repo, roles: string[]): void {
  if (!roles.length || roles.some((r) => !["targets", "snapshot", "timestamp"].includes(r))) fail("bump: name targets, snapshot and/or timestamp");
  if (roles.includes("targets")) {
    const old = repo.read(MetadataKind.Targets).signed as Targets;
    repo.write("targets", new Metadata(new Targets({ version: old.version + 1, specVersion: SPEC, expires: repo.expires("targets"), targets: old.targets, delegations: old.delegations })), repo.consistent());
  }
  repo.snapshotAndTimestamp(roles.includes("targets") || roles.includes("snapshot"));
}

function rotate(repo: Repo, role: string, newKey: string): void {
  if (!ROLES.includes(role as Role)) fail(`rotate: expected one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`);
  const old = repo.read(MetadataKind.Root).signed as Root;
  const incoming = signerOf(newKey);
  const root = new Root({ version: old.version + 1, specVersion: SPEC, expires: repo.expires("root"), consistentSnapshot: old.consistentSnapshot });
  for (const r of ROLES) {
    const ids = r === role ? [incoming.key.keyID] : old.roles[r]!.keyIDs;
    for (const id of ids) root.addKey(id === incoming.key.keyID ? incoming.key : old.keys[id]!, r);
  }
  // Root N+1 must verify with root N's keys and with its own: sign with old and new root keys.
  const signers = [...(repo.signers.root ?? fail("rotate needs the current root key: --key root=FILE")), ...(role === "root" ? [incoming] : [])];
  new Repo(repo.dir, { root: signers }, repo.days).write("root", new Metadata(root), old.consistentSnapshot);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { key: { type: "string", multiple: true }, custom: { type: "string" }, expires: { type: "string" }, consistent: { type: "boolean" } },
});
const [command, dir, ...rest] = positionals;
if (!command || !dir) fail("usage: tuf-repo init|add-target|bump|rotate REPO ... (see the head of scripts/tuf-repo.ts)");
const signers: Partial<Record<Role, Signer[]>> = {};
for (const pair of values.key ?? []) {
  const [role, file] = pair.split("=", 2) as [Role, string | undefined];
  if (!ROLES.includes(role) || !file) fail(`--key: expected ROLE=FILE with ROLE one of ${ROLES.join(", ")}, got ${JSON.stringify(pair)}`);
  (signers[role] ??= []).push(signerOf(file));
}
const days = values.expires === undefined ? undefined : Number(values.expires);
if (days !== undefined && !Number.isFinite(days)) fail(`--expires: expected days, got ${JSON.stringify(values.expires)}`);
const repo = new Repo(dir, signers, days);
if (command === "init") init(repo, values.consistent === true);
else if (command === "add-target") {
  const [path, file] = rest;
  if (!path || !file) fail("usage: tuf-repo add-target REPO PATH FILE --custom JSON --key …");
  let custom: unknown;
  try {
    custom = JSON.parse(values.custom ?? "");
  } catch {
    fail(`--custom: expected a JSON object such as '{"version": "1.2.0"}', got ${JSON.stringify(values.custom ?? "")}`);
  }
  if (!custom || typeof custom !== "object" || Array.isArray(custom)) fail("--custom: expected a JSON object");
  addTarget(repo, path, file, custom as Record<string, unknown>);
} else if (command === "bump") bump(repo, rest);
else if (command === "rotate") rotate(repo, rest[0] ?? "", rest[1] ?? fail("usage: tuf-repo rotate REPO ROLE NEW.pem --key root=FILE"));
else fail(`unknown command ${JSON.stringify(command)}; expected init, add-target, bump or rotate`);
