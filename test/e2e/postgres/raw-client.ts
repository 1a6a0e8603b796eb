// A raw PostgreSQL wire-protocol client for the proxy's end-to-end tests: it sends exactly the
// messages a test builds (pipelined in one write when asked), and keeps every server message.
// Plaintext over loopback: the rig must allow cleartext on loopback.
import { connect, type Socket } from 'node:net';
import { wire } from '@affidavit/postgres-proxy';

type Frame = ReturnType<wire.BackendReader['read']>[number];

/** RawClient is one logged-in raw connection. */
export class RawClient {
  readonly frames: Frame[] = [];
  readonly #sock: Socket;
  #wake: () => void = () => {};
  #closed = false;

  private constructor(sock: Socket) {
    this.#sock = sock;
  }

  /** login opens a connection and logs in with `token` as `user`; rejects with the server's error. */
  static async login(port: number, token: string, user = 'alice', database = 'app'): Promise<RawClient> {
    const sock = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    const c = new RawClient(sock);
    const reader = new wire.BackendReader();
    sock.on('data', (d: Buffer) => {
      c.frames.push(...reader.read(d));
      c.#wake();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      c.#closed = true;
      c.#wake();
    });
    sock.write(wire.startupMessage({ user, database }));
    await c.until((f) => f.some((x) => x.type === 'R' || x.type === 'E'), 'password request');
    sock.write(wire.passwordMessage(token));
    await c.until((f) => f.some((x) => x.type === 'Z' || x.type === 'E'), 'ReadyForQuery after login');
    const err = c.frames.find((f) => f.type === 'E');
    if (err) {
      sock.destroy();
      throw Object.assign(new Error(String((err.message as unknown as { message: string }).message)), {
        code: (err.message as unknown as { code: string }).code,
      });
    }
    c.frames.length = 0;
    return c;
  }

  /** until waits for `pred` over the frames received (rejects after `ms` or when the connection closes). */
  async until(pred: (f: Frame[]) => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.frames)) {
      if (this.#closed) throw new Error(`connection closed while waiting for ${what}; got ${this.frames.map((f) => f.type).join('')}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${this.frames.map((f) => f.type).join('')}`);
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, 20);
      });
    }
  }

  /** send writes the messages in one write (pipelined). */
  send(...messages: Buffer[]): void {
    this.#sock.write(Buffer.concat(messages));
  }

  /** ready waits until `n` ReadyForQuery messages have arrived in all. */
  ready(n: number, ms?: number): Promise<void> {
    return this.until((f) => f.filter((x) => x.type === 'Z').length >= n, `${n} ReadyForQuery`, ms);
  }

  /** rows returns the first column of every DataRow received. */
  rows(): (string | null)[] {
    return this.frames.filter((f) => f.type === 'D').map((f) => (f.message as unknown as { fields: (string | null)[] }).fields[0]);
  }

  /** errors returns the SQLSTATE and message of every ErrorResponse received. */
  errors(): { code: string; message: string }[] {
    return this.frames
      .filter((f) => f.type === 'E')
      .map((f) => ({ code: (f.message as unknown as { code: string }).code, message: (f.message as unknown as { message: string }).message }));
  }

  close(): void {
    if (!this.#closed) this.#sock.end(wire.terminate());
  }
}

/** Messages a test composes. */
export const msg = {
  query: (sql: string) => wire.query(sql),
  parse: (name: string, sql: string) => wire.encodeFrontendMessage({ type: 'Parse', name, query: sql, paramTypes: [] }),
  bind: (portal: string, statement: string, params: (string | null)[] = []) =>
    wire.encodeFrontendMessage({
      type: 'Bind',
      portal,
      statement,
      paramFormats: [],
      params: params.map((p) => (p === null ? null : Buffer.from(p))),
      resultFormats: [],
    }),
  describe: (target: 'S' | 'P', name: string) => wire.encodeFrontendMessage({ type: 'Describe', target, name }),
  execute: (portal: string, maxRows = 0) => wire.encodeFrontendMessage({ type: 'Execute', portal, maxRows }),
  close: (target: 'S' | 'P', name: string) => wire.encodeFrontendMessage({ type: 'Close', target, name }),
  sync: () => wire.sync(),
  flush: () => wire.encodeFrontendMessage({ type: 'Flush' }),
};
