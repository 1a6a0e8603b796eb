// fakeEsdbClient: an in-memory stand-in for the parts of @eventstore/db-client the ledger adapter
// uses, following the client's documented behaviour: appends to one stream are atomic and checked
// against `expectedRevision` (WrongExpectedVersionError), an append over the server's default
// MaxAppendSize (1 MiB) fails with MaxAppendSizeExceededError, reading a missing stream fails with
// StreamNotFoundError, JSON data and metadata round-trip through JSON text, binary data is copied.
// It lets the unit tier run the shared contract through the adapter's logic; the real server run
// is eventstoredb-store.int.test.ts.
import {
  ANY,
  MaxAppendSizeExceededError,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AppendResult,
  type EventData,
} from '@eventstore/db-client';
import type { EsdbClient } from './eventstoredb-store.ts';

type Stored = { id: string; type: string; isJson: boolean; data: Uint8Array; metadata: Uint8Array };

/** FakeEsdbServer is shared by several fake clients, as one server is by several processes. */
export type FakeEsdbServer = { streams: Map<string, Stored[]>; maxAppendSize: number };

/** createFakeEsdbServer returns an empty fake server. */
export function createFakeEsdbServer(maxAppendSize = 1024 * 1024): FakeEsdbServer {
  return { streams: new Map(), maxAppendSize };
}

const encode = (v: unknown): Uint8Array =>
  v === undefined ? new Uint8Array(0) : v instanceof Uint8Array ? Uint8Array.from(v) : Buffer.from(JSON.stringify(v));
const decode = (b: Uint8Array): unknown => {
  if (b.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(b).toString('utf8'));
  } catch {
    return b;
  }
};

/** fakeEsdbClient returns a client of `server`. */
export function fakeEsdbClient(server: FakeEsdbServer): EsdbClient {
  const client = {
    async appendToStream(stream: string, events: EventData | EventData[], opts: { expectedRevision?: unknown } = {}): Promise<AppendResult> {
      await new Promise((r) => setImmediate(r)); // a network round trip: other calls may interleave
      const list = Array.isArray(events) ? events : [events];
      const cur = server.streams.get(stream);
      const current = cur === undefined ? NO_STREAM : BigInt(cur.length - 1);
      const expected = opts.expectedRevision ?? ANY;
      if (expected !== ANY && expected !== current) {
        throw new WrongExpectedVersionError(undefined, { streamName: stream, expected: expected as bigint, current });
      }
      const stored = list.map((e) => ({
        id: e.id,
        type: e.type,
        isJson: e.contentType === 'application/json',
        data: e.contentType === 'application/json' ? encode(e.data) : Uint8Array.from(e.data as Uint8Array),
        metadata: encode(e.metadata),
      }));
      const size = stored.reduce((n, s) => n + s.data.length + s.metadata.length, 0);
      if (size > server.maxAppendSize) throw new MaxAppendSizeExceededError(undefined, server.maxAppendSize);
      const s = cur ?? [];
      s.push(...stored);
      server.streams.set(stream, s);
      return { success: true, nextExpectedRevision: BigInt(s.length - 1) };
    },
    readStream(stream: string, opts: { fromRevision?: unknown; maxCount?: number | bigint } = {}) {
      async function* gen() {
        await new Promise((r) => setImmediate(r));
        const s = server.streams.get(stream);
        if (!s) throw new StreamNotFoundError(undefined, stream);
        const from = opts.fromRevision === undefined || opts.fromRevision === START ? 0 : Number(opts.fromRevision);
        const max = opts.maxCount === undefined ? Infinity : Number(opts.maxCount);
        for (let i = from; i < s.length && i < from + max; i++) {
          const e = s[i];
          yield {
            event: {
              streamId: stream,
              id: e.id,
              revision: BigInt(i),
              type: e.type,
              isJson: e.isJson,
              created: new Date(0),
              data: e.isJson ? decode(e.data) : Uint8Array.from(e.data),
              metadata: decode(e.metadata),
            },
          };
        }
      }
      return gen();
    },
    async dispose() {},
  };
  return client as unknown as EsdbClient;
}
