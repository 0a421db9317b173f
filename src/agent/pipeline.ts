// The update pipeline as one pure table: the states a job goes through, the outcomes a
// state's handler reports, and which state follows. No fs, net or process here.
//
//   versionCheck → downloadHook → download → verify → install → restart → confirmVersion → ready → report → done
//   any failure before install ends in report (FAILED); a failure from install on goes
//   through rollback first, except one found before the install hook ever ran ("refused":
//   nothing was installed, so nothing is rolled back). "skip" is a successful shortcut straight to report (version
//   already installed). verify and install go back to download when the
//   file they are to check is lost. There is no shortcut past the checks once
//   something was installed: success is reported only after version and ready.

export const STATES = [
  "versionCheck", "downloadHook", "download", "verify", "install", "restart",
  "confirmVersion", "ready", "rollback", "report", "done",
] as const;
export type State = (typeof STATES)[number];

/**
 * What a handler reports when it finishes. "notRestarted": otter was killed before the
 * restart hook returned and the old version still runs — the restart never happened, do it again.
 * "lost": the downloaded file is gone or changed on disk (a tmpfs emptied by a reboot), so
 * it is downloaded again: a local loss is never a failure of the update.
 * "refused": install failed before its hook ever ran (a TUF channel no longer signs the file,
 * the workload would not stop): the device is as it was.
 */
export const EVENTS = ["ok", "skip", "failed", "cancelled", "notRestarted", "lost", "refused"] as const;
export type Event = (typeof EVENTS)[number];

type Row = Partial<Record<Event, State>>;

export const transitions = {
  versionCheck: { ok: "downloadHook", skip: "report", failed: "report", cancelled: "report" },
  downloadHook: { ok: "download", failed: "report", cancelled: "report" },
  download: { ok: "verify", failed: "report", cancelled: "report" },
  verify: { ok: "install", failed: "report", cancelled: "report", lost: "download" },
  // Once install has started, a cancel no longer stops the job: it finishes and reports.
  install: { ok: "restart", failed: "rollback", refused: "report", lost: "download" },
  restart: { ok: "confirmVersion", failed: "rollback" },
  confirmVersion: { ok: "ready", failed: "rollback", notRestarted: "restart" },
  ready: { ok: "report", failed: "rollback" },
  rollback: { ok: "report", failed: "report" },
  report: { ok: "done" },
  done: {},
} as const satisfies Record<State, Row>;

/** The state after `state` reports `event`; throws on a pair the table does not have. */
export function next(state: State, event: Event): State {
  const to = (transitions[state] as Row)[event];
  if (!to) throw new Error(`pipeline: no transition from ${state} on ${event}`);
  return to;
}

/** Whether a cancel from the source may still stop a job in this state. */
export function cancellable(state: State): boolean {
  return "cancelled" in transitions[state];
}

/**
 * Where a job continues after otter was killed in `state` (crash, power cut, reboot).
 * The journal records a state *before* its work starts, so "killed in X" means X may have
 * run partly: every state reruns except restart, whose hook may have rebooted the device
 * on purpose — after it, the version is confirmed instead of restarting again.
 */
export function resumeFrom(state: State): State {
  return state === "restart" ? "confirmVersion" : state;
}
