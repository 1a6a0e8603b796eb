import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyShell, SHELL_MAX_OPERATIONS } from './classify-shell.ts';
import { classifySftp, sftpClass } from './classify-sftp.ts';

const programs = (line: string) => classifyShell(line).statements.flatMap((s) => s.operations.map((o) => o.program ?? '(redirect)'));

test('programs across pipelines, lists, subshells, substitutions and control flow', () => {
  assert.deepEqual(programs('a | b && c || d; (e; f) & { g; }'), ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  assert.deepEqual(programs('echo $(id) `whoami` <(date)'), ['echo', 'id', 'whoami', 'date']);
  assert.deepEqual(programs('if t; then u; else v; fi; while w; do x; done; for i in 1; do y; done; case q in a) z;; esac'), [
    't',
    'u',
    'v',
    'w',
    'x',
    'y',
    'z',
  ]);
  assert.deepEqual(programs('f() { inner; }; X=$(assigned) outer'), ['inner', 'outer', 'assigned']);
});

test('quoting is removed the way the shell removes it', () => {
  assert.deepEqual(programs(`'r'm; r\\m; "rm"; $'\\x72\\155'`), ['rm', 'rm', 'rm', 'rm']);
  const [op] = classifyShell(`grep -e "a b" 'c d' e\\ f`).statements[0].operations;
  assert.deepEqual(op.args, ['-e', 'a b', 'c d', 'e f']);
});

test('sh -c, bash -c, su -c, eval, find -exec and wrappers are parsed again', () => {
  assert.deepEqual(programs(`sh -c 'a; b'`), ['sh', 'a', 'b']);
  assert.deepEqual(programs(`bash -o pipefail -lc "x | y"`), ['bash', 'x', 'y']);
  assert.deepEqual(programs(`su -c 'z' root`), ['su', 'z']);
  assert.deepEqual(programs(`eval 'p q'`), ['eval', 'p']);
  assert.deepEqual(programs(`find . -exec rm {} \\; -print`), ['find', 'rm']);
  assert.deepEqual(programs(`sudo -u bob env A=1 timeout 5 nohup rm x`), ['sudo', 'env', 'timeout', 'nohup', 'rm']);
  assert.deepEqual(programs(`xargs -n 1 sh -c 'kill $0'`), ['xargs', 'sh', 'kill']);
});

test('nested sh -c is bounded; beyond the bound the inner line counts as dynamic', () => {
  const deep = classifyShell(`sh -c "sh -c 'sh -c x'"`, { maxDepth: 1 });
  const ops = deep.statements[0].operations;
  assert.ok(
    ops.some((o) => o.dynamic),
    'the level past the bound is not trusted',
  );
  assert.ok(!ops.some((o) => o.program === 'x'));
});

test('run-time program names are dynamic', () => {
  const ops = classifyShell('$CMD a; $(echo rm) b').statements[0].operations;
  assert.deepEqual(ops.filter((o) => o.dynamic).length, 2);
});

test('paths from arguments and redirections are normalized', () => {
  const [op] = classifyShell('cat /srv/../etc/shadow ./x --file=/tmp/y > /var/log/out 2>&1').statements[0].operations;
  assert.deepEqual([...op.paths].sort(), ['/etc/shadow', '/tmp/y', '/var/log/out', 'x']);
});

test('unparsable, too long and too many commands are marked unparsable', () => {
  assert.match(classifyShell('echo "x').unparsable!.message, /closing quote/);
  assert.match(classifyShell('a'.repeat(100), { maxLength: 10 }).unparsable!.message, /exceeds/);
  assert.match(classifyShell('x;'.repeat(SHELL_MAX_OPERATIONS + 1)).unparsable!.message, /more than/);
  assert.equal(classifyShell('').statements.length, 0);
});

test('property: any line classifies without throwing', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 120 }), (s) => {
      const c = classifyShell(s);
      assert.ok(c.unparsable !== undefined || c.statements.length <= 1);
    }),
    { numRuns: 300 },
  );
});

test('sftp requests map to classes and normalized paths', () => {
  assert.equal(sftpClass({ operation: 'OPEN', path: 'a', flags: { read: true } }), 'sftp-read');
  assert.equal(sftpClass({ operation: 'open', path: 'a', flags: { read: true, truncate: true } }), 'sftp-write');
  assert.equal(sftpClass({ operation: 'posix-rename@openssh.com', path: 'a' }), 'sftp-rename');
  assert.equal(sftpClass({ operation: 'extended-thing', path: 'a' }), 'sftp-other');
  const c = classifySftp({ operation: 'rename', path: '/srv/a/../b/', targetPath: 'c/./d' });
  assert.deepEqual(c.statements[0].operations[0].paths, ['/srv/b', 'c/d']);
});
