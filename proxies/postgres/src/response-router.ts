// ResponseRouter follows the server's answers. PostgreSQL answers messages strictly in order,
// so the router keeps a FIFO of what each forwarded message will produce (Expect): it routes
// result rows to the command they belong to (digest, masking, capture), replaces the server's
// error for a refusal by the proxy's own, tells the protocol-state model what the server
// confirmed, and records each command's outcome when its last answer arrives.
import { BackendFramer, KNOWN_BACKEND_TYPES } from './backend-framer.ts';
import type { CommandRun } from './command-run.ts';
import type { BindOp, CloseOp, ParseOp, ProtocolState, RunOp, StateOp } from './protocol-state.ts';
import { PgProtocolStateError } from './errors.ts';
import { messageOf } from './lineage-gate.ts';

/** Expect is what one forwarded message will be answered with. */
export type Expect =
  | (RunOp & { readonly kind: 'query'; readonly cmd?: CommandRun; readonly replace?: Buffer })
  | (RunOp & { readonly kind: 'execute'; readonly cmd: CommandRun })
  | (ParseOp & { readonly replace?: Buffer })
  | BindOp
  | CloseOp
  | { readonly kind: 'describe'; readonly hidden?: CommandRun }
  | { readonly kind: 'sync' };

/** RouterHost is what the router tells the session. */
export type RouterHost = {
  /** completed: a command's last answer arrived (or it was skipped): record its outcome. */
  completed(cmd: CommandRun): void;
  /** notification: a NotificationResponse at buf[at, end) goes to the client. */
  notification(buf: Buffer, at: number, end: number): void;
  /** parameterStatus: a ParameterStatus at buf[at, end) goes to the client (parser-agreement.ts). */
  parameterStatus(buf: Buffer, at: number, end: number): void;
};

const stateOp = (e: Expect): StateOp | undefined => (e.kind === 'describe' || e.kind === 'sync' ? undefined : e);

/** ResponseRouter is one session's view of the server's answers. */
export class ResponseRouter {
  readonly #expect: Expect[] = [];
  readonly #framer: BackendFramer;
  readonly #max: number;
  readonly #state: ProtocolState;
  readonly #host: RouterHost;
  #quiet?: () => void;
  /** #skipping: an extended-protocol message failed; the server skips everything up to Sync. */
  #skipping = false;

  constructor(maxMessageSize: number, state: ProtocolState, host: RouterHost) {
    this.#framer = new BackendFramer(maxMessageSize);
    this.#max = maxMessageSize;
    this.#state = state;
    this.#host = host;
  }

  /** expect registers a forwarded message's answer (and tells the model it was sent). */
  expect(e: Expect): void {
    this.#expect.push(e);
    if (e.kind === 'sync') this.#state.sentSync();
    else if (e.kind === 'describe') this.#state.sentOther(false);
    else this.#state.sent(e);
  }

  /** pending is the number of answers awaited. */
  get pending(): number {
    return this.#expect.length;
  }

  /** running tells whether a command (Query, Execute) is awaiting its results. */
  get running(): boolean {
    return this.#expect.some((e) => (e.kind === 'query' || e.kind === 'execute') && e.cmd !== undefined);
  }

