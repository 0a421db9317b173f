// scripts/tuf-repo: publish to a TUF repository that otter's TUF channels read, from a release
// pipeline (and otter's tests). Built on @tufjs/models; keys are PEM files given per role as
// --key ROLE=FILE (a role given several keys signs with each of them); never part of the
// device binary.
//
//   tuf-repo init REPO --key root=R.pem --key targets=T.pem --key snapshot=S.pem --key timestamp=S.pem [--threshold ROLE=N]... [--consistent]
//   tuf-repo add-target REPO PATH FILE --custom '{"version": "1.2.0", "boards": ["rpi4"]}' [--role NAME] --key NAME=… --key snapshot=… --key timestamp=…
//   tuf-repo delegate REPO NAME PATTERN... --key NAME=N.pem... [--threshold NAME=N] [--terminating] --key targets=… --key snapshot=… --key timestamp=…
//   tuf-repo keys REPO [--add ROLE=FILE]... [--remove ROLE=FILE]... [--threshold ROLE=N]... --key root=…   (a delegated ROLE: --key targets=… --key snapshot=… --key timestamp=…)
//   tuf-repo rotate REPO ROLE NEW.pem --key root=OLD.pem [--key root=NEW.pem]   ROLE's keys replaced by NEW's
//   tuf-repo bump REPO ROLE... --key ROLE=…       new versions of targets/NAME/snapshot/timestamp, re-signed (snapshot and timestamp follow)
// A top-level role's keys and threshold live in root (keys and rotate sign root N+1 with the
// current root keys, and with added root keys that are private); a delegated role's (NAME,
// trusted by targets for the paths matching its PATTERNs, e.g. 'nightly/*') in targets. Keys
// only named (--add, --remove) may be public PEM files. --role NAME publishes a target in a
// delegated role's metadata. --expires DAYS (may be negative) sets the expiry of what a
// command signs (default root 365, targets and delegated roles 90, snapshot 30, timestamp 1).
// REPO/metadata is served as the metadata URL, REPO/targets as the targets URL:
// tuf+https://HOST/metadata.
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { canonicalize } from "@tufjs/canonical-json";
import { Key, Metadata, MetaFile, MetadataKind, Root, Signature, Snapshot, TargetFile, Targets, Timestamp } from "@tufjs/models";

const TOP = ["root", "targets", "snapshot", "timestamp"] as const;
type Top = (typeof TOP)[number];
const isTop = (role: string): role is Top => (TOP as readonly string[]).includes(role);
const DAYS: Record<Top, number> = { root: 365, targets: 90, snapshot: 30, timestamp: 1 };
const SPEC = "1.0.31";
// A delegated role's name is a file name on the mirror: kept to plain characters.
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface Signer {
  key: Key;
  file: string;
  /** absent for a public key file: it can be named, not sign */
  private?: KeyObject;
}
type JsonRole = { keyids: string[]; threshold: number; name?: string; paths?: string[]; terminating?: boolean };

function fail(message: string): never {
  console.error(`tuf-repo: ${message}`);
  process.exit(2);
}

// A PEM key (private or public) as a TUF key: keyid = sha256 of its canonical JSON.
function signerOf(file: string): Signer {
  const text = readFileSync(file, "utf8");
  const priv = text.includes("PRIVATE KEY") ? createPrivateKey(text) : undefined;
  const pub = priv ? createPublicKey(priv) : createPublicKey(text);
  let keyType: string, scheme: string, value: string;
  if (pub.asymmetricKeyType === "ed25519") {
    [keyType, scheme, value] = ["ed25519", "ed25519", pub.export({ format: "der", type: "spki" }).subarray(-32).toString("hex")];
  } else if (pub.asymmetricKeyType === "ec" && pub.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    [keyType, scheme, value] = ["ecdsa", "ecdsa-sha2-nistp256", pub.export({ format: "pem", type: "spki" }).toString()];
  } else fail(`${file}: expected an ed25519 or ECDSA P-256 key`);
  const keyVal = { public: value };
  const keyID = createHash("sha256").update(canonicalize({ keytype: keyType, scheme, keyval: keyVal })).digest("hex");
  return { key: new Key({ keyID, keyType, scheme, keyVal }), file, private: priv };
}

