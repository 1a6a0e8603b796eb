// The API's DecisionSignatureVerifier over the access core's decision signatures
// (proxies/access/src/approvals/decision-signature.ts), so `signatureValid` checks exactly what
// the gate and `affidavit verify` check.
import { commandDigest, signedDecisionOf, verifyDecisionSignature, type DecisionVerifier } from '@affidavit/access';
import type { DecisionSignatureVerifier } from './ports.ts';

/**
 * decisionSignatureVerifier is the DecisionSignatureVerifier over the access core's decision
 * signatures: valid when a trusted decision key signed the canonical form of the decision for
 * the command text the request held. Expired decisions and decisions whose request is not in the
 * ledger are never valid (there is nothing signed to check them against).
 */
export function decisionSignatureVerifier(keys: readonly DecisionVerifier[]): DecisionSignatureVerifier {
  return {
    verify(decided, requested) {
      if (!requested) return false;
      const signed = signedDecisionOf(decided, commandDigest(requested.text));
      return signed !== null && verifyDecisionSignature(signed, decided.signature, keys).ok;
    },
  };
}
