// listeningTcpPorts tells which TCP ports a process listens on, from /proc (Linux): the
// socket inodes among its open files, matched with the LISTEN rows of /proc/net/tcp{,6}.
// Tests use it to prove a component opened no TCP port at all, not just "not on this one".
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const TCP_LISTEN = '0A';

/** listeningTcpPorts returns the sorted local ports on which `pid` has a listening TCP socket. */
export function listeningTcpPorts(pid: number | 'self' = 'self'): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // the descriptor closed while we looked
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== TCP_LISTEN || !inodes.has(f[9])) continue;
      ports.add(parseInt(f[1].split(':')[1], 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}
