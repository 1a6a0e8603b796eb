export { decide, evolve, fold, initialState } from './approval-decider.ts';
export type { ApprovalRequest, ApprovalState, ApprovalCommand, ApprovalFact } from './approval-decider.ts';
export { ApprovalGate } from './approval-gate.ts';
export type { Decision, DecisionSource, HoldRequest } from './approval-gate.ts';
export {
  SelfApprovalError,
  NotAnApproverError,
  ApprovalAlreadyDecidedError,
  ApprovalExpiredError,
  UnknownApprovalError,
  ApprovalJustificationError,
} from './errors.ts';
export { busDecisionSource, decisionsIn } from './bus-decision-source.ts';
