import { AffidavitError } from './affidavit-error.ts';

/** ErrorSpec is one row of the error catalogue. */
export type ErrorSpec = {
  readonly code: string;
  readonly summary: string;
  readonly retriable: boolean;
};

const catalogue = new Map<string, ErrorSpec>();

/**
 * defineError registers a code in the catalogue and returns a typed error class for it.
 *
 * Codes MUST be unique and match `AFF_E_[A-Z0-9_]+`; a duplicate is a programming error
 * and throws at import time so two modules can never claim one code. docs/errors.md MUST
 * list every registered code (enforced by errors-doc.test.ts).
 */
export function defineError(code: string, summary: string, opts: { retriable?: boolean } = {}) {
  if (!/^AFF_E_[A-Z0-9_]+$/.test(code)) throw new TypeError(`bad error code ${code}`);
  if (catalogue.has(code)) throw new TypeError(`error code ${code} defined twice`);
  const retriable = opts.retriable ?? false;
  catalogue.set(code, Object.freeze({ code, summary, retriable }));
  return class extends AffidavitError {
    static readonly code = code;
    constructor(message: string = summary, o: { cause?: unknown; retriable?: boolean } = {}) {
      super(code, message, { retriable: o.retriable ?? retriable, cause: o.cause });
    }
  };
}

/** registeredErrors lists every code defined so far (by modules that were imported). */
export function registeredErrors(): readonly ErrorSpec[] {
  return [...catalogue.values()];
}
