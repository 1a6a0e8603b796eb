// Every ledger record type, in the variants that change the mapping (no identity yet, SSH
// target, each outcome and decision), is mapped and validated against the compiled OCSF 1.5.0
// schema (required attributes, enum values and captions, types, constraints, type_uid). The
// validator itself is shown to catch each kind of mistake, so a passing run means something.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLE_ACTOR, encodeEvent, exampleEvent, LEDGER_RECORD_TYPES, type LedgerRecord } from '@affidavit/schemas';
import { loadOcsfSchema } from '../ocsf-schema-file.ts';
import { type LedgerEntryInput, MAX_TEXT_CHARS, mapEntry, OCSF_VERSION, siemKeyOf } from './map-entry.ts';
import { ocsfValidator } from './validate-ocsf.ts';

const schema = loadOcsfSchema();
const validator = ocsfValidator(schema);
const PRODUCT = { name: 'Affidavit', vendorName: 'Affidavit', version: '0.1.0' };
const CHECKPOINT = { origin: 'siem.test/affidavit.session-events.v1:0', size: 10, rootHash: Buffer.alloc(32, 7).toString('base64') };

const input = (record: LedgerRecord | undefined, over: Partial<LedgerEntryInput> = {}): LedgerEntryInput => ({
  log: 'affidavit.session-events.v1:0',
  index: 3,
  eventId: record?.eventId ?? 'rejected:t:0:9',
  appendedAt: 1_700_000_000_123,
  bytes: over.bytes ?? (record ? encodeEvent(record) : Buffer.from([1, 2, 3])),
  record,
  checkpoint: CHECKPOINT,
  ...over,
});

const SSH = { kind: 'ssh' as const, resource: 'bastion', host: 'bastion.internal', port: 22, database: null, login: 'ops' };

/** variants lists, per type, the events whose mapping differs. */
function variants(type: LedgerRecord['type']): LedgerRecord[] {
  const base = exampleEvent(type);
  const out: LedgerRecord[] = [base];
  if (type === 'InputRejected') return out;
  out.push(exampleEvent(type, { actor: null } as never));
  out.push(exampleEvent(type, { target: SSH, source: { address: '::1', port: null, application: null } } as never));
  out.push(exampleEvent(type, { source: { address: '/tmp/.s.PGSQL.5432', port: null, application: 'psql' } } as never));
  out.push(exampleEvent(type, { actor: { ...EXAMPLE_ACTOR, email: 'not an e-mail' } } as never));
  if (type === 'CommandCompleted') {
    out.push(exampleEvent('CommandCompleted', { outcome: 'error', errorCode: '42P01', errorMessage: 'relation does not exist' }));
    out.push(exampleEvent('CommandCompleted', { outcome: 'cancelled', rows: null }));
  }
  if (type === 'CommandIssued') {
    for (const decision of ['deny', 'mask', 'require_approval'] as const) out.push(exampleEvent('CommandIssued', { decision, ruleId: null }));
    for (const cls of ['insert', 'update', 'delete', 'ddl', 'copy-in']) out.push(exampleEvent('CommandIssued', { classes: [cls], parameters: ['1', null] }));
    out.push(exampleEvent('CommandIssued', { text: 'x'.repeat(MAX_TEXT_CHARS + 10) }));
  }
  if (type === 'CommandBlocked') out.push(exampleEvent('CommandBlocked', { ruleId: null }));
  if (type === 'ApprovalDecided') {
    out.push(exampleEvent('ApprovalDecided', { decision: 'denied' }));
    out.push(exampleEvent('ApprovalDecided', { decision: 'expired', approver: null, justification: '' }));
  }
  if (type === 'SessionEnded') out.push(exampleEvent('SessionEnded', { errorCode: 'AFF_E_PG_PROTOCOL_STATE', reason: 'protocol-error' }));
  if (type === 'AuthenticationFailed') out.push(exampleEvent('AuthenticationFailed', { actor: null, claimedSubject: null }));
  if (type === 'TerminalOutput') out.push(exampleEvent('TerminalOutput', { stream: 'stdin' }));
  if (type === 'DataMasked') {
    out.push(
      exampleEvent('DataMasked', {
        count: 1,
        masks: [{ column: 'email', row: 0, ruleId: 'mask-pii', detector: 'email', masked: 'a***@example.com', original: null }],
      }),
    );
  }
  return out;
}

const EXPECTED_CLASS: Record<LedgerRecord['type'], number> = {
  SessionStarted: 3002,
  AuthenticationFailed: 3002,
  SessionEnded: 3002,
  CommandIssued: 6005,
  CommandCompleted: 6005,
  CommandBlocked: 6005,
  ApprovalRequested: 6005,
  ApprovalDecided: 6005,
  ApprovalRefused: 6005,
  DataMasked: 6005,
  ResultCaptured: 6005,
  MaskedValueOpened: 6005,
  TerminalOutput: 4007,
  InputRejected: 0,
};

