import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlParser, parsePostgres, SqlClassifier } from '@affidavit/access';
import { parameterMismatch, parameterStatusOf, parserSettingDecision } from './parser-agreement.ts';

await initSqlParser();
const classifier = new SqlClassifier({ parse: parsePostgres });
const decide = (sql: string) => parserSettingDecision(classifier.classify(sql));

test('statements that change how the server reads text are refused, whatever the spelling', () => {
  for (const sql of [
    'set standard_conforming_strings = off',
    'SET LOCAL standard_conforming_strings TO off',
    'set session "standard_conforming_strings" = 0',
    'reset standard_conforming_strings',
    "set names 'GBK'",
    "set client_encoding = 'SJIS'",
    'set backslash_quote = on',
    "select set_config('standard_conforming_strings', 'off', false)",
    "select pg_catalog.set_config('application_name', 'x', false)",
    "update pg_settings set setting = 'off' where name = 'standard_conforming_strings'",
    "select 1; set standard_conforming_strings = off; select '\\' , ' , email from customers --'",
  ]) {
    const d = decide(sql);
    assert.equal(d?.action, 'deny', sql);
    assert.equal(d?.ruleId, '(parser-setting)', sql);
  }
  for (const sql of ['show standard_conforming_strings', 'set statement_timeout = 1000', "select 'a\\b'"]) assert.equal(decide(sql), undefined, sql);
});

test('a server report the proxy would parse differently is named; the defaults are not', () => {
  assert.match(parameterMismatch('standard_conforming_strings', 'off') ?? '', /standard_conforming_strings=off/);
  assert.match(parameterMismatch('client_encoding', 'GBK') ?? '', /GBK/);
  for (const [n, v] of [
    ['standard_conforming_strings', 'on'],
    ['client_encoding', 'UTF8'],
    ['client_encoding', 'SQL_ASCII'],
    ['application_name', 'x'],
  ]) {
    assert.equal(parameterMismatch(n, v), undefined, `${n}=${v}`);
  }
});

test('parameterStatusOf reads name and value from a ParameterStatus message', () => {
  const body = Buffer.from('client_encoding\0GBK\0');
  const msg = Buffer.concat([Buffer.from([0x53, 0, 0, 0, body.length + 4]), body]);
  assert.deepEqual(parameterStatusOf(Buffer.concat([Buffer.from('xx'), msg]), 2, 2 + msg.length), { name: 'client_encoding', value: 'GBK' });
});
