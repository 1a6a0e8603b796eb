import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  awsAccessKeyIdDetector,
  cardNumberDetector,
  emailDetector,
  githubTokenDetector,
  ibanChecksumValid,
  ibanDetector,
  jwtDetector,
  luhnValid,
  privateKeyDetector,
  slackTokenDetector,
  stripeKeyDetector,
  usSsnDetector,
  BUILTIN_DETECTORS,
  DETECTOR_GROUPS,
  expandDetectorNames,
  findSpans,
} from './index.ts';
import type { Detector, Span } from './types.ts';

function found(d: Detector, text: string): string[] {
  const out: Span[] = [];
  d.find(text, out);
  return out.map((s) => text.slice(s.start, s.end));
}

function cases(d: Detector, yes: readonly string[], no: readonly string[]): void {
  for (const v of yes) {
    test(`${d.name} finds ${JSON.stringify(v.slice(0, 40))} alone and inside text`, () => {
      assert.deepEqual(found(d, v), [v]);
      assert.deepEqual(found(d, `before (${v}), after`), [v]);
      assert.deepEqual(found(d, `${v}\n${v}`), [v, v]);
    });
  }
  for (const v of no) {
    test(`${d.name} ignores ${JSON.stringify(v.slice(0, 40))}`, () => {
      assert.deepEqual(found(d, v), []);
      assert.deepEqual(found(d, `x ${v} y`), []);
    });
  }
}

// Public test card numbers (Visa, Mastercard, American Express, Discover test numbers as
// published in payment providers' documentation, e.g. https://docs.stripe.com/testing).
const TEST_CARDS = [
  '4111111111111111',
  '4242424242424242',
  '4012888888881881',
  '5555555555554444',
  '5105105105105100',
  '2223003122003222',
  '378282246310005',
  '371449635398431',
  '6011111111111117',
  '3530111333300000',
  '4111 1111 1111 1111',
  '5555-5555-5555-4444',
  '3782 822463 10005',
];

describe('card-number', () => {
  test('luhnValid accepts the test cards and rejects a changed digit', () => {
    for (const c of TEST_CARDS) assert.equal(luhnValid(c), true, c);
    assert.equal(luhnValid('4111111111111112'), false);
    assert.equal(luhnValid('79927398713'), true); // the classic Luhn example (ISO/IEC 7812-1)
    assert.equal(luhnValid('79927398710'), false);
  });
  cases(cardNumberDetector(), TEST_CARDS, [
    '4111111111111112', // Luhn fails
    '5555555555554445',
    '411111111111', // 12 digits
    '41111111111111111111', // 20 digits
    '9999999999999995', // passes Luhn, no known IIN
    '1234567812345670', // passes Luhn, IIN 1 is not a card scheme
    '4111111111111111.50', // a decimal number
    'ab4111111111111111', // glued to letters
    '4111  1111 1111 1111', // double space breaks the run
    '2024-01-15 10:30:00',
    '+1 415-555-0132',
  ]);
  test('without the IIN check any Luhn-valid 13–19 digits count', () => {
    assert.deepEqual(found(cardNumberDetector({ requireKnownIin: false }), 'id 9999999999999995'), ['9999999999999995']);
  });
});

describe('email', () => {
  cases(
    emailDetector(),
    ['alice@example.com', 'first.last+tag@sub.example.co.uk', "o'brien@example.ie", 'X_Y-1@mail-host.example.org'],
    ['user@localhost', 'a@b', '@example.com', 'x@1.2.3.4', 'foo@bar.c', 'foo@.example.com', 'foo@example..com', 'no at sign here'],
  );
  test('strips delimiters and a sentence dot', () => {
    assert.deepEqual(found(emailDetector(), 'Write to <bob@example.com>. Or "carol@example.org",'), ['bob@example.com', 'carol@example.org']);
  });
});

// Example IBANs published by banks and the ECBS (GB82WEST12345698765432 is ECBS's example).
const IBANS = [
  'GB82WEST12345698765432',
  'DE89370400440532013000',
  'FR1420041010050500013M02606',
  'NL91ABNA0417164300',
  'BE68539007547034',
  'CH9300762011623852957',
  'GB82 WEST 1234 5698 7654 32',
];

describe('iban', () => {
  test('ibanChecksumValid implements mod-97 == 1', () => {
    assert.equal(ibanChecksumValid('GB82WEST12345698765432'), true);
    assert.equal(ibanChecksumValid('GB82WEST12345698765433'), false);
    assert.equal(ibanChecksumValid('GB83WEST12345698765432'), false);
  });
  cases(ibanDetector(), IBANS, [
    'GB82WEST12345698765433', // checksum
    'GB82WEST1234569876543', // one short for GB
    'GB82WEST123456987654321', // one long
    'XX82WEST12345698765432', // no such country
    'gb82west12345698765432', // lower case
    'ABC12',
  ]);
});

describe('us-ssn', () => {
  cases(
    usSsnDetector(),
    ['536-22-8765', '078-05-1120', '899-99-9999'],
    [
      '000-12-3456',
      '666-12-3456',
      '900-12-3456',
      '987-65-4321',
      '123-00-4567',
      '123-45-0000',
      '536228765', // no dashes
      '1-536-22-8765', // part of a longer dashed number
      '536-22-8765-1',
      '555-123-4567', // a phone number
      '2024-01-15',
    ],
  );
});

// The example token of RFC 7519 §3.1 (HS256, header {"typ":"JWT",\r\n "alg":"HS256"}).
const RFC7519_JWT =
  'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const UNSECURED = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.`;

