// Follows the ledger into the read models: reads each log from the position the read models
// reached, folds the records through the pure projection and applies the mutations with the
// new position in one transaction. Live by polling the ledger store's tail: the API reads the
// ledger file read-only and may run in another process than the ledger's writer.
import type { Logger } from '@affidavit/common';
import type { LedgerStore, LogStore } from '@affidavit/ledger';
import { codec as defaultCodec, type EventCodec, type LedgerRecord } from '@affidavit/schemas';
import { project, UNPROJECTED_TYPES } from './projection.ts';
import type { ReadModelStore } from './read-model-store.ts';
import type { ReadModelMutation } from './rows.ts';

/** Changes names what one catch-up touched, for subscriptions. */
export type Changes = { readonly sessions: ReadonlySet<string>; readonly approvals: ReadonlySet<string> };

/** DEFAULT_BATCH_ENTRIES is how many ledger entries one read-model transaction covers. */
export const DEFAULT_BATCH_ENTRIES = 4096;
/** DEFAULT_POLL_MS is how often `start` looks for new ledger entries. */
export const DEFAULT_POLL_MS = 250;

export type ProjectorDeps = {
  readonly ledger: LedgerStore;
  readonly store: ReadModelStore;
  readonly codec?: EventCodec;
  readonly batchEntries?: number;
  readonly logger?: Logger;
};

/**
 * ReadModelProjector keeps a ReadModelStore at the ledger's tail. `catchUp` MUST leave every log's
 * stored position equal to the number of its entries projected; runs never overlap (a call made
 * while one runs waits for it and then runs again, so it sees entries appended meanwhile).
 */
export class ReadModelProjector {
  readonly #ledger: LedgerStore;
  readonly #store: ReadModelStore;
  readonly #codec: EventCodec;
  readonly #batch: number;
  readonly #log: Logger | undefined;
  readonly #logs = new Map<string, LogStore>();
  readonly #listeners = new Set<(c: Changes) => void>();
  #running: Promise<number> = Promise.resolve(0);
  #timer: NodeJS.Timeout | undefined;
  /** anchored: the stored positions were checked against this ledger once (this projector writes them since). */
  #anchored = false;

  constructor(deps: ProjectorDeps) {
    this.#ledger = deps.ledger;
    this.#store = deps.store;
    this.#codec = deps.codec ?? defaultCodec();
    this.#batch = deps.batchEntries ?? DEFAULT_BATCH_ENTRIES;
    this.#log = deps.logger;
  }

  /** onChange registers a listener called after each transaction that touched sessions or approvals; returns its remover. */
  onChange(listener: (c: Changes) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** catchUp projects every entry appended since the stored positions; resolves to how many. */
  catchUp(): Promise<number> {
    const next = this.#running.catch(() => 0).then(() => this.#catchUp());
    this.#running = next;
    return next;
  }

  /** rebuild drops the read models and projects the whole ledger again. */
  rebuild(): Promise<number> {
    const next = this.#running
      .catch(() => 0)
      .then(() => {
        this.#store.reset();
        return this.#catchUp();
      });
    this.#running = next;
    return next;
  }

  /** start polls the ledger every `pollMs` until stop. */
  start(pollMs = DEFAULT_POLL_MS): void {
    if (this.#timer) return;
    const tick = () => {
      this.catchUp()
        .catch((e: unknown) => this.#log?.error({ err: e }, 'read-model projection failed; retrying at the next poll'))
        .finally(() => {
          if (this.#timer) this.#timer = setTimeout(tick, pollMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** stop ends polling and waits for a running catch-up. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running.catch(() => 0);
  }

  async #logStore(id: string): Promise<LogStore> {
    let l = this.#logs.get(id);
    if (!l) this.#logs.set(id, (l = await this.#ledger.openLog(id)));
    return l;
  }

  async #catchUp(): Promise<number> {
    let total = 0;
    let positions = this.#store.positions();
    const logs = await this.#ledger.listLogs();
    const sizes = new Map<string, number>();
    for (const id of logs) sizes.set(id, (await (await this.#logStore(id)).tail()).size);
    // Read models ahead of the ledger (or of a log it does not hold) were built from another
    // ledger file: a log never shrinks. The ledger is the truth, so they are rebuilt from it.
    // A log behind them is recognised by the eventId of the last entry they projected.
    const anchors = this.#store.anchors();
    let foreign = Object.entries(positions).find(([id, next]) => next > (sizes.get(id) ?? 0));
    for (const [id, next] of Object.entries(positions)) {
      if (this.#anchored || foreign || anchors[id] === undefined || next === 0) continue;
      for await (const e of (await this.#logStore(id)).readEntries(next - 1, next)) if (e.eventId !== anchors[id]) foreign = [id, next];
    }
    if (foreign) {
      this.#log?.warn(
        { log: foreign[0], position: foreign[1], size: sizes.get(foreign[0]) ?? 0 },
        'read models were built from another ledger file; rebuilding them from this one',
      );
      this.#store.reset();
      positions = {};
    }
    this.#anchored = true;
    for (const id of logs) {
      const log = await this.#logStore(id);
      const size = sizes.get(id) ?? 0;
      let from = positions[id] ?? 0;
      while (from < size) {
        const to = Math.min(size, from + this.#batch);
        const mutations: ReadModelMutation[] = [];
        let lastEventId = '';
        let expected = from;
        for await (const entry of log.readEntries(from, to)) {
          // A jump in the indexes is a bundle gone from the ledger file: refuse rather than project around it.
          if (entry.index !== expected)
            throw new Error(`ledger log ${id} returned entry ${entry.index} where ${expected} was due (the ledger file was altered or is corrupt)`);
          expected++;
          lastEventId = entry.eventId;
          let record: LedgerRecord;
          try {
            if (UNPROJECTED_TYPES.has(this.#codec.writerOf(entry.bytes).name)) continue;
            record = this.#codec.decode(entry.bytes);
          } catch (e) {
            // The ledger holds it (its bytes are in the tree) but no read model can show it.
            this.#log?.warn({ log: id, index: entry.index, err: e }, 'ledger entry not decodable; left out of the read models');
            continue;
          }
          for (const m of project(record, { log: id, index: entry.index })) mutations.push(m);
        }
        if (expected !== to) throw new Error(`ledger log ${id} returned entries up to ${expected - 1}, expected ${to - 1}`);
        this.#store.apply(id, to, mutations, lastEventId);
        total += to - from;
        from = to;
        this.#notify(mutations);
      }
    }
    return total;
  }

  #notify(mutations: readonly ReadModelMutation[]): void {
    if (this.#listeners.size === 0) return;
    const sessions = new Set<string>();
    const approvals = new Set<string>();
    for (const m of mutations) {
      if (m.kind === 'session-started') sessions.add(m.row.sessionId);
      else if (m.kind === 'session-ended') sessions.add(m.sessionId);
      else if (m.kind === 'approval-requested') approvals.add(m.row.requestId);
      else if (m.kind === 'approval-decided') approvals.add(m.requestId);
      else if (m.kind === 'approval-refused') approvals.add(m.row.requestId);
    }
    if (sessions.size === 0 && approvals.size === 0) return;
    for (const l of this.#listeners) {
      try {
        l({ sessions, approvals });
      } catch (e) {
        this.#log?.warn({ err: e }, 'read-model change listener failed');
      }
    }
  }
}
