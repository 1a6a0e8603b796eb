/**
 * AffidavitError is the base of every error the product raises on purpose.
 *
 * Each subclass carries a stable `code` (`AFF_E_*`, listed in docs/errors.md so a
 * user can look it up), whether retrying the same operation may succeed
 * (`retriable`, as in kafkajs) and the underlying `cause`. Adapters MUST translate
 * driver errors into one of these; callers branch on `code`, never on messages.
 */
export class AffidavitError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = opts.retriable ?? false;
  }

  /** toJSON keeps code and cause when the error is logged by pino or sent over HTTP. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retriable: this.retriable };
  }
}

/** isAffidavitError narrows an unknown thrown value, optionally to one code. */
export function isAffidavitError(e: unknown, code?: string): e is AffidavitError {
  return e instanceof AffidavitError && (code === undefined || e.code === code);
}
