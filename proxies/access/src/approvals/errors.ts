import { defineError } from '@affidavit/common';

/** SelfApprovalError: separation of duties — nobody approves their own request. */
export const SelfApprovalError = defineError('AFF_E_APPROVAL_SELF', 'you cannot decide your own approval request (separation of duties)');
/** NotAnApproverError: the decider is not in any group allowed to approve this request. */
export const NotAnApproverError = defineError('AFF_E_APPROVAL_NOT_APPROVER', 'you are not in a group allowed to decide this request');
/** ApprovalAlreadyDecidedError: a request is decided once. */
export const ApprovalAlreadyDecidedError = defineError('AFF_E_APPROVAL_DECIDED', 'this request was already decided');
/** ApprovalExpiredError: the request timed out before the decision. */
export const ApprovalExpiredError = defineError('AFF_E_APPROVAL_EXPIRED', 'this request expired before it was decided');
/** UnknownApprovalError: no pending request has this id. */
export const UnknownApprovalError = defineError('AFF_E_APPROVAL_UNKNOWN', 'no approval request with this id');
/** ApprovalJustificationError: a decision needs a justification for the audit trail. */
export const ApprovalJustificationError = defineError('AFF_E_APPROVAL_JUSTIFICATION', 'a decision needs a justification');
/** DecisionSignatureError: a decision is not signed by a trusted decision key over this request and command (forged, altered or replayed). */
export const DecisionSignatureError = defineError('AFF_E_APPROVAL_SIGNATURE', 'the decision is not signed by a trusted decision key for this request');
/** ApprovalCommandMismatchError: the decision names another statement (command digest) than the one held. */
export const ApprovalCommandMismatchError = defineError('AFF_E_APPROVAL_COMMAND_MISMATCH', 'the decision names another statement than the one held');
