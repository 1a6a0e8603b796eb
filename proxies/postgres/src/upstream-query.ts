// queryUpstream runs one simple query of the proxy's own on an upstream connection that no
// client message has used yet (right after login), and returns its first row by column name.
// The client never sees it; the session learns from it how the server will resolve names.
import type { UpstreamSession } from './upstream.ts';
import { BackendReader, query as queryMessage } from './wire/index.ts';

/** UpstreamRow is one result row by column name (text format; SQL NULL is null). */
export type UpstreamRow = Readonly<Record<string, string | null>>;

/**
 * queryUpstream MUST only be called before the session relays anything on `up` (it takes the
 * connection's receiver until ReadyForQuery and leaves none set, and the socket paused). It rejects on an
 * ErrorResponse, a closed connection or `timeoutMs` without an answer.
 */
export function queryUpstream(up: UpstreamSession, sql: string, timeoutMs: number): Promise<UpstreamRow | undefined> {
  return new Promise((resolve, reject) => {
    const reader = new BackendReader();
    let columns: string[] = [];
    let row: UpstreamRow | undefined;
    let failure: Error | undefined;
    const done = (e: Error | undefined) => {
      clearTimeout(timer);
      up.receive(undefined);
      // Paused again, as connectUpstream hands it over: the session resumes it when it relays.
      up.socket.pause();
      up.socket.off('close', closed);
      if (e) reject(e);
      else resolve(row);
    };
    const closed = () => done(new Error('the upstream connection closed during the proxy query'));
    const timer = setTimeout(() => done(new Error(`the upstream server did not answer the proxy query within ${timeoutMs} ms`)), timeoutMs);
    up.socket.on('close', closed);
    up.receive((chunk) => {
      let frames: ReturnType<BackendReader['read']>;
      try {
        frames = reader.read(chunk);
      } catch (e) {
        return done(e as Error);
      }
      for (const f of frames) {
        // pg-protocol: RowDescription and DataRow carry `fields`, ErrorResponse `message`.
        const m = f.message as unknown as { fields?: unknown[]; message?: string };
        if (f.type === 'T') columns = ((m.fields ?? []) as Array<{ name: string }>).map((c) => c.name);
        else if (f.type === 'D' && row === undefined) {
          const values = (m.fields ?? []) as Array<string | null>;
          row = Object.fromEntries(columns.map((c, i) => [c, values[i] ?? null]));
        } else if (f.type === 'E') failure = new Error(`the upstream server refused the proxy query: ${String(m.message ?? 'error')}`);
        else if (f.type === 'Z') return done(failure);
      }
    });
    up.socket.resume();
    up.socket.write(queryMessage(sql));
  });
}
