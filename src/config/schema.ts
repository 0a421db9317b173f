// The one table of config keys: section, key, type, default, doc. It drives parsing,
// validation, `otter check-config` and docs/configuration.md's config reference.
import { hostname } from "node:os";
import { join } from "node:path";

export type Kind =
  | "string" | "int" | "number" | "bool" | "seconds" | "hours" | "bytes"
  | "path" | "file" | "executable" | "list" | "lines" | "level" | "source";

export interface Row {
  section: string;
  key: string;
  kind: Kind;
  /** The default, as it would be written in the file; undefined = unset. A function gets
   * the values of the rows above it (SCHEMA order) and `docDef` says what it computes. */
  def?: string | ((read: Record<string, Record<string, unknown>>) => string);
  docDef?: string;
  doc: string;
  aliases?: readonly string[];
  secret?: boolean;
  /** Smallest value accepted, for numbers. */
  min?: number;
  /** Largest value accepted, for numbers. */
  max?: number;
  /** The example shown in an error message when there is no default. */
  eg?: string;
}

export const SCHEMA = [
  // [service]
  { section: "service", key: "log_level", kind: "level", def: "WARNING", doc: "DEBUG, INFO, WARNING, ERROR (EXCEPTION is read as ERROR)" },
  { section: "service", key: "sentry", kind: "string", aliases: ["sentry_dsn"], secret: true, doc: "Sentry DSN; errors and failed jobs are sent there" },
  { section: "service", key: "state_dir", kind: "path", def: "/var/lib/otter", doc: "journal, history and lock (env OTTER_STATE_DIR overrides)" },
  {
    section: "service", key: "download_location", kind: "path", def: (read) => join(String(read.service!.state_dir), "downloads"), docDef: "STATE_DIR/downloads",
    doc: "where downloads land and archives unpack; must be otter's own (created 0700, or root's and not writable by others, all the way up). Persistent storage lets downloads resume across reboots",
  },
  { section: "service", key: "source", kind: "source", def: "auto", doc: "aws, manifest or auto (manifest when [channels] lists any, else aws)" },
  { section: "service", key: "check_interval", kind: "seconds", def: "3600", min: 1, doc: "how often to ask for updates" },
  { section: "service", key: "check_jitter", kind: "seconds", def: "300", min: 0, doc: "random extra delay before each check, the first one after a start included (--once: only with --jitter), to spread a fleet's load" },
  { section: "service", key: "max_starts", kind: "int", def: "5", min: 1, doc: "starts of one job's same phase before it is failed as a loop (reboot loop guard)" },
  { section: "service", key: "report_url", kind: "string", doc: "manifest mode: URL that receives a JSON POST per status change" },
  { section: "service", key: "progress_interval", kind: "seconds", def: "15", min: 0, doc: "at most one progress report (download, install) per this many seconds" },
  { section: "service", key: "report_timeout", kind: "seconds", def: "30", min: 0, doc: "--once: wait this long for reports to be acknowledged; undelivered ones stay queued (exit 3)" },
  { section: "service", key: "history_size", kind: "int", def: "50", min: 1, doc: "finished jobs kept for `otter status`" },
  // [broker]
  { section: "broker", key: "host", kind: "string", def: "127.0.0.1", doc: "MQTT broker (AWS IoT endpoint)" },
  { section: "broker", key: "port", kind: "int", min: 1, max: 65535, eg: "8883", doc: "default 1883, or 8883 when cafile/certfile/keyfile are set" },
  { section: "broker", key: "thing_name", kind: "string", def: () => hostname(), doc: "AWS IoT thing name (-t overrides)" },
  { section: "broker", key: "client_id", kind: "string", doc: "MQTT client id; default the thing name (Upparat's fixed \"upparat\" makes AWS drop devices that share it)" },
  { section: "broker", key: "cafile", kind: "file", doc: "CA for the broker; cafile, certfile and keyfile turn on mutual TLS" },
  { section: "broker", key: "certfile", kind: "file", doc: "client certificate" },
  { section: "broker", key: "keyfile", kind: "file", secret: true, doc: "client private key" },
  { section: "broker", key: "keepalive", kind: "seconds", def: "60", min: 5, doc: "MQTT keepalive" },
  { section: "broker", key: "reconnect_cap", kind: "seconds", def: "120", min: 1, doc: "longest wait before trying the broker again; each wait is random within a window that starts at 1 s and doubles per failed attempt (full jitter), so a fleet whose broker restarts comes back spread out. A connection dropped within 30 s of connecting (another client with this client_id) counts as a failed attempt" },
  { section: "broker", key: "answer_timeout", kind: "seconds", def: "30", min: 1, doc: "wait this long for an accepted/rejected answer (or the broker) before retrying" },
  { section: "broker", key: "job_prefix", kind: "string", def: "upparat_", doc: "only jobs whose id starts with this are taken" },
  { section: "broker", key: "step_timeout", kind: "int", min: 1, eg: "30", doc: "minutes; sent as stepTimeoutInMinutes with each update" },
  // [hooks]
  { section: "hooks", key: "version", kind: "executable", doc: "prints the installed version" },
  { section: "hooks", key: "download", kind: "executable", doc: "may postpone the download (exit 3)" },
  { section: "hooks", key: "install", kind: "executable", doc: "installs the file; must be idempotent (it reruns after a crash)" },
  { section: "hooks", key: "restart", kind: "executable", doc: "restarts the device or service" },
  { section: "hooks", key: "ready", kind: "executable", doc: "checks the new version works" },
  { section: "hooks", key: "rollback", kind: "executable", doc: "otter's addition: run when install, restart, version or ready fails for good; its last argument names that phase" },
  { section: "hooks", key: "retry_interval", kind: "seconds", def: "60", min: 0, doc: "wait after a hook exits 3" },
  { section: "hooks", key: "max_retries", kind: "int", def: "60", min: 1, doc: "runs of a hook that keeps exiting 3 before it fails" },
  { section: "hooks", key: "timeout", kind: "seconds", def: "3600", min: 1, doc: "longest a hook may run before its process group is killed" },
  { section: "hooks", key: "version_timeout", kind: "seconds", def: "60", min: 1, doc: "timeout for the version hook" },
  { section: "hooks", key: "ready_timeout", kind: "seconds", def: "600", min: 1, doc: "timeout for the ready hook" },
  { section: "hooks", key: "kill_grace", kind: "seconds", def: "10", min: 0, doc: "between SIGTERM and SIGKILL for a hook past its timeout" },
  // [download]
  { section: "download", key: "max_file_size", kind: "bytes", def: "4G", min: 1, doc: "largest file accepted (checked on Content-Length and while streaming)" },
  { section: "download", key: "allow_http", kind: "bool", def: "false", doc: "allow plain http:// URLs (file:// needs no flag: local files are read only for a file:// channel or otter install PATH)" },
  { section: "download", key: "connect_timeout", kind: "seconds", def: "30", min: 1, doc: "time to get response headers" },
  { section: "download", key: "stall_timeout", kind: "seconds", def: "60", min: 1, doc: "no byte for this long is a stall" },
  { section: "download", key: "low_speed_limit", kind: "bytes", def: "1K", min: 0, doc: "bytes/s; slower than this over low_speed_time is a stall (retried), so a server trickling bytes cannot hold a job: a download of S bytes ends within about S / low_speed_limit plus retries (0 = off; at most half of bandwidth_limit)" },
  { section: "download", key: "low_speed_time", kind: "seconds", def: "60", min: 1, doc: "the window low_speed_limit is measured over" },
  { section: "download", key: "retry_base", kind: "seconds", def: "60", min: 0, doc: "first backoff after an attempt without progress (full jitter, doubling); an attempt that moved the file on retries after 1-2 s; a server's Retry-After wins" },
  { section: "download", key: "retry_cap", kind: "seconds", def: "600", min: 0, doc: "longest wait between attempts (Retry-After included)" },
  { section: "download", key: "max_attempts", kind: "int", def: "10", min: 1, doc: "attempts in a row without progress (64 KiB) before the download fails" },
  { section: "download", key: "budget_factor", kind: "number", def: "3", min: 1, doc: "bytes fetched per job may be at most this times the file size" },
  { section: "download", key: "bandwidth_limit", kind: "bytes", def: "0", min: 0, doc: "bytes/s cap for metered links (0 = none)" },
  { section: "download", key: "sync_interval", kind: "bytes", def: "16M", min: 65536, max: 1073741824, doc: "fdatasync the part file and record the resume point every this many bytes (or 2 s); at most 1.5 times this is fetched again after a power cut (a killed otter keeps every byte written). Larger costs less CPU; smaller keeps less unwritten data in RAM" },
  { section: "download", key: "cafile", kind: "file", doc: "CA for HTTPS: files, manifests and report_url" },
  { section: "download", key: "certfile", kind: "file", doc: "client certificate for HTTPS: files, manifests and report_url (see credential_origins)" },
  { section: "download", key: "keyfile", kind: "file", secret: true, doc: "client key for certfile" },
  { section: "download", key: "headers", kind: "lines", secret: true, doc: "extra request headers for files, manifests and report_url, one \"Name: value\" per line" },
  { section: "download", key: "credential_origins", kind: "list", def: "", doc: "headers, certfile and URL user:password@ go only to the origins (scheme://host:port) of the channels and report_url, and to these (e.g. an AWS job's file server); a redirect elsewhere drops them" },
  // [verify]
  { section: "verify", key: "require_signature", kind: "bool", doc: "refuse files without a valid detached signature; unset: required when public_key or ca is set" },
  { section: "verify", key: "require_sha256", kind: "bool", def: "false", doc: "refuse updates that name no sha256 (AWS jobs may leave it out, as Upparat's do)" },
  { section: "verify", key: "public_key", kind: "file", doc: "PEM public key that signs updates" },
  { section: "verify", key: "ca", kind: "file", doc: "PEM CA that a signer certificate carried in the job must chain to" },
  { section: "verify", key: "max_unpacked_size", kind: "bytes", def: "16G", min: 1, doc: "archives: total unpacked size cap" },
  { section: "verify", key: "max_ratio", kind: "number", def: "200", min: 1, doc: "archives: unpacked/packed ratio cap (bomb guard); headers and names count as unpacked bytes" },
  { section: "verify", key: "max_entries", kind: "int", def: "100000", min: 1, doc: "archives: most files, folders and links created (each an inode; folders a path implies count too)" },
  // [policy]
  { section: "policy", key: "priority", kind: "list", def: "release, weekly, nightly", doc: "channels, highest priority first" },
  { section: "policy", key: "test_period", kind: "hours", def: "168", min: 0, doc: "after this long any newer offer may replace the running image" },
  { section: "policy", key: "min_soak", kind: "hours", def: "30", min: 0, doc: "an image runs at least this long before an update replaces it" },
  { section: "policy", key: "new_overrides_old", kind: "list", def: "", doc: "channels whose newer offer may replace the same channel before test_period" },
  { section: "policy", key: "approvals", kind: "bool", def: "false", doc: "updates wait for `otter approve ID`" },
  { section: "policy", key: "auto_approve_after", kind: "hours", min: 0, eg: "24", doc: "approve a pending update after this long (hours, or 2s, 90m) unless denied" },
  { section: "policy", key: "window", kind: "string", doc: "when updates may start, e.g. \"Mon-Fri 02:00-05:00, Sat 00:00-24:00\" (local time)" },
  { section: "policy", key: "download_outside_window", kind: "bool", def: "true", doc: "download outside the window, install inside it" },
  { section: "policy", key: "board", kind: "string", doc: "this device's board/model" },
  { section: "policy", key: "board_file", kind: "path", doc: "read the board from this file (first line)" },
  { section: "policy", key: "board_command", kind: "string", doc: "read the board from this command's output" },
  { section: "policy", key: "workload", kind: "string", doc: "command the daemon runs and supervises after a successful ready check; its death allows an immediate reflash" },
  { section: "policy", key: "allow_downgrade", kind: "bool", def: "false", doc: "let channel offers older than the running version (or than the newest accepted from their channel) install; off, anti-rollback refuses them unless an operator forces one" },
  { section: "policy", key: "max_reflashes", kind: "int", def: "3", min: 1, doc: "immediate reflashes in a row (workload died, ready failed) before the device waits for an update by the other rules: a board that kills every image is not flashed forever" },
  // [tuf]
  { section: "tuf", key: "trusted_root", kind: "file", doc: "the TUF repository's trusted root.json, pinned on the device; required by a tuf+https:// channel. Later roots come signed by it (rotation)" },
  { section: "tuf", key: "targets_url", kind: "string", eg: "https://updates.example.com/targets/", doc: "where the repository's target files are; default: `targets/` beside the metadata URL" },
  { section: "tuf", key: "target", kind: "string", def: "image", doc: "each TUF channel offers the target CHANNEL/TARGET (e.g. release/image); its custom fields carry version, boards, meta, force, archive" },
] as const satisfies readonly Row[];

/** Sections whose keys are free-form names (not in SCHEMA). */
export const FREE_SECTIONS = ["channels"] as const;

export type SchemaRow = (typeof SCHEMA)[number];
