import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAffidavitError } from '@affidavit/common';
import { identityFromClaims } from './identity.ts';
import { deriveMfa, AUTH_FACTOR_CATEGORY } from './mfa.ts';
import { readClaimPath } from './claim-path.ts';

const base = { iss: 'https://idp.test', sub: 'alice', exp: 2_000_000_000, iat: 1_999_999_000 };

describe('groups claim paths', () => {
  const cases: Array<[string, Record<string, unknown>, string, string[]]> = [
    ['top-level groups', { groups: ['a', 'b'] }, 'groups', ['a', 'b']],
    ['Keycloak realm_access.roles', { realm_access: { roles: ['dba'] } }, 'realm_access.roles', ['dba']],
    ['deeper path', { resource_access: { affidavit: { roles: ['x'] } } }, 'resource_access.affidavit.roles', ['x']],
    ['namespaced claim name with dots wins', { 'https://example.com/groups': ['ns'] }, 'https://example.com/groups', ['ns']],
    ['absent claim gives no groups', {}, 'groups', []],
    ['absent nested parent gives no groups', { realm_access: 'nope' }, 'realm_access.roles', []],
    ['a single string is one group', { groups: 'solo' }, 'groups', ['solo']],
    ['duplicates are removed', { groups: ['a', 'a', 'b'] }, 'groups', ['a', 'b']],
    ['null is no groups', { groups: null }, 'groups', []],
  ];
  for (const [name, extra, path, want] of cases) {
    test(name, () => {
      assert.deepEqual(identityFromClaims({ ...base, ...extra }, path).groups, want);
    });
  }

  test('a path never follows inherited properties', () => {
    assert.equal(readClaimPath({ a: {} }, 'a.constructor'), undefined);
    assert.equal(readClaimPath({}, '__proto__'), undefined);
    assert.equal(readClaimPath({ a: [1, 2] }, 'a.length'), undefined);
  });

  test('wrong types are refused with AFF_E_AUTH_CLAIM_INVALID', () => {
    for (const groups of [1, { a: 1 }, [1], ['x', null], Array(300).fill('g')]) {
      assert.throws(
        () => identityFromClaims({ ...base, groups }, 'groups'),
        (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_CLAIM_INVALID'),
      );
    }
  });
});

describe('identity fields', () => {
  test('maps claims and converts seconds to milliseconds', () => {
    const id = identityFromClaims({ ...base, email: 'a@x.test', acr: 'urn:acr:2', jti: 'j1', amr: ['hwk', 'pin'] }, 'groups');
    assert.deepEqual(
      { ...id },
      {
        issuer: 'https://idp.test',
        subject: 'alice',
        email: 'a@x.test',
        groups: [],
        amr: ['hwk', 'pin'],
        acr: 'urn:acr:2',
        mfa: true,
        tokenId: 'j1',
        expiresAt: 2_000_000_000_000,
        issuedAt: 1_999_999_000_000,
      },
    );
  });

  test('optional claims are omitted, not undefined-valued', () => {
    const id = identityFromClaims(base, 'groups');
    assert.deepEqual(Object.keys(id).sort(), ['amr', 'expiresAt', 'groups', 'issuedAt', 'issuer', 'mfa', 'subject']);
  });

  test('an email that is not a string is refused', () => {
    assert.throws(
      () => identityFromClaims({ ...base, email: ['a'] }, 'groups'),
      (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_CLAIM_INVALID'),
    );
  });
});

describe('deriveMfa', () => {
  const table: Array<[string[], boolean]> = [
    [[], false],
    [['pwd'], false],
    [['otp'], false],
    [['hwk'], false],
    [['pwd', 'kba'], false], // two things you know are one factor category
    [['otp', 'sms'], false], // two things you have, likewise
    [['user', 'geo', 'rba', 'mca', 'wia'], false],
    [['mfa'], true],
    [['pwd', 'otp'], true],
    [['pwd', 'sms'], true],
    [['hwk', 'pin'], true],
    [['swk', 'pin'], true],
    [['hwk', 'fpt'], true],
    [['face', 'pwd'], true],
    [['pwd', 'otp', 'hwk'], true],
  ];
  for (const [amr, want] of table) {
    test(`${JSON.stringify(amr)} → ${want}`, () => assert.equal(deriveMfa(amr), want));
  }

  test('property: adding amr values never turns MFA off', () => {
    const value = fc.oneof(fc.constantFrom(...Object.keys(AUTH_FACTOR_CATEGORY), 'mfa', 'user', 'geo'), fc.string({ maxLength: 6 }));
    fc.assert(fc.property(fc.array(value, { maxLength: 6 }), fc.array(value, { maxLength: 6 }), (a, b) => !deriveMfa(a) || deriveMfa([...a, ...b])));
  });

  test('property: values of one factor category alone are never MFA', () => {
    const categories = ['knowledge', 'possession', 'inherence'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...categories), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (cat, picks) => {
        const members = Object.keys(AUTH_FACTOR_CATEGORY).filter((k) => AUTH_FACTOR_CATEGORY[k] === cat);
        return !deriveMfa(picks.map((i) => members[i % members.length]));
      }),
    );
  });

  test('inherited names such as "constructor" are not factors', () => {
    assert.equal(deriveMfa(['constructor', 'toString']), false);
  });
});
