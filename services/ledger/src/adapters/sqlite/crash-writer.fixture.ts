// crash-writer: a child process for sqlite-store.test.ts's crash test. It appends batches of
// BATCH entries (each with a tile and a checkpoint) to one log forever and prints the size after
// every commit; the parent kills it with SIGKILL mid-loop. Not a test file itself.
import { openSqliteLedgerStore } from './sqlite-store.ts';

const [path, logId] = process.argv.slice(2);
const BATCH = 1000;
const store = await openSqliteLedgerStore({ path });
const log = await store.openLog(logId);
let size = (await log.tail()).size;
const payload = Buffer.alloc(512, 0xab);
for (;;) {
  const entries = Array.from({ length: BATCH }, (_, i) => ({
    eventId: `crash-${size + i}`,
    kind: 'event' as const,
    bytes: payload,
    source: { topic: 't', partition: 0, offset: BigInt(size + i) },
    appendedAt: size + i,
  }));
  const data = Buffer.alloc(32 * 8, size & 0xff);
  await log.append({ entries, tiles: [{ id: { level: 9, index: size / BATCH, width: 8 }, data }], checkpoint: `size ${size + BATCH}\n` }, size);
  size += BATCH;
  process.stdout.write(`${size}\n`);
}