describe('jwt', () => {
  cases(
    jwtDetector(),
    [RFC7519_JWT, UNSECURED],
    [
      `${Buffer.from('{"typ":"JWT"}').toString('base64url')}.eyJzdWIiOiJhIn0.c2ln`, // header without alg
      `${Buffer.from('[1,2]').toString('base64url')}.eyJzdWIiOiJhIn0.c2ln`,
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0', // two parts
      'version.1.2',
      'eyes.are.blue',
    ],
  );
  test('a JWT after "Bearer " in a header line', () => {
    assert.deepEqual(found(jwtDetector(), `Authorization: Bearer ${RFC7519_JWT}`), [RFC7519_JWT]);
  });
});

const GITHUB_CLASSIC = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
const GITHUB_FINE = `github_pat_11ABCDEFG0${'a1B2c3D4e5'.repeat(7)}_xyzXYZ0123a`.slice(0, 11 + 82);

describe('API keys', () => {
  cases(
    awsAccessKeyIdDetector(),
    ['AKIAIOSFODNN7EXAMPLE', 'ASIAY34FZKBOKMUTVV7A'],
    ['AKIAIOSFODNN7EXAMPL', 'XAKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLEX', 'AKIAiosfodnn7example'],
  );
  cases(
    githubTokenDetector(),
    [GITHUB_CLASSIC, 'gho_16C7e42F292c6912E7710c838347Ae178B4a', GITHUB_FINE],
    ['ghp_short', 'ghx_16C7e42F292c6912E7710c838347Ae178B4a', `${GITHUB_CLASSIC}Z`],
  );
  cases(
    slackTokenDetector(),
    ['xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'xoxp-1234567890-abcdef'],
    ['xoxc-123456789012-1234567890123', 'xoxb-short', 'xoxb_123456789012345'],
  );
  cases(
    stripeKeyDetector(),
    ['sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'rk_live_51HabcDEFghiJKLmno'],
    ['sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'pk_live_4eC39HqLyjWDarjtT1zdp7dc', 'sk_live_short'],
  );
  test('the fine-grained GitHub token fixture is 82 characters after the prefix', () => {
    assert.equal(GITHUB_FINE.length, 'github_pat_'.length + 82);
  });
});

describe('private-key', () => {
  const pkcs8 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString().trim();
  const pub = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString().trim();
  cases(privateKeyDetector(), [pkcs8, rsa], [pub, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----']);
  test('a key inside JSON text (escaped newlines) is found whole', () => {
    const json = JSON.stringify({ key: pkcs8 });
    const spans = found(privateKeyDetector(), json);
    assert.equal(spans.length, 1);
    assert.ok(spans[0].startsWith('-----BEGIN PRIVATE KEY-----') && spans[0].endsWith('-----END PRIVATE KEY-----'));
  });
  test('a truncated key is masked to the end of the value', () => {
    const cut = pkcs8.slice(0, 50);
    assert.deepEqual(found(privateKeyDetector(), `x ${cut}`), [cut]);
  });
});

describe('registry', () => {
  test('groups expand to built-in detectors and unknown names are reported', () => {
    const { names, unknown } = expandDetectorNames(['secret', 'email', 'jwt', 'nope']);
    assert.deepEqual(names, [...DETECTOR_GROUPS.secret, 'email']);
    assert.deepEqual(unknown, ['nope']);
    assert.equal(expandDetectorNames(['all']).names.length, BUILTIN_DETECTORS.size);
    assert.deepEqual(expandDetectorNames(['toString', '__proto__']).unknown, ['toString', '__proto__']);
  });
  test('findSpans merges detectors and drops overlaps, keeping the earlier and longer span', () => {
    const all = [...BUILTIN_DETECTORS.values()];
    const text = `mail bob@example.com card 4111-1111-1111-1111 key AKIAIOSFODNN7EXAMPLE`;
    const spans = findSpans(text, all);
    assert.deepEqual(
      spans.map((s) => s.detector),
      ['email', 'card-number', 'aws-access-key-id'],
    );
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i].start >= spans[i - 1].end);
    assert.equal(findSpans('plain text 12345', all).length, 0);
  });
});

// Bounded work: hostile values that would make backtracking regular expressions or naive
// rescans quadratic. Each must come back with the right answer; the run of the suite shows
// they are fast (no timing assertion, which would be flaky on a loaded machine).
describe('hostile inputs', () => {
  const all = [...BUILTIN_DETECTORS.values()];
  const hostile: Record<string, string> = {
    'many ey': 'ey'.repeat(200_000),
    'one long base64url run after ey': `ey${'A'.repeat(400_000)}.${'B'.repeat(10)}`,
    'many at signs': 'a@'.repeat(200_000),
    'long domain run': `a@${'b'.repeat(400_000)}`,
    'digits and spaces': '1 '.repeat(200_000),
    'IBAN-like prefixes': 'GB82'.repeat(100_000),
    dashes: '-'.repeat(400_000),
    'many BEGINs, one far suffix': `${'-----BEGIN '.repeat(40_000)}x PRIVATE KEY-----`,
    'token prefixes': 'ghp_AKIAxoxb-sk_live_'.repeat(20_000),
  };
  for (const [name, text] of Object.entries(hostile)) {
    test(`${name} (${text.length} units) finds nothing secret-shaped wrongly`, () => {
      const spans = findSpans(text, all);
      for (const s of spans) assert.ok(s.end <= text.length && s.start < s.end);
      if (name !== 'many BEGINs, one far suffix') assert.equal(spans.length, 0, name);
    });
  }
});
