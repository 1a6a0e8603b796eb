// Ports the API consumes (STYLE rule 1: ports at the consumer). The composition root (the CLI)
// wires them: the decision service, the reveal service and the signature verifier to the access
// core's approval and masking modules, the recorder to the event sink that feeds the ledger.
import type { AuthenticationFailure, Identity } from '@affidavit/access';
import type { AffidavitError } from '@affidavit/common';
import type { ApprovalDecided, ApprovalRequested, DataMasked } from '@affidavit/schemas';

/** DecideRequest is one approver's decision as the API received it. */
export type DecideRequest = {
  readonly requestId: string;
  readonly decision: 'approved' | 'denied';
  readonly justification: string;
  /** approver is the verified identity of the caller (never taken from the arguments). */
  readonly approver: Identity;
  /** tokenId is the `jti` of the approver's access token, when it has one. */
  readonly tokenId: string | null;
  /** token is the bearer token the approver presented, for a decision service that verifies it again itself. */
  readonly token: string;
};

/** DecideResult is what the decision service accepted; `decidedAt` is Unix milliseconds. */
export type DecideResult = { readonly requestId: string; readonly decision: 'approved' | 'denied'; readonly decidedAt: number };

/**
 * DecisionService accepts a decision. It MUST check the decision's rules itself (requester is
 * not the approver, approver group, expiry, decided once) and resolve to `{ error }` with a typed
 * AffidavitError (AFF_E_APPROVAL_*) when they fail; the API shows that error's code and message.
 */
export type DecisionService = {
  decide(request: DecideRequest): Promise<DecideResult | { readonly error: AffidavitError }>;
  /**
   * refused records an attempt the API refused before the rules ran (the caller lacks the
   * approver role), so every attempt to decide is on the record. It MUST NOT resolve before the
   * refusal is recorded; the API answers with `error` whether or not it is given.
   */
  refused?(request: DecideRequest, error: AffidavitError): Promise<void>;
};

/** RevealRequest asks to open value `index` of a DataMasked event; `event` is that event, read from the ledger by the API. */
export type RevealRequest = {
  readonly event: DataMasked;
  readonly index: number;
  readonly reason: string;
  /** opener is the verified identity of the caller (never taken from the arguments). */
  readonly opener: Identity;
};

/** RevealResult is the clear value; `recordedAs` is the eventId of its MaskedValueOpened. */
export type RevealResult = { readonly value: string; readonly column: string; readonly row: number; readonly recordedAs: string };

/**
 * RevealService opens a masked value. It MUST have the opening (MaskedValueOpened) durably in the
 * ledger before it resolves with the value, and resolve to `{ error }` with a typed
 * AffidavitError (AFF_E_MASK_*) when the value cannot be opened.
 */
export type RevealService = {
  reveal(request: RevealRequest): Promise<RevealResult | { readonly error: AffidavitError }>;
};

/**
 * DecisionSignatureVerifier checks an ApprovalDecided event's signature (null when the API has
 * none: `signatureValid` is then null). `requested` is the request it answers, when the ledger holds it.
 */
export type DecisionSignatureVerifier = {
  verify(decided: ApprovalDecided, requested: ApprovalRequested | undefined): boolean | Promise<boolean>;
};

/** RequestOrigin is what the API knows about where a refused request came from. */
export type RequestOrigin = { readonly address: string; readonly port: number | null; readonly userAgent: string | null };

/**
 * AuthFailureRecorder records a refused API token (an AuthenticationFailed event in the ledger).
 * It MUST NOT throw; the API answers 401 whether or not recording succeeded.
 */
export type AuthFailureRecorder = (failure: AuthenticationFailure, origin: RequestOrigin) => void | Promise<void>;
