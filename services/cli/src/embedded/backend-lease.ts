// BackendLease hands the demo database's one PostgreSQL backend to one client session at a time.
// PGlite runs a single backend, so everything a session leaves behind (prepared statements,
// cursors WITH HOLD, temp tables, settings, LISTENs, advisory locks) is seen by whoever uses it
// next. Like PgBouncer in session mode with a pool of one, a session holds the backend from its
// login to its end, the holder's `release` resets it (DISCARD ALL), and only then does the next
// waiter get it. Waiters are served first come, first served and give up after a deadline.

/** LeaseBusyError: the backend stayed held by another session for the whole wait. */
export class LeaseBusyError extends Error {}

/** Release ends a lease; the next waiter is admitted only after the returned promise's reset ran. */
export type Release = () => Promise<void>;

type Waiter = { grant: (r: Release) => void; refuse: (e: Error) => void; timer: NodeJS.Timeout };

/**
 * BackendLease serialises whole sessions on one backend. `acquire` MUST NOT resolve while
 * another lease is held or its reset is still running; `reset` runs after every release, even
 * when the holder failed, and a reset that throws MUST NOT admit anyone (the backend state is
 * unknown, so `poisoned` is set and every later acquire is refused).
 */
export class BackendLease {
  readonly #reset: () => Promise<void>;
  readonly #waiters: Waiter[] = [];
  #held = false;
  #poisoned: Error | undefined;

  constructor(reset: () => Promise<void>) {
    this.#reset = reset;
  }

  /** held tells whether a session holds the backend (or its reset is running). */
  get held(): boolean {
    return this.#held;
  }

  /** waiting is the number of sessions queued for the backend. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** poisoned is the reset failure that closed the backend to every later session, if any. */
  get poisoned(): Error | undefined {
    return this.#poisoned;
  }

  /** acquire waits up to waitMs for the backend; it rejects with LeaseBusyError past that. */
  acquire(waitMs: number): Promise<Release> {
    if (this.#poisoned) return Promise.reject(this.#poisoned);
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise<Release>((grant, refuse) => {
      const w: Waiter = {
        grant,
        refuse,
        timer: setTimeout(() => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          refuse(new LeaseBusyError(`another session held the backend for the whole ${waitMs} ms wait`));
        }, waitMs),
      };
      this.#waiters.push(w);
    });
  }

  /** refuseAll fails every waiter (server stopping). */
  refuseAll(e: Error): void {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.refuse(e);
    }
  }

  #releaser(): Release {
    let done: Promise<void> | undefined;
    return () =>
      (done ??= (async () => {
        try {
          await this.#reset();
        } catch (e) {
          this.#poisoned = new Error(`the backend could not be reset after a session, so no other session may use it: ${(e as Error).message}`, { cause: e });
          this.refuseAll(this.#poisoned);
          throw this.#poisoned;
        }
        const next = this.#waiters.shift();
        if (!next) {
          this.#held = false;
          return;
        }
        clearTimeout(next.timer);
        next.grant(this.#releaser());
      })());
  }
}
