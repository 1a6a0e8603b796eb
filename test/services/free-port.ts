// Free loopback ports for test services. Real services in tests bind only to 127.0.0.1.
import { createServer } from 'node:net';

/** LOOPBACK is the only address test services bind to. */
export const LOOPBACK = '127.0.0.1';

/**
 * freePort asks the kernel for an unused TCP port on 127.0.0.1 (bind to port 0, read it,
 * close). The port is free when this resolves, but another process could take it before
 * the caller binds it; callers that start a service should retry start-up on EADDRINUSE.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * freePorts returns `n` distinct free ports. All n listeners are held open at once so the
 * kernel cannot hand out the same port twice within one call.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      const srv = createServer();
      srv.unref();
      return new Promise<import('node:net').Server>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, LOOPBACK, () => resolve(srv));
      });
    }),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}
