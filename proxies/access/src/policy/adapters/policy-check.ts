import { readFile } from 'node:fs/promises';
import { analysePolicy } from '../load-policy.ts';
import type { AnalyseOptions, Policy, PolicyFinding } from '../load-policy.ts';
import { PolicyInvalidError } from '../errors.ts';

/** PolicyCheckResult is what `affidavit policy check FILE` prints: ok when no finding is an error. */
export type PolicyCheckResult = {
  readonly path: string;
  readonly ok: boolean;
  readonly findings: readonly PolicyFinding[];
  readonly policy?: Policy;
};

/**
 * policyCheck lints a policy file: YAML syntax, schema errors and unknown fields (with
 * their line), duplicate rule ids, undefined `@list` references, unknown detectors, and
 * rules shadowed by an earlier catch-all (warnings). It never throws for a bad file; an
 * unreadable file is one `io` finding.
 */
export async function policyCheck(path: string, opts: Omit<AnalyseOptions, 'source'> = {}): Promise<PolicyCheckResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return { path, ok: false, findings: [{ severity: 'error', code: 'io', message: `cannot read ${path}: ${(e as Error).message}` }] };
  }
  const { policy, findings } = analysePolicy(text, { ...opts, source: path });
  return { path, ok: policy !== undefined, findings, ...(policy ? { policy } : {}) };
}

/** loadPolicyFile reads and compiles a policy file, throwing PolicyInvalidError when it has errors. */
export async function loadPolicyFile(path: string, opts: Omit<AnalyseOptions, 'source'> = {}): Promise<Policy> {
  const r = await policyCheck(path, opts);
  if (!r.policy) {
    const errors = r.findings.filter((f) => f.severity === 'error');
    throw new PolicyInvalidError(`invalid policy ${path}: ${errors.map((f) => `${f.line !== undefined ? `line ${f.line}: ` : ''}${f.message}`).join('; ')}`);
  }
  return r.policy;
}
