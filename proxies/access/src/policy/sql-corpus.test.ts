import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SqlClassifier } from './classify-sql.ts';
import { evaluate } from './evaluate.ts';
import { FIXTURES_DIR } from '../../../../test/fixtures/policies.ts';
import { parsePolicy } from './load-policy.ts';
import { PreparedRegistry } from './prepared-registry.ts';
import { initSqlParser, parsePostgres } from './sql-parser.ts';
import type { Action } from './types.ts';

type Case = { sql: string; expect: Action; note: string };
const corpus = parse(readFileSync(join(FIXTURES_DIR, 'sql-corpus.yaml'), 'utf8')) as { policy: string; cases: Case[] };
const policy = parsePolicy(readFileSync(join(FIXTURES_DIR, corpus.policy), 'utf8'), { source: corpus.policy });
await initSqlParser();
const classifier = new SqlClassifier({ parse: parsePostgres });

test('the SQL corpus holds at least 200 statements covering every action', () => {
  assert.ok(corpus.cases.length >= 200, `only ${corpus.cases.length} cases`);
  for (const a of ['allow', 'deny', 'mask', 'require-approval']) {
    assert.ok(
      corpus.cases.some((c) => c.expect === a),
      `no case expects ${a}`,
    );
  }
});

for (const [i, c] of corpus.cases.entries()) {
  test(`sql corpus #${i} ${c.expect}: ${JSON.stringify(c.sql).slice(0, 90)}`, () => {
    const registry = new PreparedRegistry();
    const classification = registry.apply(classifier.classify(c.sql));
    const d = evaluate(policy, { target: { kind: 'postgres', resource: 'demo' }, groups: ['engineers'], classification });
    assert.equal(d.action, c.expect, `${c.note}: got ${d.action} by ${d.ruleId} (${d.reason})`);
    if (d.action === 'mask') {
      assert.deepEqual([...d.masks!.columns].sort(), ['card_number', 'email']);
      assert.equal(d.capture, true);
    }
    if (d.action === 'require-approval') assert.deepEqual(d.approvers, ['approvers']);
  });
}
