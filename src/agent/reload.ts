// SIGHUP (`systemctl reload otter`): read the config file again at once. A file otter cannot
// use is refused there and then, in one line, and the running config stays. A good one waits
// until no job runs, because a job keeps the config it started with; the loop then switches
// to it (agent.ts). state_dir cannot change this way: the lock and the journal live there.
import { ConfigError, describe } from "../base/errors.ts";
import { log } from "../base/log.ts";
import type { Config } from "../config/config.ts";

export class Reload {
  private staged?: Config;
  /** a new config waits: the loop wakes to take it */
  onStaged = () => {};

  constructor(
    /** read and check the config file, as at start */
    private readonly read: () => Config,
    /** the running config's: the one thing a reload cannot change */
    private readonly stateDir: string,
  ) {}

  /** SIGHUP: read the file now. Returns the line for the log and systemd's status. */
  request(): string {
    try {
      const next = this.read();
      if (next.service.state_dir !== this.stateDir) {
        throw new ConfigError(`state_dir changed from ${this.stateDir} to ${next.service.state_dir}; a reload cannot move the lock and the journal: restart otter to use it`);
      }
      this.staged = next;
    } catch (err) {
      const line = `config reload refused, otter goes on with the config it has: ${describe(err)}`;
      log.error(line);
      return line;
    }
    this.onStaged();
    const line = "config re-read; it applies when no job runs";
    log.info(line);
    return line;
  }

  /** The new config to switch to, once (undefined when none waits). */
  take(): Config | undefined {
    const next = this.staged;
    this.staged = undefined;
    return next;
  }
}
