// MFA derivation from the `amr` claim. IA-2(1) evidence depends on this flag, so the rule is
// conservative: a single factor never counts, whatever its strength.
//
// SPEC: https://www.rfc-editor.org/rfc/rfc8176#section-2
//   "mfa: Multiple-factor authentication [NIST.800-63-2] [ISO29115]. When this is present,
//    specific authentication methods used may also be included."

/** AUTH_FACTOR_CATEGORY maps RFC 8176 `amr` values to the factor category they prove. */
export const AUTH_FACTOR_CATEGORY: Readonly<Record<string, 'knowledge' | 'possession' | 'inherence'>> = Object.freeze({
  // something you know
  pwd: 'knowledge',
  pin: 'knowledge',
  kba: 'knowledge',
  // something you have
  otp: 'possession',
  sms: 'possession',
  tel: 'possession',
  hwk: 'possession',
  swk: 'possession',
  sc: 'possession',
  pop: 'possession',
  // something you are
  fpt: 'inherence',
  face: 'inherence',
  iris: 'inherence',
  retina: 'inherence',
  vbm: 'inherence',
});

/**
 * deriveMfa tells whether an `amr` list proves multi-factor authentication.
 *
 * Rule: true when `amr` contains `mfa`, or when its values span at least two different factor
 * categories of AUTH_FACTOR_CATEGORY (knowledge, possession, inherence). So `['pwd','otp']`,
 * `['hwk','pin']`, `['swk','pin']`, `['hwk','fpt']` are MFA; `['otp']`, `['hwk']`, `['pwd','kba']`
 * (two things you know) are not. Values that are not factors (`user`, `geo`, `rba`, `mca`, `wia`)
 * and unknown values count for nothing. An IdP that did password + OTP but reports only `otp`
 * MUST be configured to send both values, or `mfa`; we do not guess.
 */
export function deriveMfa(amr: readonly string[]): boolean {
  if (amr.includes('mfa')) return true;
  const categories = new Set<string>();
  for (const m of amr) {
    const c = Object.hasOwn(AUTH_FACTOR_CATEGORY, m) ? AUTH_FACTOR_CATEGORY[m] : undefined;
    if (c !== undefined) categories.add(c);
  }
  return categories.size >= 2;
}
