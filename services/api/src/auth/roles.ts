// Roles come from the token's groups (DESIGN "API"): auditor reads, approver decides, admin does
// everything. Pure: the group names are configuration.
import type { Identity } from '@affidavit/access';

/** Role is what a caller may do through the API. */
export type Role = 'auditor' | 'approver' | 'admin';

/** RoleGroups names, per role, the groups that grant it (any one suffices). */
export type RoleGroups = { readonly auditor: readonly string[]; readonly approver: readonly string[]; readonly admin: readonly string[] };

/** DEFAULT_ROLE_GROUPS grants each role to the group of the same name. */
export const DEFAULT_ROLE_GROUPS: RoleGroups = Object.freeze({ auditor: ['auditor'], approver: ['approver'], admin: ['admin'] });

/** rolesOf returns the roles an identity holds; `admin` implies the others. */
export function rolesOf(identity: Pick<Identity, 'groups'>, groups: RoleGroups): ReadonlySet<Role> {
  const has = (names: readonly string[]) => identity.groups.some((g) => names.includes(g));
  if (has(groups.admin)) return new Set<Role>(['admin', 'auditor', 'approver']);
  const out = new Set<Role>();
  if (has(groups.auditor)) out.add('auditor');
  if (has(groups.approver)) out.add('approver');
  return out;
}