function signWith(role: string, s: Signer): (data: Buffer) => Signature {
  const priv = s.private ?? fail(`${s.file} is a public key: signing ${role} needs its private key`);
  const algorithm = s.key.keyType === "ed25519" ? null : "sha256";
  return (data) => new Signature({ keyID: s.key.keyID, sig: sign(algorithm, data, priv).toString("hex") });
}

const expiry = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");

// ROLE=VALUE pairs of an option, ROLE a top-level or delegated role name.
function pairs(option: string, values: string[] | undefined): [string, string][] {
  return (values ?? []).map((pair) => {
    const at = pair.indexOf("=");
    const [role, value] = at < 0 ? ["", ""] : [pair.slice(0, at), pair.slice(at + 1)];
    if (!ROLE_NAME.test(role) || !value) fail(`--${option}: expected ROLE=${option === "threshold" ? "N" : "FILE"} (ROLE: root, targets, snapshot, timestamp or a delegated role's name), got ${JSON.stringify(pair)}`);
    return [role, value];
  });
}

function thresholds(values: string[] | undefined): Map<string, number> {
  return new Map(pairs("threshold", values).map(([role, n]) => {
    if (!/^[1-9][0-9]{0,2}$/.test(n)) fail(`--threshold ${role}=${n}: expected a whole number of signatures, at least 1`);
    return [role, Number(n)];
  }));
}

// A role's keys after an edit, checked against its threshold.
function roleOf(role: string, keyids: string[], threshold: number): JsonRole {
  if (!keyids.length) fail(`${role} would have no key`);
  if (threshold > keyids.length) fail(`${role} needs ${threshold} signatures but has ${keyids.length} key(s); add keys (--add ${role}=FILE) or lower --threshold ${role}=N`);
  return { keyids, threshold };
}

class Repo {
  constructor(readonly dir: string, readonly signers: Map<string, Signer[]>, readonly days?: number) {}
  get meta(): string {
    return join(this.dir, "metadata");
  }
  read(role: string): Metadata<any> {
    const file = join(this.meta, `${role}.json`);
    if (!existsSync(file)) fail(`${file} is missing; run tuf-repo ${role === "root" || isTop(role) ? "init" : "delegate"} first`);
    const kind = role === "root" ? MetadataKind.Root : role === "snapshot" ? MetadataKind.Snapshot : role === "timestamp" ? MetadataKind.Timestamp : MetadataKind.Targets;
    return Metadata.fromJSON(kind as MetadataKind.Root, JSON.parse(readFileSync(file, "utf8")));
  }
  root(): Root {
    return this.read("root").signed as Root;
  }
  targets(role = "targets"): Targets {
    return this.read(role).signed as Targets;
  }
  expires(role: string): string {
    return expiry(this.days ?? DAYS[isTop(role) ? role : "targets"]);
  }
  keysOf(role: string): Signer[] {
    return this.signers.get(role) ?? fail(`${role} must be signed: pass --key ${role}=FILE`);
  }
  /** the roles targets delegates to */
  delegated(): string[] {
    return Object.keys(this.targets().delegations?.roles ?? {});
  }
  // Sign with every key given (and write ROLE.json, and N.ROLE.json where the client fetches
  // versioned names: root always, every role but timestamp with consistent snapshots).
  write(role: string, md: Metadata<any>, keys = this.keysOf(role)): void {
    md.signatures = {};
    for (const s of keys) md.sign(signWith(role, s), true);
    const text = JSON.stringify(md.toJSON(), null, 1);
    mkdirSync(this.meta, { recursive: true });
    writeFileSync(join(this.meta, `${role}.json`), text);
    const consistent = role === "root" ? (md.signed as Root).consistentSnapshot : this.root().consistentSnapshot;
    if (role === "root" || (consistent && role !== "timestamp")) writeFileSync(join(this.meta, `${md.signed.version}.${role}.json`), text);
  }
  // A new version of a targets role (top-level or delegated) from its JSON, edited by `edit`.
  writeTargets(role: string, edit: (json: Record<string, any>) => void): void {
    const json = this.targets(role).toJSON() as Record<string, any>;
    edit(json);
    json.version += 1;
    json.expires = this.expires(role);
    this.write(role, new Metadata(Targets.fromJSON(json)));
  }
  // New snapshot (naming every targets role's current version) and timestamp (naming the snapshot's).
  snapshotAndTimestamp(bumpSnapshot = true): void {
    let snapshot = this.read("snapshot").signed as Snapshot;
    if (bumpSnapshot) {
      const meta = Object.fromEntries(["targets", ...this.delegated()].map((r) => [`${r}.json`, new MetaFile({ version: this.targets(r).version })]));
      snapshot = new Snapshot({ version: snapshot.version + 1, specVersion: SPEC, expires: this.expires("snapshot"), meta });
      this.write("snapshot", new Metadata(snapshot));
    }
    const old = this.read("timestamp").signed as Timestamp;
    const timestamp = new Timestamp({ version: old.version + 1, specVersion: SPEC, expires: this.expires("timestamp"), snapshotMeta: new MetaFile({ version: snapshot.version }) });
    this.write("timestamp", new Metadata(timestamp));
  }
}

