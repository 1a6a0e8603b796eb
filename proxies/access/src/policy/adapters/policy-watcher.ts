import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadPolicyFile, policyCheck } from './policy-check.ts';
import type { Policy, PolicyFinding } from '../load-policy.ts';

/** WatcherLogger is the part of a pino logger the watcher uses (injected). */
export type WatcherLogger = {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

/** PolicyWatcherOptions configure a PolicyWatcher. */
export type PolicyWatcherOptions = {
  readonly path: string;
  readonly logger: WatcherLogger;
  /** debounceMs waits for a burst of writes (editors save in several steps) to settle. */
  readonly debounceMs?: number;
  readonly detectors?: readonly string[];
  /** onChange is called with each new policy that was applied. */
  readonly onChange?: (policy: Policy) => void;
  /** onRejected is called when a changed file was invalid and the previous policy kept. */
  readonly onRejected?: (findings: readonly PolicyFinding[]) => void;
};

/** DEFAULT_POLICY_DEBOUNCE_MS is the default settling time after a change. */
export const DEFAULT_POLICY_DEBOUNCE_MS = 200;

/**
 * PolicyWatcher holds the current policy of a file and reloads it when the file changes.
 * A new file that fails validation MUST NOT replace the policy in force: the watcher keeps
 * the previous one and logs every finding. It watches the directory, not the file, because
 * editors often save by writing a new file and renaming it over the old one.
 */
export class PolicyWatcher {
  #policy: Policy;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<boolean> = Promise.resolve(true);
  readonly #opts: PolicyWatcherOptions;

  private constructor(policy: Policy, opts: PolicyWatcherOptions) {
    this.#policy = policy;
    this.#opts = opts;
  }

  /** start loads the file (throwing PolicyInvalidError when it is invalid) and begins watching. */
  static async start(opts: PolicyWatcherOptions): Promise<PolicyWatcher> {
    const policy = await loadPolicyFile(opts.path, opts.detectors ? { detectors: opts.detectors } : {});
    const w = new PolicyWatcher(policy, opts);
    const name = basename(opts.path);
    w.#watcher = watch(dirname(opts.path), { persistent: false }, (_event, file) => {
      if (file === null || file === name) w.#schedule();
    });
    w.#watcher.on('error', (e) => opts.logger.error({ err: e, path: opts.path }, 'policy watcher failed'));
    opts.logger.info({ path: opts.path, rules: policy.rules.length }, 'policy loaded');
    return w;
  }

  /** current is the policy in force. */
  get current(): Policy {
    return this.#policy;
  }

  /** reload re-reads the file now; resolves true when a new policy was applied. */
  reload(): Promise<boolean> {
    this.#reloading = this.#reloading.then(() => this.#load());
    return this.#reloading;
  }

  /** close stops watching; the current policy stays readable. */
  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.reload(), this.#opts.debounceMs ?? DEFAULT_POLICY_DEBOUNCE_MS);
  }

  async #load(): Promise<boolean> {
    const { path, logger } = this.#opts;
    const r = await policyCheck(path, this.#opts.detectors ? { detectors: this.#opts.detectors } : {});
    if (!r.policy) {
      const errors = r.findings.filter((f) => f.severity === 'error');
      logger.warn({ path, findings: errors }, 'policy change rejected; the previous policy stays in force');
      this.#opts.onRejected?.(errors);
      return false;
    }
    this.#policy = r.policy;
    logger.info({ path, rules: r.policy.rules.length, warnings: r.findings.length }, 'policy reloaded');
    this.#opts.onChange?.(r.policy);
    return true;
  }
}
