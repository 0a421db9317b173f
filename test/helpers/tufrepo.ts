// A TUF repository made by scripts/tuf-repo (real keys, real signatures) and served by an
// UpdateServer on 127.0.0.1 as /metadata/… and /targets/…; `copy()` keeps a day's state
// for replay and mix-and-match attacks.
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ROOT } from "./otter.ts";
import type { UpdateServer } from "./updateserver.ts";

export type Role = "root" | "targets" | "snapshot" | "timestamp";
/** key files by role (a top-level or delegated role's name); several keys sign with each */
export type Keys = Partial<Record<string, string | string[]>>;

export class TufRepo {
  readonly dir = mkdtempSync(join(tmpdir(), "otter-tuf-"));
  readonly repo = join(this.dir, "repo");
  /** the PEM private keys each role signs with now */
  readonly keys: Record<string, string[]>;
  private n = 0;

  /** `keys`: how many keys a top-level role starts with (1); `threshold`: how many must sign (1). */
  constructor(private readonly server: UpdateServer, opts: { consistent?: boolean; keys?: Partial<Record<Role, number>>; threshold?: Partial<Record<Role, number>> } = {}) {
    const roles: Role[] = ["root", "targets", "snapshot", "timestamp"];
    this.keys = Object.fromEntries(roles.map((r) => [r, Array.from({ length: opts.keys?.[r] ?? 1 }, () => this.newKey())]));
    const thresholds = Object.entries(opts.threshold ?? {}).flatMap(([r, n]) => ["--threshold", `${r}=${n}`]);
    this.tool(["init", this.repo, ...this.keyArgs(roles), ...thresholds, ...(opts.consistent ? ["--consistent"] : [])]);
  }

  /** the root a device pins: version 1 */
  get root(): string {
    return join(this.repo, "metadata", "1.root.json");
  }

  get channelUrl(): string {
    return `tuf+${this.server.url}/metadata`;
  }

  /** A fresh ed25519 key file. */
  newKey(): string {
    const file = join(this.dir, `key${this.n++}.pem`);
    writeFileSync(file, generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }));
    return file;
  }

  /** --key ROLE=FILE for each of `roles`: `keys`' files where given, else the role's own. */
  keyArgs(roles: string[], keys: Keys = {}): string[] {
    return roles.flatMap((r) => [keys[r] ?? this.keys[r] ?? []].flat().flatMap((k) => ["--key", `${r}=${k}`]));
  }

  /** Run scripts/tuf-repo; throws with its stderr on failure. */
  tool(args: string[]): void {
    const r = spawnSync(join(ROOT, "scripts/tuf-repo"), args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tuf-repo ${args.join(" ")}: ${r.stderr}`);
  }

  /** Publish `body` as target PATH (e.g. release/image) with these custom fields in `role`'s metadata; served at once. */
  add(path: string, body: string | Uint8Array, custom: Record<string, unknown>, keys: Keys = {}, role = "targets"): void {
    const file = join(this.dir, `body${this.n++}`);
    writeFileSync(file, body);
    const which = role === "targets" ? [] : ["--role", role];
    this.tool(["add-target", this.repo, path, file, "--custom", JSON.stringify(custom), ...which, ...this.keyArgs([role, "snapshot", "timestamp"], keys)]);
    this.serve();
  }

  /** New versions of `roles` (snapshot and timestamp follow), expiring in `days`. */
  bump(roles: string[], days?: number, keys: Keys = {}): void {
    const signers = [...new Set([...roles, "snapshot", "timestamp"])];
    this.tool(["bump", this.repo, ...roles, ...this.keyArgs(signers, keys), ...(days === undefined ? [] : [`--expires=${days}`])]);
    this.serve();
  }

  /** targets delegates `name` (its own `keys` fresh keys, `threshold` of them to sign) for `paths`. */
  delegate(name: string, paths: string[], opts: { keys?: number; threshold?: number } = {}): void {
    this.keys[name] = Array.from({ length: opts.keys ?? 1 }, () => this.newKey());
    const threshold = opts.threshold ? ["--threshold", `${name}=${opts.threshold}`] : [];
    this.tool(["delegate", this.repo, name, ...paths, ...threshold, ...this.keyArgs([name, "targets", "snapshot", "timestamp"])]);
    this.serve();
  }

  /** `count` fresh keys more for top-level `role` and its threshold set (root N+1); returns them. */
  addKeys(role: Role, count: number, threshold: number): string[] {
    const fresh = Array.from({ length: count }, () => this.newKey());
    this.tool(["keys", this.repo, ...fresh.flatMap((k) => ["--add", `${role}=${k}`]), "--threshold", `${role}=${threshold}`, ...this.keyArgs(["root"])]);
    this.keys[role]!.push(...fresh);
    this.serve();
    return fresh;
  }

  /** Root N+1 replaces `role`'s key with a new one (signed by the current root key); returns the old key. */
  rotate(role: Role): string {
    const [old] = this.keys[role]!;
    const fresh = this.newKey();
    const rootKeys = role === "root" ? ["--key", `root=${old}`, "--key", `root=${fresh}`] : this.keyArgs(["root"]);
    this.tool(["rotate", this.repo, role, fresh, ...rootKeys]);
    this.keys[role] = [fresh];
    this.serve();
    return old!;
  }

  /** A copy of the repository as it is now (a day's state). */
  copy(): string {
    const to = join(this.dir, `day${this.n++}`);
    cpSync(this.repo, to, { recursive: true });
    return to;
  }

  /** Serve the repository (or `from`, a copy) as it is on disk now. */
  serve(from = this.repo): void {
    for (const key of [...this.server.files.keys()]) if (key.startsWith("/metadata/") || key.startsWith("/targets/")) this.server.files.delete(key);
    for (const file of walk(from)) this.server.files.set(`/${relative(from, file)}`, new Uint8Array(readFileSync(file)));
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