function init(repo: Repo, threshold: Map<string, number>, consistent: boolean): void {
  const keys: Record<string, unknown> = {};
  const roles: Record<string, JsonRole> = {};
  for (const role of TOP) {
    const signers = repo.signers.get(role) ?? fail(`init needs a key for every role: --key ${role}=FILE`);
    for (const s of signers) keys[s.key.keyID] = s.key.toJSON();
    roles[role] = roleOf(role, [...new Set(signers.map((s) => s.key.keyID))], threshold.get(role) ?? 1);
  }
  for (const role of threshold.keys()) if (!isTop(role)) fail(`init: --threshold ${role}: expected a top-level role; set a delegated role's with delegate`);
  const root = Root.fromJSON({ _type: "root", spec_version: SPEC, version: 1, expires: repo.expires("root"), consistent_snapshot: consistent, keys: keys as never, roles: roles as never });
  repo.write("root", new Metadata(root));
  repo.write("targets", new Metadata(new Targets({ version: 1, specVersion: SPEC, expires: repo.expires("targets") })));
  repo.write("snapshot", new Metadata(new Snapshot({ version: 1, specVersion: SPEC, expires: repo.expires("snapshot"), meta: { "targets.json": new MetaFile({ version: 1 }) } })));
  repo.write("timestamp", new Metadata(new Timestamp({ version: 1, specVersion: SPEC, expires: repo.expires("timestamp"), snapshotMeta: new MetaFile({ version: 1 }) })));
  mkdirSync(join(repo.dir, "targets"), { recursive: true });
}

function addTarget(repo: Repo, role: string, path: string, file: string, custom: Record<string, unknown>): void {
  if (role !== "targets" && !repo.delegated().includes(role)) fail(`--role ${role}: targets delegates to no such role (delegated: ${repo.delegated().join(", ") || "none"})`);
  const delegation = role === "targets" ? undefined : repo.targets().delegations!.roles![role]!;
  // Published anyway (a test plays a rogue delegate so), but no client will take it from this role.
  if (delegation && !delegation.isDelegatedPath(path)) console.error(`tuf-repo: warning: ${role} is trusted only for ${delegation.paths?.join(", ")}: clients will not take ${path} from it`);
  const bytes = readFileSync(file);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const target = new TargetFile({ path, length: bytes.length, hashes: { sha256 }, unrecognizedFields: { custom: custom as never } });
  const dest = join(repo.dir, "targets", path);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(file, dest);
  if (repo.root().consistentSnapshot) copyFileSync(file, join(dirname(dest), `${sha256}.${path.split("/").pop()}`));
  repo.writeTargets(role, (json) => (json.targets = { ...json.targets, [path]: target.toJSON() }));
  repo.snapshotAndTimestamp();
}