for (const type of LEDGER_RECORD_TYPES) {
  test(`${type}: every variant maps to a valid OCSF ${OCSF_VERSION} object of the expected class`, () => {
    for (const e of variants(type)) {
      const ocsf = mapEntry(input(e), PRODUCT);
      // JSON round trip: what goes on the wire is what is validated.
      const wire = JSON.parse(JSON.stringify(ocsf));
      assert.deepEqual(validator.validate(wire), [], `${type} ${JSON.stringify(e).slice(0, 200)}`);
      const ssh = (e as { target?: { kind: string } }).target?.kind === 'ssh';
      const expected = ssh && EXPECTED_CLASS[type] === 6005 ? 4007 : EXPECTED_CLASS[type];
      assert.equal(wire.class_uid, expected, `${type} class`);
      assert.equal(wire.metadata.uid, e.eventId, 'metadata.uid is the event id');
      assert.equal(wire.metadata.version, OCSF_VERSION);
      assert.equal(wire.metadata.product.name, 'Affidavit');
      assert.equal(wire.metadata.event_code, type, 'the raw type is named');
      assert.deepEqual(wire.unmapped.affidavit.ledger, { log: 'affidavit.session-events.v1:0', index: 3, appended_at: 1_700_000_000_123 });
      assert.deepEqual(wire.unmapped.affidavit.checkpoint, { origin: CHECKPOINT.origin, size: 10, root_hash: CHECKPOINT.rootHash });
      assert.equal(wire.time, Math.floor(e.occurredAt / 1000), 'time in epoch milliseconds');
    }
  });
}

test('logins and failures are Authentication Logon with success and failure status; session end is Logoff', () => {
  const ok = mapEntry(input(exampleEvent('SessionStarted')), PRODUCT);
  assert.equal(ok.type_uid, 300201);
  assert.equal(ok.status_id, 1);
  assert.deepEqual((ok.user as { uid: string }).uid, 'alice');
  const failed = mapEntry(input(exampleEvent('AuthenticationFailed', { actor: null })), PRODUCT);
  assert.equal(failed.type_uid, 300201);
  assert.equal(failed.status_id, 2);
  assert.equal(failed.status_code, 'AFF_E_AUTH_TOKEN_EXPIRED');
  assert.equal((failed.user as { name: string }).name, 'alice', 'the claimed subject');
  assert.equal((failed.unmapped as { affidavit: { user_is_claimed: boolean } }).affidavit.user_is_claimed, true);
  assert.equal(mapEntry(input(exampleEvent('SessionEnded')), PRODUCT).type_uid, 300202);
});

test('SQL commands are Datastore Activity with the statement, the decision and the rule', () => {
  const issued = mapEntry(input(exampleEvent('CommandIssued', { decision: 'deny', ruleId: 'no-ddl', classes: ['ddl'], text: 'drop table t' })), PRODUCT);
  assert.equal(issued.type_uid, 600506);
  assert.equal((issued.query_info as { query_string: string }).query_string, 'drop table t');
  assert.equal(issued.action_id, 2);
  assert.equal(issued.disposition_id, 2);
  assert.equal((issued.policy as { uid: string }).uid, 'no-ddl');
  const blocked = mapEntry(input(exampleEvent('CommandBlocked')), PRODUCT);
  assert.equal(blocked.disposition_id, 2);
  assert.equal(blocked.severity_id, 3);
  const held = mapEntry(input(exampleEvent('ApprovalRequested')), PRODUCT);
  assert.equal(held.disposition_id, 14, 'held for approval: Delayed');
  const decided = mapEntry(input(exampleEvent('ApprovalDecided')), PRODUCT);
  assert.equal(decided.disposition_id, 8, 'Approved');
  assert.equal((decided.actor as { user: { uid: string } }).user.uid, 'bob', 'the approver is the actor');
  const refused = mapEntry(input(exampleEvent('ApprovalRefused')), PRODUCT);
  assert.equal(refused.severity_id, 4, 'a refused decision is worth a look');
  assert.equal(refused.status_code, 'AFF_E_APPROVAL_SELF');
  const long = mapEntry(input(exampleEvent('CommandIssued', { text: 'y'.repeat(MAX_TEXT_CHARS * 2) })), PRODUCT);
  assert.equal((long.query_info as { query_string: string }).query_string.length, MAX_TEXT_CHARS);
  assert.equal((long.unmapped as { affidavit: { text_truncated: boolean } }).affidavit.text_truncated, true);
});

