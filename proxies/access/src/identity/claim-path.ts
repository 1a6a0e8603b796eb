/**
 * readClaimPath reads a dotted path such as `realm_access.roles` from a claims object.
 *
 * A top-level claim whose name itself contains dots (e.g. `https://example.com/groups`, as Auth0
 * namespaces custom claims) wins over the nested reading, because claim names are opaque strings.
 * It MUST only follow own properties, so `__proto__` or `constructor` in a path reads nothing.
 */
export function readClaimPath(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