// targets N+1 trusts NAME (its keys, threshold) for PATTERNS; NAME's own metadata starts empty, signed by its keys.
function delegate(repo: Repo, name: string, patterns: string[], threshold: Map<string, number>, terminating: boolean): void {
  if (isTop(name) || !ROLE_NAME.test(name)) fail(`delegate: ${JSON.stringify(name)} cannot name a delegated role (letters, digits, . _ -; not a top-level role)`);
  if (repo.delegated().includes(name)) fail(`delegate: targets already delegates to ${name}; change its keys with tuf-repo keys`);
  if (!patterns.length) fail("delegate: name the paths NAME is trusted for, e.g. 'nightly/*'");
  for (const role of threshold.keys()) if (role !== name) fail(`delegate: --threshold ${role}: delegate sets ${name}'s only; change another role's with tuf-repo keys`);
  const signers = repo.keysOf(name);
  repo.writeTargets("targets", (json) => {
    const d = (json.delegations ??= { keys: {}, roles: [] });
    for (const s of signers) d.keys[s.key.keyID] = s.key.toJSON();
    d.roles.push({ name, ...roleOf(name, [...new Set(signers.map((s) => s.key.keyID))], threshold.get(name) ?? 1), terminating, paths: patterns });
  });
  repo.write(name, new Metadata(new Targets({ version: 1, specVersion: SPEC, expires: repo.expires(name) })));
  repo.snapshotAndTimestamp();
}

interface KeyChanges {
  add: [string, Signer][];
  remove: [string, Signer][];
  threshold: Map<string, number>;
  /** the role whose keys are all replaced by the added ones (rotate) */
  replace?: string;
}

// Edit each named role's keys and threshold: a top-level role's in root N+1, a delegated one's in targets.
function changeKeys(repo: Repo, c: KeyChanges): void {
  const named = new Set([...c.add, ...c.remove].map(([r]) => r).concat([...c.threshold.keys()]));
  if (!named.size) fail("keys: nothing to change; give --add ROLE=FILE, --remove ROLE=FILE or --threshold ROLE=N");
  const edit = (roles: Record<string, JsonRole>, keys: Record<string, unknown>) => {
    for (const role of named) {
      const old = roles[role]!;
      const gone = new Set(c.remove.filter(([r]) => r === role).map(([, s]) => s.key.keyID));
      const added = c.add.filter(([r]) => r === role).map(([, s]) => s);
      for (const s of added) keys[s.key.keyID] = s.key.toJSON();
      const ids = [...new Set([...(c.replace === role ? [] : old.keyids.filter((id) => !gone.has(id))), ...added.map((s) => s.key.keyID)])];
      Object.assign(old, roleOf(role, ids, c.threshold.get(role) ?? old.threshold));
    }
    const used = new Set(Object.values(roles).flatMap((r) => r.keyids));
    for (const id of Object.keys(keys)) if (!used.has(id)) delete keys[id];
  };
  const top = [...named].filter(isTop);
  const delegated = [...named].filter((r) => !isTop(r));
  for (const role of delegated) if (!repo.delegated().includes(role)) fail(`${role}: no such role (top-level: ${TOP.join(", ")}; delegated: ${repo.delegated().join(", ") || "none"})`);
  if (top.length) {
    const json = repo.root().toJSON() as Record<string, any>;
    edit(json.roles, json.keys);
    json.version += 1;
    json.expires = repo.expires("root");
    // Root N+1 must verify with root N's keys and with its own: sign with the current and the added root keys.
    const signers = [...repo.keysOf("root"), ...c.add.filter(([r, s]) => r === "root" && s.private).map(([, s]) => s)];
    repo.write("root", new Metadata(Root.fromJSON(json)), signers);
  }
  if (delegated.length) {
    repo.writeTargets("targets", (json) => {
      const roles = Object.fromEntries((json.delegations.roles as JsonRole[]).map((r) => [r.name!, r]));
      edit(roles, json.delegations.keys);
    });
    repo.snapshotAndTimestamp();
  }
}

