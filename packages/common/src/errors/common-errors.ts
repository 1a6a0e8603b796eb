import { defineError } from './catalogue.ts';

/** ConfigInvalidError: a configuration object failed its JSON Schema or a cross-field rule. */
export const ConfigInvalidError = defineError('AFF_E_CONFIG_INVALID', 'configuration is invalid');
/** BackpressureError: a bounded buffer or queue is full; the caller must refuse, never drop. */
export const BackpressureError = defineError('AFF_E_BACKPRESSURE', 'too much work in flight; refused rather than dropped', {
  retriable: true,
});
/** TimeoutError: an operation did not finish within its bound. */
export const TimeoutError = defineError('AFF_E_TIMEOUT', 'operation timed out', { retriable: true });
/** ShutdownError: the component is closing and takes no new work. */
export const ShutdownError = defineError('AFF_E_SHUTDOWN', 'component is shutting down');
