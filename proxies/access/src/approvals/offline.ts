// The offline side of approvals: checking signed decisions in a ledger. `affidavit verify`
// imports this entry (`@affidavit/access/decisions`), not the package's index, which would
// load the PostgreSQL parser and the identity verifier an offline check never uses.
export { verifyApprovalDecisions } from './verify-decisions.ts';
export type { ApprovalDecisionsReport, DecisionFinding } from './verify-decisions.ts';
export { canonicalDecision, commandDigest, signedDecisionOf, verifyDecisionSignature, DECISION_CONTEXT } from './decision-signature.ts';
export type { DecisionVerifier, SignedDecision, SignatureCheck } from './decision-signature.ts';
