import { posix } from 'node:path';
import sh from 'mvdan-sh';
import { parseShell, shellNodeType } from './shell-parser.ts';
import type { ShNode } from './shell-parser.ts';
import { operation } from './types.ts';
import type { Classification, Operation } from './types.ts';

/**
 * SSH exec-line classification with a real shell parser (mvdan/sh's bash grammar).
 *
 * Every program the line can run becomes an operation: across pipelines, `&&`/`||`/`;`
 * lists, subshells, blocks, loops, functions, command and process substitutions, and
 * the strings handed to `sh -c`, `bash -c`, `su -c`, `eval`, `env -S`, `watch` and
 * `find -exec`, which are parsed again (bounded depth). Wrappers such as `sudo`, `env`,
 * `nohup`, `timeout`, `xargs` and `busybox` count as invoked AND expose the program they run.
 * Quoting is removed the way the shell would (`'r'm`, `r\m`, `$'\x72m'` are all `rm`).
 * A program name computed at run time (`$CMD`, `$(...)`) is marked `dynamic`.
 */

/** DEFAULT_SHELL_MAX_DEPTH bounds how many `sh -c` levels are parsed again. */
export const DEFAULT_SHELL_MAX_DEPTH = 4;
/** DEFAULT_SHELL_MAX_LENGTH bounds the exec line's length (characters). */
export const DEFAULT_SHELL_MAX_LENGTH = 64 * 1024;
/** SHELL_MAX_OPERATIONS bounds the operations one line may yield. */
export const SHELL_MAX_OPERATIONS = 1000;

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'rbash']);
const SHELL_OPTS_WITH_VALUE = new Set(['-o', '+o', '-O', '+O', '--rcfile', '--init-file']);

type Wrapper = { readonly withValue: readonly string[]; readonly positional?: number; readonly assigns?: boolean };
const WRAPPERS: Readonly<Record<string, Wrapper>> = {
  sudo: {
    withValue: [
      '-u',
      '-g',
      '-h',
      '-p',
      '-C',
      '-r',
      '-t',
      '-U',
      '-D',
      '-R',
      '-T',
      '--user',
      '--group',
      '--host',
      '--prompt',
      '--role',
      '--type',
      '--other-user',
      '--chdir',
      '--chroot',
      '--close-from',
      '--command-timeout',
    ],
  },
  doas: { withValue: ['-u', '-C'] },
  env: { withValue: ['-u', '--unset', '-C', '--chdir'], assigns: true },
  nohup: { withValue: [] },
  nice: { withValue: ['-n', '--adjustment'] },
  ionice: { withValue: ['-c', '-n', '-p', '-P', '-u', '--class', '--classdata'] },
  timeout: { withValue: ['-s', '--signal', '-k', '--kill-after'], positional: 1 },
  stdbuf: { withValue: ['-i', '-o', '-e'] },
  setsid: { withValue: [] },
  exec: { withValue: ['-a'] },
  command: { withValue: [] },
  builtin: { withValue: [] },
  time: { withValue: ['-f', '-o', '--format', '--output'] },
  xargs: {
    withValue: [
      '-I',
      '-n',
      '-L',
      '-P',
      '-d',
      '-E',
      '-s',
      '-a',
      '--arg-file',
      '--delimiter',
      '--max-args',
      '--max-procs',
      '--max-lines',
      '--replace',
      '--eof',
      '--max-chars',
    ],
  },
  chroot: { withValue: ['--userspec', '--groups'], positional: 1 },
  strace: { withValue: ['-o', '-e', '-p', '-s', '-u', '-E'] },
  ltrace: { withValue: ['-o', '-e', '-p', '-s', '-u'] },
  flock: { withValue: ['-w', '-E', '--timeout', '--conflict-exit-code'], positional: 1 },
  unbuffer: { withValue: [] },
  caffeinate: { withValue: [] },
  // busybox APPLET args: the applet is the program that runs.
  busybox: { withValue: [] },
};

type Ctx = { ops: Operation[]; depth: number; maxDepth: number; overflow: boolean };
type WordText = { text: string; dynamic: boolean };

const ANSI: Record<string, string> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

