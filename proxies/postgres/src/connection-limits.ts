// Connection limits of one proxy listener, so one user cannot take every upstream connection:
// a cap on client connections (counted at accept, before any byte is read) and a cap per
// identity (issuer + subject, counted once the token is verified). Pure counting; the server
// and the session decide what to tell the client.
import { defineError } from '@affidavit/common';

/** PgTooManyConnectionsError: the identity already has maxConnectionsPerIdentity sessions open (SQLSTATE 53300). */
export const PgTooManyConnectionsError = defineError('AFF_E_PG_TOO_MANY_CONNECTIONS', 'too many connections for this identity');
/** PgProxyFullError: the listener already holds maxConnections client connections (SQLSTATE 53300). */
export const PgProxyFullError = defineError('AFF_E_PG_PROXY_FULL', 'the proxy has no free client connection slot', { retriable: true });

/** IdentityKey names whose connections are counted together. */
export type IdentityKey = { readonly issuer: string; readonly subject: string };

/** Release gives a slot back; calling it more than once MUST NOT free more than one slot. */
export type Release = () => void;

/**
 * ConnectionLimits counts open connections in total and per identity. `openConnection` and
 * `admitIdentity` MUST NOT hand out a slot past their limit, and every Release MUST be called
 * on every way a connection ends (the counts are the only thing that frees a slot).
 */
export class ConnectionLimits {
  readonly #maxTotal: number;
  readonly #maxPerIdentity: number;
  readonly #perIdentity = new Map<string, number>();
  #total = 0;

  constructor(o: { maxConnections: number; maxConnectionsPerIdentity: number }) {
    this.#maxTotal = o.maxConnections;
    this.#maxPerIdentity = o.maxConnectionsPerIdentity;
  }

  /** total is the number of client connections holding a slot. */
  get total(): number {
    return this.#total;
  }

  /** sessionsOf is the number of logged-in sessions of an identity. */
  sessionsOf(id: IdentityKey): number {
    return this.#perIdentity.get(keyOf(id)) ?? 0;
  }

  /** openConnection takes a connection slot, or returns undefined when all maxConnections are taken. */
  openConnection(): Release | undefined {
    if (this.#total >= this.#maxTotal) return undefined;
    this.#total++;
    return once(() => this.#total--);
  }

  /** admitIdentity takes one of the identity's slots, or returns undefined when it has maxConnectionsPerIdentity already. */
  admitIdentity(id: IdentityKey): Release | undefined {
    const k = keyOf(id);
    const n = this.#perIdentity.get(k) ?? 0;
    if (n >= this.#maxPerIdentity) return undefined;
    this.#perIdentity.set(k, n + 1);
    return once(() => {
      const left = (this.#perIdentity.get(k) ?? 1) - 1;
      if (left <= 0) this.#perIdentity.delete(k);
      else this.#perIdentity.set(k, left);
    });
  }
}

// JSON of the pair: no separator an issuer URL or a subject could forge.
const keyOf = (id: IdentityKey) => JSON.stringify([id.issuer, id.subject]);

function once(f: () => void): Release {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}
