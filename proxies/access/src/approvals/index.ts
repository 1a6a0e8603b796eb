export { decide, evolve, fold, initialState } from './approval-decider.ts';
export type { ApprovalRequest, ApprovalState, ApprovalCommand, ApprovalFact } from './approval-decider.ts';
export { ApprovalGate } from './approval-gate.ts';
export type { ApprovalGateDeps, Decision, DecisionSource, HoldRequest, ReceivedDecision } from './approval-gate.ts';
export { canonicalDecision, commandDigest, signDecision, signedDecisionOf, verifyDecisionSignature, DECISION_CONTEXT } from './decision-signature.ts';
export type { DecisionSigner, DecisionVerifier, SignedDecision, SignatureCheck } from './decision-signature.ts';
export { approvalRefusedEvent, sinkRefusalRecorder, UNKNOWN_TARGET } from './refusal-recorder.ts';
export type { Refusal, RecordRefusal } from './refusal-recorder.ts';
export { verifyApprovalDecisions } from './verify-decisions.ts';
export type { ApprovalDecisionsReport, DecisionFinding } from './verify-decisions.ts';
export {
  SelfApprovalError,
  NotAnApproverError,
  ApprovalAlreadyDecidedError,
  ApprovalExpiredError,
  UnknownApprovalError,
  ApprovalJustificationError,
  DecisionSignatureError,
  ApprovalCommandMismatchError,
} from './errors.ts';
export { busDecisionSource, decisionsIn } from './bus-decision-source.ts';
export { ApprovalBook } from './approval-book.ts';
export { followApprovalBook } from './approval-book-follower.ts';
export { approvalDecisionService } from './decision-service.ts';
export type { ApprovalDecisionService, ApprovalDecisionDeps, DecisionRequest, DecisionAccepted } from './decision-service.ts';