/** ansiC decodes a bash `$'...'` string. */
function ansiC(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)/gs, (_m, e: string) => {
    if (e[0] === 'x' || e[0] === 'u' || e[0] === 'U') {
      const cp = parseInt(e.slice(1), 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
    if (e[0] === 'c' && e.length === 2) return String.fromCharCode(e.charCodeAt(1) & 0x1f);
    return ANSI[e] ?? `\\${e}`;
  });
}

function wordText(w: ShNode | null | undefined): WordText {
  let text = '';
  let dynamic = false;
  for (const p of (w?.Parts ?? []) as ShNode[]) {
    const t = shellNodeType(p);
    if (t === 'Lit') text += String(p.Value).replace(/\\(.)/gs, '$1');
    else if (t === 'SglQuoted') text += p.Dollar ? ansiC(String(p.Value)) : String(p.Value);
    else if (t === 'DblQuoted') {
      for (const q of (p.Parts ?? []) as ShNode[]) {
        if (shellNodeType(q) === 'Lit') text += String(q.Value).replace(/\\([$`"\\\n])/g, '$1');
        else {
          dynamic = true;
          text += dynText(q);
        }
      }
    } else {
      dynamic = true;
      text += dynText(p);
    }
  }
  return { text, dynamic };
}

function dynText(p: ShNode): string {
  const t = shellNodeType(p);
  if (t === 'ParamExp') return `\${${p.Param?.Value ?? '?'}}`;
  if (t === 'CmdSubst') return '$(...)';
  if (t === 'ProcSubst') return '<(...)';
  if (t === 'ArithmExp') return '$((...))';
  return '?';
}

function looksLikePath(a: string): boolean {
  return a.startsWith('/') || a.startsWith('~') || a.startsWith('./') || a.startsWith('../') || (a.includes('/') && !a.includes('://'));
}

function normalizePath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function pathsOf(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    const v = a.startsWith('-') && a.includes('=') ? a.slice(a.indexOf('=') + 1) : a;
    // A relative word with blanks is shell code (`sh -c 'rm -rf /x'`), parsed on its own.
    if (/\s/.test(v) && !v.startsWith('/')) continue;
    if (looksLikePath(v)) out.push(normalizePath(v));
  }
  return out;
}

function push(ctx: Ctx, op: Operation): void {
  if (ctx.ops.length >= SHELL_MAX_OPERATIONS) {
    ctx.overflow = true;
    return;
  }
  ctx.ops.push(Object.freeze(op));
}

function execOp(program: string | undefined, args: string[], paths: string[], dynamic: boolean): Operation {
  return operation('exec', {
    ...(program !== undefined ? { program } : {}),
    args: Object.freeze(args),
    paths: Object.freeze([...new Set([...paths, ...pathsOf(args)])]),
    ...(dynamic ? { dynamic: true } : {}),
  });
}

/** redirectPaths returns the files a statement's redirections name (not fd duplications or heredocs). */
function redirectPaths(stmt: ShNode): string[] {
  const out: string[] = [];
  for (const r of (stmt.Redirs ?? []) as ShNode[]) {
    // 61 `<<`, 62 `<<-`, 63 `<<<` carry text, not a file name.
    if (r.Op === 61 || r.Op === 62 || r.Op === 63) continue;
    const w = wordText(r.Word);
    if ((r.Op === 58 || r.Op === 59) && /^(\d+|-)$/.test(w.text)) continue;
    out.push(normalizePath(w.text));
  }
  return out;
}

/** nestedLine parses again the strings that programs such as `sh -c`, `su -c`, `eval` run as shell code. */
function nestedLine(program: string, args: string[], dynamicArgs: boolean[], ctx: Ctx): void {
  const base = program.slice(program.lastIndexOf('/') + 1);
  const parseInner = (idx: number | undefined, joined?: string): void => {
    if (idx === undefined && joined === undefined) return;
    const dyn = idx !== undefined ? dynamicArgs[idx] : false;
    const src = joined ?? args[idx!];
    if (dyn || ctx.depth >= ctx.maxDepth) {
      push(ctx, execOp(undefined, [src], [], true));
      return;
    }
    classifyInto(src, { ...ctx, depth: ctx.depth + 1 }, ctx);
  };

  if (SHELLS.has(base)) {
    let sawC = false;
    for (let i = 1; i < args.length; i++) {
      const a = args[i];
      if (SHELL_OPTS_WITH_VALUE.has(a)) {
        i++;
        continue;
      }
      if (a === '--' || a === '-') continue;
      if (/^-[A-Za-z]+$/.test(a) && a.includes('c')) {
        sawC = true;
        continue;
      }
      if (a.startsWith('-') || a.startsWith('+')) continue;
      // Without -c the first operand is a script file; its path is already among the op's paths.
      if (sawC) parseInner(i);
      return;
    }
    return;
  }
  if (base === 'su') {
    const i = args.findIndex((a) => a === '-c' || a === '--command');
    if (i > 0 && i + 1 < args.length) parseInner(i + 1);
    const eq = args.findIndex((a) => a.startsWith('--command='));
    if (eq > 0) parseInner(undefined, args[eq].slice('--command='.length));
    return;
  }
  if (base === 'eval' && args.length > 1) {
    if (dynamicArgs.slice(1).some(Boolean)) push(ctx, execOp(undefined, args.slice(1), [], true));
    else parseInner(undefined, args.slice(1).join(' '));
    return;
  }
  if (base === 'watch') {
    let i = 1;
    while (i < args.length && args[i].startsWith('-')) i += ['-n', '--interval', '-d'].includes(args[i]) && args[i] !== '-d' ? 2 : 1;
    if (i < args.length) parseInner(undefined, args.slice(i).join(' '));
    return;
  }
  if (base === 'env') {
    const i = args.findIndex((a) => a === '-S' || a === '--split-string');
    if (i > 0 && i + 1 < args.length) parseInner(i + 1);
  }
  if (base === 'flock') {
    const i = args.findIndex((a) => a === '-c' || a === '--command');
    if (i > 0 && i + 1 < args.length) parseInner(i + 1);
  }
  if (base === 'find') {
    for (let i = 1; i < args.length; i++) {
      if (!['-exec', '-execdir', '-ok', '-okdir'].includes(args[i])) continue;
      let j = i + 1;
      while (j < args.length && args[j] !== ';' && args[j] !== '+') j++;
      if (i + 1 < j) command(args.slice(i + 1, j), dynamicArgs.slice(i + 1, j), [], ctx);
      i = j;
    }
  }
}

/** command records one simple command and whatever it runs in turn. */
function command(args: string[], dynamicArgs: boolean[], redirects: string[], ctx: Ctx): void {
  if (args.length === 0) {
    if (redirects.length > 0) push(ctx, execOp(undefined, [], redirects, false));
    return;
  }
  const program = args[0];
  push(ctx, execOp(program, args.slice(1), redirects, dynamicArgs[0]));
  if (dynamicArgs[0]) return;
  const base = program.slice(program.lastIndexOf('/') + 1);
  nestedLine(program, args, dynamicArgs, ctx);
  const w = WRAPPERS[base];
  if (!w) return;
  let i = 1;
  while (i < args.length) {
    const a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (w.assigns && /^[A-Za-z_][A-Za-z0-9_]*=/.test(a)) i++;
    else if (a.startsWith('-') && a.length > 1) i += w.withValue.includes(a) ? 2 : 1;
    else break;
  }
  i += w.positional ?? 0;
  if (i < args.length) command(args.slice(i), dynamicArgs.slice(i), [], ctx);
}

function walk(node: ShNode, ctx: Ctx): void {
  const t = shellNodeType(node);
  if (t === 'File' || t === 'Block' || t === 'Subshell' || t === 'CmdSubst' || t === 'ProcSubst') {
    for (const s of (node.Stmts ?? []) as ShNode[]) walk(s, ctx);
    return;
  }
  if (t === 'Stmt') {
    const redirs = redirectPaths(node);
    for (const r of (node.Redirs ?? []) as ShNode[]) walkWord(r.Word, ctx);
    const cmd = node.Cmd as ShNode | null;
    if (!cmd) {
      if (redirs.length > 0) command([], [], redirs, ctx);
      return;
    }
    if (shellNodeType(cmd) === 'CallExpr') {
      const words = (cmd.Args ?? []) as ShNode[];
      const texts = words.map(wordText);
      command(
        texts.map((x) => x.text),
        texts.map((x) => x.dynamic),
        redirs,
        ctx,
      );
      for (const a of (cmd.Assigns ?? []) as ShNode[]) walkWord(a.Value, ctx);
      for (const wd of words) walkWord(wd, ctx);
      return;
    }
    if (redirs.length > 0) command([], [], redirs, ctx);
    walk(cmd, ctx);
    return;
  }
  if (t === 'BinaryCmd') {
    walk(node.X, ctx);
    walk(node.Y, ctx);
    return;
  }
  if (t === 'DeclClause') {
    const args = ((node.Args ?? []) as ShNode[]).map((a) => {
      const name = a.Name?.Value ?? '';
      const v = a.Value ? wordText(a.Value).text : '';
      return a.Naked ? name : `${name}=${v}`;
    });
    push(ctx, execOp(String(node.Variant?.Value ?? 'declare'), args, [], false));
  }
  // Any other construct (if/while/for/case/function/test/arithmetic): find the statements
  // and substitutions inside it with the parser's own walker.
  genericWalk(node, ctx);
}

function walkWord(w: ShNode | null | undefined, ctx: Ctx): void {
  if (w) genericWalk(w, ctx);
}

/** genericWalk descends any node and hands each statement or substitution inside it to `walk`. */
function genericWalk(node: ShNode, ctx: Ctx): void {
  const found: ShNode[] = [];
  let first = true;
  sh.syntax.Walk(node, (n) => {
    if (!n) return true;
    if (first) {
      first = false;
      return true;
    }
    const t = shellNodeType(n);
    if (t === 'Stmt' || t === 'CmdSubst' || t === 'ProcSubst') {
      found.push(n);
      return false;
    }
    return true;
  });
  for (const n of found) walk(n, ctx);
}

function classifyInto(src: string, ctx: Ctx, parent: Ctx): void {
  const parsed = parseShell(src);
  if (!parsed.ok) {
    // The outer shell would fail too, but we cannot know what it runs: count it as dynamic.
    push(parent, execOp(undefined, [src], [], true));
    return;
  }
  walk(parsed.file, ctx);
  parent.overflow ||= ctx.overflow;
}

/** ShellClassifyOptions bound the work one line may cause. */
export type ShellClassifyOptions = { readonly maxDepth?: number; readonly maxLength?: number };

/**
 * classifyShell classifies an SSH exec command line. Unparsable lines (and lines too long
 * or yielding too many commands) come back marked `unparsable` for the policy to decide.
 */
export function classifyShell(line: string, opts: ShellClassifyOptions = {}): Classification {
  const maxLength = opts.maxLength ?? DEFAULT_SHELL_MAX_LENGTH;
  const unparsable = (message: string): Classification =>
    Object.freeze({ kind: 'shell', text: line.slice(0, 1024), statements: Object.freeze([]), unparsable: Object.freeze({ message }) });
  if (line.length > maxLength) return unparsable(`command line of ${line.length} characters exceeds the ${maxLength} limit`);
  const parsed = parseShell(line);
  if (!parsed.ok) return unparsable(parsed.message);
  const ctx: Ctx = { ops: [], depth: 0, maxDepth: opts.maxDepth ?? DEFAULT_SHELL_MAX_DEPTH, overflow: false };
  try {
    walk(parsed.file, ctx);
  } catch (e) {
    if (e instanceof RangeError) return unparsable('command is nested too deeply to classify');
    throw e;
  }
  if (ctx.overflow) return unparsable(`command line runs more than ${SHELL_MAX_OPERATIONS} commands`);
  return Object.freeze({
    kind: 'shell',
    text: line,
    statements: ctx.ops.length === 0 ? Object.freeze([]) : Object.freeze([Object.freeze({ nodeType: 'File', text: line, operations: Object.freeze(ctx.ops) })]),
  });
}

/** classifyShellSession classifies an interactive shell request (no command line): one `shell` operation. */
export function classifyShellSession(): Classification {
  const op = operation('shell');
  return Object.freeze({
    kind: 'shell',
    text: '',
    statements: Object.freeze([Object.freeze({ nodeType: 'Shell', text: '', operations: Object.freeze([op]) })]),
  });
}