  /** whenQuiet resolves when every message sent so far has been answered. */
  whenQuiet(): Promise<void> {
    if (this.#expect.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.#quiet;
      this.#quiet = () => {
        prev?.();
        resolve();
      };
    });
  }

  /** abandon records the outcome of commands still running when the connection ends. */
  abandon(): void {
    for (const e of this.#expect.splice(0)) {
      const cmd = e.kind === 'query' || e.kind === 'execute' ? e.cmd : undefined;
      if (cmd) this.#host.completed(cmd);
    }
    const q = this.#quiet;
    this.#quiet = undefined;
    q?.();
  }

  #shift(): Expect {
    const e = this.#expect.shift()!;
    this.#state.settled(stateOp(e));
    return e;
  }

  // relay frames one upstream chunk in place and returns what the client gets for it. Messages
  // are located by offset; no object or view is made for a message the relay only looks at
  // (ReadyForQuery, CommandComplete's tag, ParseComplete...), and a run of DataRows that go out
  // unchanged is digested as one slice. Bytes forwarded unchanged stay as they came: when
  // nothing is dropped or replaced, the chunk itself is written, once. Only a message split
  // across reads goes through the framer's queue (its completion, then the rest in place);
  // the framer also makes the header checks (type, length, size limit) for any leftover.
  // Otherwise it returns the pieces in order (adjacent rewritten rows merged into one view),
  // written corked rather than copied into one buffer.
  relay(chunk: Buffer): Buffer | Buffer[] | undefined {
    const out = this.#relay(chunk);
    if (this.#quiet !== undefined && this.#expect.length === 0) {
      const q = this.#quiet;
      this.#quiet = undefined;
      q();
    }
    return out;
  }

  #relay(chunk: Buffer): Buffer | Buffer[] | undefined {
    const framer = this.#framer;
    let at = 0;
    let parts: Buffer[] | undefined;
    if (framer.buffered > 0) {
      at = framer.complete(chunk);
      const f = framer.next();
      if (!f) return undefined;
      const r = this.#route(f.type, f.raw, 0, f.raw.length);
      parts = r === undefined ? [f.raw] : r === null ? [] : [r];
    }
    const n = chunk.length;
    const max = this.#max;
    let run = at; // start of the bytes forwarded unchanged and not yet in parts
    let rows = -1; // start of a run of unchanged DataRows not yet digested
    let rowCount = 0;
    let rowsCmd: CommandRun | undefined;
    // A run of adjacent replacements not yet in parts: tail's memory from its start to tailEnd.
    let tail: Buffer | undefined;
    let tailEnd = 0;
    // replace sends r (null: nothing) instead of chunk[from, to).
    const replace = (from: number, to: number, r: Buffer | null): void => {
      if (from > run) {
        if (tail !== undefined) {
          (parts ??= []).push(runView(tail, tailEnd));
          tail = undefined;
        }
        (parts ??= []).push(chunk.subarray(run, from));
      }
      if (r !== null) {
        // Consecutive rewritten rows usually sit back to back in one slab: they only extend
        // the run, which becomes one view when something else comes.
        if (tail !== undefined && tail.buffer === r.buffer && tailEnd === r.byteOffset) tailEnd += r.length;
        else {
          if (tail !== undefined) (parts ??= []).push(runView(tail, tailEnd));
          tail = r;
          tailEnd = r.byteOffset + r.length;
        }
      }
      run = to;
    };
    // endRows digests (or masks) the run of DataRows chunk[rows, at). The chunk is this read's
    // own copy (upstream.ts) and nothing else holds its rows: they are masked in place.
    const endRows = (): void => {
      const raw = chunk.subarray(rows, at);
      if (rowsCmd!.rewrites) {
        const out = rowsCmd!.maskedRows(raw, rowCount, true);
        if (out !== raw) replace(rows, at, out);
      } else rowsCmd!.dataRows(raw, rowCount);
      rows = -1;
      rowCount = 0;
    };
    while (n - at >= 5) {
      const type = chunk[at];
      const len = chunk.readInt32BE(at + 1);
      // A bad header stops the scan; the framer, given the rest below, reports it.
      if (KNOWN_BACKEND_TYPES[type] === 0 || len < 4 || len > max) break;
      const end = at + 1 + len;
      if (end > n) break;
      if (type === 0x44) {
        const h = this.#expect[0];
        const cmd = h !== undefined && (h.kind === 'query' || h.kind === 'execute') ? h.cmd : undefined;
        // Rows forwarded unchanged, or masked a run at a time, are taken as a run.
        if (cmd === undefined || !cmd.rewrites || cmd.masksRuns) {
          if (cmd !== undefined) {
            if (rows < 0) {
              rows = at;
              rowsCmd = cmd;
            }
            rowCount++;
          }
          at = end;
          continue;
        }
      }
      if (rows >= 0) endRows();
      const r = this.#route(type, chunk, at, end);
      if (r !== undefined) replace(at, end, r);
      at = end;
    }
    if (rows >= 0) endRows();
    if (tail !== undefined) (parts ??= []).push(runView(tail, tailEnd));
    if (at < n) {
      framer.push(chunk.subarray(at));
      if (framer.next() !== undefined) throw new PgProtocolStateError('upstream framing out of step'); // unreachable: the scan stops only before an incomplete or invalid message
    }
    if (parts === undefined) return run === 0 && at === n ? chunk : at > run ? chunk.subarray(run, at) : undefined;
    if (at > run) parts.push(chunk.subarray(run, at));
    return parts.length === 1 ? parts[0] : parts.length === 0 ? undefined : parts;
  }

  // #route follows one server message at buf[at, end): undefined forwards it unchanged, null
  // drops it, a Buffer replaces it. A view of the message is made only where one is needed.
  #route(type: number, buf: Buffer, at: number, end: number): Buffer | null | undefined {
    const h = this.#expect[0];
    switch (type) {
      case 0x44: // D DataRow
        if ((h?.kind === 'query' || h?.kind === 'execute') && h.cmd) {
          const raw = buf.subarray(at, end);
          const out = h.cmd.dataRow(raw);
          return out === raw ? undefined : out;
        }
        return undefined;
      case 0x43: // C CommandComplete
        if (h?.kind === 'execute') {
          this.#state.completed(h);
          this.#shift();
          h.cmd.commandComplete(buf, at, end);
          this.#host.completed(h.cmd);
        } else if (h?.kind === 'query') {
          this.#state.completed(h);
          h.cmd?.commandComplete(buf, at, end);
        }
        return undefined;
      case 0x5a: // Z ReadyForQuery
        // It answers a Query or a Sync; whatever is still expected before it was skipped by
        // the server after an error (messages sent after the error reached it).
        while (this.#expect.length > 0) {
          const e = this.#shift();
          if (e.kind === 'query' && !this.#skipping) {
            if (e.cmd) this.#host.completed(e.cmd);
            break;
          }
          if (e.kind === 'sync') break;
          if ((e.kind === 'execute' || e.kind === 'query') && e.cmd) {
            e.cmd.skipped();
            this.#host.completed(e.cmd);
          }
        }
        this.#skipping = false;
        this.#state.ready(end - at >= 6 ? buf[at + 5] : 0x49);
        return undefined;
      case 0x31: // 1 ParseComplete
        if (h?.kind === 'parse') {
          this.#state.parsed(h);
          this.#shift();
        }
        return undefined;
      case 0x32: // 2 BindComplete
        if (h?.kind === 'bind') {
          this.#state.bound(h);
          this.#shift();
        }
        return undefined;
      case 0x33: // 3 CloseComplete
        if (h?.kind === 'close') {
          this.#state.closed(h);
          this.#shift();
        }
        return undefined;
      case 0x54: // T RowDescription
        if (h?.kind === 'describe') {
          this.#shift();
          if (h.hidden) {
            h.hidden.rowDescription(buf.subarray(at, end));
            return null;
          }
        } else if (h?.kind === 'query' && h.cmd?.rewrites) h.cmd.rowDescription(buf.subarray(at, end));
        return undefined;
      case 0x6e: // n NoData
        if (h?.kind === 'describe') {
          this.#shift();
          if (h.hidden) return null;
        }
        return undefined;
      case 0x49: // I EmptyQueryResponse
      case 0x73: // s PortalSuspended
        if (h?.kind === 'execute') {
          this.#shift();
          this.#host.completed(h.cmd);
        }
        return undefined;
      case 0x45: {
        // E ErrorResponse
        const raw = buf.subarray(at, end);
        const out = this.#routeError(messageOf(h, raw), h);
        return out === raw ? undefined : out;
      }
      case 0x4e: {
        // N NoticeResponse: withheld like errors while a statement reading masked columns runs.
        const raw = buf.subarray(at, end);
        const out = messageOf(h, raw);
        return out === raw ? undefined : out;
      }
      case 0x64: // d CopyData (COPY TO STDOUT)
        if ((h?.kind === 'query' || h?.kind === 'execute') && h.cmd) h.cmd.copyData(buf.subarray(at, end));
        return undefined;
      case 0x41: // A NotificationResponse
        this.#host.notification(buf, at, end);
        return undefined;
      case 0x53: // S ParameterStatus
        this.#host.parameterStatus(buf, at, end);
        return undefined;
      case 0x52: // R, K: only valid during login
      case 0x4b:
        throw new PgProtocolStateError(`upstream sent '${String.fromCharCode(type)}' after login`);
      default: // t G H W c V: passed through (notices, parameter changes, COPY)
        return undefined;
    }
  }

  #routeError(raw: Buffer, h: Expect | undefined): Buffer {
    if (!h) return raw; // FATAL from the server (shutdown, termination): it closes next
    this.#state.failed(stateOp(h));
    if (h.kind === 'query') {
      h.cmd?.error(raw);
      return h.replace ?? raw;
    }
    // Extended protocol: the server skips everything up to Sync; so do the expectations, and
    // those of messages sent after the error reached it are skipped when that Sync is answered.
    this.#skipping = true;
    const replace = h.kind === 'parse' ? h.replace : undefined;
    while (this.#expect.length > 0 && this.#expect[0].kind !== 'sync') {
      const e = this.#shift();
      if (e.kind === 'execute') {
        e.cmd.error(raw);
        this.#host.completed(e.cmd);
      } else if (e.kind === 'query' && e.cmd) {
        // A Query after the failed message: the server skips it too.
        e.cmd.skipped();
        this.#host.completed(e.cmd);
      }
    }
    return replace ?? raw;
  }
}

// runView returns the bytes of `first`'s memory from its start to `end` (first itself when
// nothing was appended): the caller checked that what lies there is exactly the run's pieces.
function runView(first: Buffer, end: number): Buffer {
  return end === first.byteOffset + first.length ? first : Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}