test('masking carries columns and rules, never the masked values or sealed originals', () => {
  const e = exampleEvent('DataMasked', {
    count: 1,
    masks: [{ column: 'email', row: 0, ruleId: 'mask-pii', detector: 'email', masked: 'a***@example.com', original: null }],
  });
  const json = JSON.stringify(mapEntry(input(e), PRODUCT));
  assert.ok(json.includes('"column":"email"'));
  assert.ok(!json.includes('a***@example.com'));
  const captured = JSON.stringify(mapEntry(input(exampleEvent('ResultCaptured')), PRODUCT));
  assert.ok(!captured.includes('a***@example.com'), 'captured rows stay in the ledger');
});

test('what cannot be mapped goes out as a Base Event naming the raw type, never dropped', () => {
  const rejected = mapEntry(input(exampleEvent('InputRejected'), { eventId: 'rejected:t:0:0' }), PRODUCT);
  assert.equal(rejected.class_uid, 0);
  assert.equal(rejected.activity_name, 'InputRejected');
  assert.equal((rejected.metadata as { uid: string }).uid, 'rejected:t:0:0');
  assert.deepEqual(validator.validate(JSON.parse(JSON.stringify(rejected))), []);

  const undecodable = mapEntry(input(undefined, { decodeError: { code: 'AFF_E_AVRO_UNKNOWN_FINGERPRINT', message: 'unknown writer schema' } }), PRODUCT);
  assert.equal(undecodable.class_uid, 0);
  assert.equal((undecodable.metadata as { event_code: string }).event_code, 'Undecodable');
  assert.equal(undecodable.raw_data, Buffer.from([1, 2, 3]).toString('base64'));
  assert.deepEqual(validator.validate(JSON.parse(JSON.stringify(undecodable))), []);

  // A type from a newer writer that this code has no case for (the switch's default).
  const future = { ...exampleEvent('SessionEnded'), type: 'SessionPaused' } as unknown as LedgerRecord;
  const unknown = mapEntry(input(future, { bytes: Buffer.from('newer writer') }), PRODUCT);
  assert.equal(unknown.class_uid, 0);
  assert.equal(unknown.activity_name, 'SessionPaused');
  assert.deepEqual(validator.validate(JSON.parse(JSON.stringify(unknown))), []);
});

test('objects are keyed by session; entries without one by their log', () => {
  assert.equal(siemKeyOf(input(exampleEvent('CommandIssued'))), exampleEvent('CommandIssued').sessionId);
  assert.equal(siemKeyOf(input(exampleEvent('InputRejected'))), 'ledger:affidavit.session-events.v1:0');
  assert.equal(siemKeyOf(input(undefined)), 'ledger:affidavit.session-events.v1:0');
});

test('the validator catches each kind of mistake (guards the guard)', () => {
  const good = JSON.parse(JSON.stringify(mapEntry(input(exampleEvent('CommandIssued')), PRODUCT)));
  assert.deepEqual(validator.validate(good), []);
  const broken = (edit: (o: Record<string, any>) => void) => {
    const o = structuredClone(good);
    edit(o);
    return validator.validate(o);
  };
  const has = (problems: string[], part: string) =>
    assert.ok(
      problems.some((p) => p.includes(part)),
      `${part} in ${JSON.stringify(problems)}`,
    );
  has(
    broken((o) => delete o.src_endpoint),
    'event.src_endpoint: required',
  );
  has(
    broken((o) => delete o.metadata.product),
    'event.metadata.product: required',
  );
  has(
    broken((o) => (o.activity_id = 42)),
    'event.activity_id: 42 is not one of',
  );
  has(
    broken((o) => (o.activity_name = 'Read')),
    'is not the caption of activity_id',
  );
  has(
    broken((o) => (o.type_uid = 600501)),
    'type_uid',
  );
  has(
    broken((o) => (o.time = '2024-01-01')),
    'event.time: timestamp_t must be an integer',
  );
  has(
    broken((o) => (o.severity_id = 2 ** 40)),
    '32-bit integer',
  );
  has(
    broken((o) => (o.src_endpoint.ip = 'not-an-ip')),
    'is not a valid ip_t',
  );
  has(
    broken((o) => (o.src_endpoint.port = 70000)),
    'outside 0..65535',
  );
  has(
    broken((o) => (o.affidavit_position = 3)),
    'not an attribute here',
  );
  has(
    broken((o) => delete o.database.type_id),
    'event.database.type_id: required',
  );
  has(
    broken((o) => (o.database = { type_id: 1 })),
    'needs at least one of name, uid',
  );
  has(
    broken((o) => (o.actor.user.groups = { name: 'x' })),
    'must be an array',
  );
  has(
    broken((o) => (o.category_uid = 3)),
    'category_uid',
  );
  has(
    broken((o) => (o.metadata.profiles = ['cloud'])),
    'event.cloud: required',
  );
  has(
    broken((o) => (o.class_uid = 9999)),
    'not a class of OCSF',
  );
});
