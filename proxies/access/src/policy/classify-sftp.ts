import { posix } from 'node:path';
import { operation } from './types.ts';
import type { Classification, OperationClass } from './types.ts';

/** SftpRequest is one SFTP request as the SSH proxy decoded it (names as in SFTP v3, lower case). */
export type SftpRequest = {
  readonly operation: string;
  readonly path: string;
  /** targetPath is the second path of rename, symlink and hardlink. */
  readonly targetPath?: string;
  /** flags are an OPEN request's pflags. */
  readonly flags?: { readonly read?: boolean; readonly write?: boolean; readonly append?: boolean; readonly create?: boolean; readonly truncate?: boolean };
};

const BY_OPERATION: Readonly<Record<string, OperationClass>> = {
  read: 'sftp-read',
  write: 'sftp-write',
  opendir: 'sftp-list',
  readdir: 'sftp-list',
  stat: 'sftp-stat',
  lstat: 'sftp-stat',
  fstat: 'sftp-stat',
  realpath: 'sftp-stat',
  setstat: 'sftp-setstat',
  fsetstat: 'sftp-setstat',
  remove: 'sftp-remove',
  rename: 'sftp-rename',
  'posix-rename@openssh.com': 'sftp-rename',
  mkdir: 'sftp-mkdir',
  rmdir: 'sftp-rmdir',
  symlink: 'sftp-symlink',
  'hardlink@openssh.com': 'sftp-symlink',
  readlink: 'sftp-readlink',
};

/** sftpClass maps an SFTP request to its class; OPEN is a write when any flag can change the file. */
export function sftpClass(req: SftpRequest): OperationClass {
  const op = req.operation.toLowerCase();
  if (op === 'open') {
    const f = req.flags ?? {};
    return f.write || f.append || f.create || f.truncate ? 'sftp-write' : 'sftp-read';
  }
  return BY_OPERATION[op] ?? 'sftp-other';
}

function norm(p: string): string {
  // SFTP paths relative to the login directory stay relative; `..` segments are folded.
  const n = posix.normalize(p === '' ? '.' : p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** classifySftp classifies one SFTP request (pure): its class and the normalized paths it touches. */
export function classifySftp(req: SftpRequest): Classification {
  const paths = [norm(req.path), ...(req.targetPath !== undefined ? [norm(req.targetPath)] : [])];
  const op = operation(sftpClass(req), { paths: Object.freeze(paths) });
  const text = `${req.operation} ${paths.join(' ')}`;
  return Object.freeze({ kind: 'sftp', text, statements: Object.freeze([Object.freeze({ nodeType: 'Sftp', text, operations: Object.freeze([op]) })]) });
}