function bump(repo: Repo, roles: string[]): void {
  const targetsRoles = ["targets", ...repo.delegated()];
  if (!roles.length || roles.some((r) => ![...targetsRoles, "snapshot", "timestamp"].includes(r))) fail(`bump: name one or more of ${[...targetsRoles, "snapshot", "timestamp"].join(", ")}`);
  for (const role of roles.filter((r) => targetsRoles.includes(r))) repo.writeTargets(role, () => {});
  repo.snapshotAndTimestamp(roles.some((r) => r !== "timestamp"));
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    key: { type: "string", multiple: true }, add: { type: "string", multiple: true }, remove: { type: "string", multiple: true },
    threshold: { type: "string", multiple: true }, custom: { type: "string" }, role: { type: "string" }, expires: { type: "string" },
    consistent: { type: "boolean" }, terminating: { type: "boolean" },
  },
});
const [command, dir, ...rest] = positionals;
if (!command || !dir) fail("usage: tuf-repo init|add-target|delegate|keys|rotate|bump REPO ... (see the head of scripts/tuf-repo.ts)");
const signers = new Map<string, Signer[]>();
for (const [role, file] of pairs("key", values.key)) signers.set(role, [...(signers.get(role) ?? []), signerOf(file)]);
const days = values.expires === undefined ? undefined : Number(values.expires);
if (days !== undefined && !Number.isFinite(days)) fail(`--expires: expected days, got ${JSON.stringify(values.expires)}`);
const repo = new Repo(dir, signers, days);
const threshold = thresholds(values.threshold);
const named = (option: "add" | "remove") => pairs(option, values[option]).map(([role, file]): [string, Signer] => [role, signerOf(file)]);
if (command === "init") init(repo, threshold, values.consistent === true);
else if (command === "add-target") {
  const [path, file] = rest;
  if (!path || !file) fail("usage: tuf-repo add-target REPO PATH FILE --custom JSON [--role NAME] --key …");
  let custom: unknown;
  try {
    custom = JSON.parse(values.custom ?? "");
  } catch {
    fail(`--custom: expected a JSON object such as '{"version": "1.2.0"}', got ${JSON.stringify(values.custom ?? "")}`);
  }
  if (!custom || typeof custom !== "object" || Array.isArray(custom)) fail("--custom: expected a JSON object");
  addTarget(repo, values.role ?? "targets", path, file, custom as Record<string, unknown>);
} else if (command === "delegate") delegate(repo, rest[0] ?? fail("usage: tuf-repo delegate REPO NAME PATTERN... --key NAME=FILE …"), rest.slice(1), threshold, values.terminating === true);
else if (command === "keys") changeKeys(repo, { add: named("add"), remove: named("remove"), threshold });
else if (command === "rotate") {
  const [role, file] = [rest[0] ?? "", rest[1] ?? fail("usage: tuf-repo rotate REPO ROLE NEW.pem --key root=FILE")];
  changeKeys(repo, { add: [[role, signerOf(file)]], remove: [], threshold, replace: role });
} else if (command === "bump") bump(repo, rest);
else fail(`unknown command ${JSON.stringify(command)}; expected init, add-target, delegate, keys, rotate or bump`);
