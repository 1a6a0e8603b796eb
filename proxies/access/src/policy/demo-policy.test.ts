// The embedded demo policy against the spellings an analyst tries: database-qualified, quoted
// and unicode names, tables read through functions, catalog writes, server files. Real parser,
// real policy file, as the proxy evaluates them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SqlClassifier } from './classify-sql.ts';
import { evaluate } from './evaluate.ts';
import { DEMO_POLICY_FILE } from '../../../../test/fixtures/policies.ts';
import { parsePolicy } from './load-policy.ts';
import { initSqlParser, parsePostgres } from './sql-parser.ts';
import type { PolicyDecision, ResolutionContext } from './types.ts';

const policy = parsePolicy(readFileSync(DEMO_POLICY_FILE, 'utf8'), { source: 'default.policy.yaml' });
await initSqlParser();
const classifier = new SqlClassifier({ parse: parsePostgres });

// Both ways the proxy may call evaluate: with the target's database only (today's session),
// and with the session's real search_path as SHOW search_path gives it after login.
const sessions: Record<string, { database?: string; resolution?: ResolutionContext }> = {
  'target database only': { database: 'demo' },
  'session search_path': { resolution: { database: 'demo', searchPath: ['$user', 'public'], user: 'app' } },
};

function decide(sql: string, s: { database?: string; resolution?: ResolutionContext }): PolicyDecision {
  return evaluate(policy, {
    target: { kind: 'postgres', resource: 'demo', ...(s.database ? { database: s.database } : {}) },
    groups: ['engineers'],
    classification: classifier.classify(sql),
    ...(s.resolution ? { resolution: s.resolution } : {}),
  });
}

const cases: Array<[string, string, string?]> = [
  ['select * from demo.public.customers', 'mask', 'mask-customer-pii'],
  ['select email from "demo"."public"."customers"', 'mask', 'mask-customer-pii'],
  ['select * from DEMO.PUBLIC.CUSTOMERS', 'mask', 'mask-customer-pii'],
  ['select * from U&"\\0063ustomers"', 'mask', 'mask-customer-pii'],
  ['select * from demo.public.U&"\\0063ustomers"', 'mask', 'mask-customer-pii'],
  ['select * from customers', 'mask', 'mask-customer-pii'],
  ['select * from orders o join demo.public.customers c on c.id = o.customer_id', 'mask', 'mask-customer-pii'],
  ['select * from other.public.customers', 'deny', '(cross-database)'],
  ["update demo.public.customers set email = 'x@y.z' where id = 1", 'require-approval', 'customers-writes-need-approval'],
  ['update "demo"."public"."customers" set email = null', 'require-approval', 'customers-writes-need-approval'],
  ['delete from demo.public.customers', 'require-approval', 'customers-writes-need-approval'],
  ['truncate demo.public.customers', 'require-approval', 'customers-writes-need-approval'],
  ['truncate U&"\\0063ustomers"', 'require-approval', 'customers-writes-need-approval'],
  ["insert into demo.public.customers (email) values ('a@b.c')", 'require-approval', 'customers-writes-need-approval'],
  ['update other.public.customers set email = null', 'deny', '(cross-database)'],
  ["select table_to_xml('customers', true, false, '')", 'deny', '(function-allow-list)'],
  ["select table_to_xml('customers'::regclass, true, false, '')", 'deny', '(function-allow-list)'],
  ["select table_to_xml('cust' || 'omers', true, false, '')", 'deny', '(function-allow-list)'],
  ["select query_to_xml('select * from customers', true, false, '')", 'deny', '(function-allow-list)'],
  ["select database_to_xml(true, false, '')", 'deny', '(function-allow-list)'],
  ["select set_config('search_path', 'evil', false)", 'deny', '(function-allow-list)'],
  ["select replace(email, '@', ' at ') from customers", 'deny', '(function-allow-list)'],
  ["select pg_relation_size('customers'::regclass)", 'allow', 'allow-reads'],
  ["update pg_settings set setting = 'evil' where name = 'search_path'", 'deny', 'deny-unsafe-statements'],
  ["update pg_catalog.pg_settings set setting = 'x' where name = 'application_name'", 'deny', 'deny-unsafe-statements'],
  ["update pg_class set relname = 'x' where relname = 'customers'", 'deny', 'deny-unsafe-statements'],
  ['update pg_attribute set attnotnull = false', 'deny', 'deny-unsafe-statements'],
  ['delete from pg_constraint', 'deny', 'deny-unsafe-statements'],
  ['delete from demo.pg_catalog.pg_constraint', 'deny', 'deny-unsafe-statements'],
  ["copy customers to '/tmp/x'", 'deny', 'deny-unsafe-statements'],
  ["copy (select 1) to '/tmp/x'", 'deny', 'deny-unsafe-statements'],
  ["copy orders from '/etc/passwd'", 'deny', 'deny-unsafe-statements'],
  ['copy customers to stdout', 'mask', 'mask-customer-pii'],
  ['copy orders from stdin', 'allow', 'allow-other-writes'],
  ['copy demo.public.customers from stdin', 'require-approval', 'customers-writes-need-approval'],
  ['select count(*), max(total), lower(name) from orders', 'allow', 'allow-reads'],
  ["select date_trunc('day', now()), coalesce(null, 1), length('x')", 'allow', 'allow-reads'],
  ['select * from pg_settings', 'allow', 'allow-reads'],
  ['lock table pg_class in access exclusive mode', 'deny', 'deny-unsafe-statements'],
  ["select now() at time zone 'utc', 'a' similar to 'b', 'a' like 'b' escape 'c'", 'allow', 'allow-reads'],
  ["select most_common_vals from pg_stats where tablename = 'customers'", 'deny', '(unresolved)'],
  ['select query from pg_stat_activity', 'deny', 'deny-other-sessions-activity'],
  ['select query from pg_catalog.pg_stat_activity', 'deny', 'deny-other-sessions-activity'],
  ['select query from public.pg_stat_statements', 'deny', 'deny-other-sessions-activity'],
  ['select * from pg_prepared_statements', 'allow', 'allow-reads'],
];

for (const [name, s] of Object.entries(sessions)) {
  for (const [sql, action, ruleId] of cases) {
    test(`demo policy (${name}): ${sql} → ${action}`, () => {
      const d = decide(sql, s);
      assert.equal(d.action, action, `${d.ruleId}: ${d.reason}`);
      if (ruleId) assert.equal(d.ruleId, ruleId, d.reason);
    });
  }
}

test('a refusal by the function allow-list names the function', () => {
  assert.match(decide("select table_to_xml('customers', true, false, '')", {}).reason, /table_to_xml\(\)/);
});

test('the catalog functions psql \\d and \\dt call are on the allow-list', () => {
  // psql 15's describe queries (psql -E '\d customers', '\dt', '\d+', '\di', '\dn', '\du', '\l').
  for (const fn of [
    'pg_table_is_visible',
    'format_type',
    'pg_get_expr',
    'pg_get_userbyid',
    'array_to_string',
    'pg_get_indexdef',
    'pg_get_constraintdef',
    'obj_description',
    'col_description',
    'pg_encoding_to_char',
    'pg_size_pretty',
    'pg_table_size',
    'pg_relation_is_publishable',
    'pg_get_statisticsobjdef_columns',
    'unnest',
    'string_agg',
    'array_upper',
    'generate_series',
    'pg_function_is_visible',
    'pg_get_function_arguments',
    'pg_get_function_result',
    'pg_get_viewdef',
  ]) {
    assert.equal(decide(`select pg_catalog.${fn}()`, {}).action, 'allow', fn);
  }
});
