// UpstreamWriter queues the messages a session forwards to the server and sends them in as few
// writes as possible. Messages forwarded unchanged are views of the client's chunk, so
// consecutive ones are usually adjacent in memory: they are merged into one view and the chunk
// goes out as it came, in one write (no cork/writev of N small buffers). Merging needs only
// adjacency: the bytes of the merged view are exactly the messages in order, wherever they came
// from. When the server stops reading, the client is paused until the socket drains.
import type { Socket } from 'node:net';

/** Backpressure pauses and resumes reading the client while the server is not reading. */
export type Backpressure = { pause(): void; resume(): void };

/** UpstreamWriter is one session's queue of bytes for the server. */
export class UpstreamWriter {
  #socket?: Socket;
  readonly #client: Backpressure;
  #outgoing?: Buffer;
  #corked = false;
  /** #paused: the client is paused because the server is not reading. */
  #paused = false;
  /** answers: something queued since the last flush makes the server answer the client. */
  answers = false;

  constructor(client: Backpressure) {
    this.#client = client;
  }

  /** attach starts writing to the server's socket (after login). */
  attach(s: Socket): void {
    this.#socket = s;
    s.on('drain', () => {
      if (this.#paused) {
        this.#paused = false;
        this.#client.resume();
      }
    });
  }

  /** paused tells whether the client is paused for the server's sake. */
  get paused(): boolean {
    return this.#paused;
  }

  /** queue adds a message; `answered` says the server will answer it (Query, Execute, Sync). */
  queue(buf: Buffer, answered: boolean): void {
    const s = this.#socket;
    if (!s) return;
    if (answered) this.answers = true;
    const held = this.#outgoing;
    if (held === undefined) {
      this.#outgoing = buf;
      return;
    }
    if (held.buffer === buf.buffer && held.byteOffset + held.length === buf.byteOffset) {
      this.#outgoing = Buffer.from(held.buffer, held.byteOffset, held.length + buf.length);
      return;
    }
    if (!this.#corked) {
      s.cork();
      this.#corked = true;
    }
    this.#outgoing = buf;
    this.#write(s, held);
  }

  /** flush sends what is queued. */
  flush(): void {
    const held = this.#outgoing;
    this.#outgoing = undefined;
    this.answers = false;
    const s = this.#socket;
    if (held && s) this.#write(s, held);
    if (this.#corked) {
      this.#corked = false;
      s?.uncork();
    }
  }

  /** detach drops what is queued and stops writing (the session ended). */
  detach(): void {
    this.#outgoing = undefined;
    this.#socket = undefined;
  }

  #write(s: Socket, buf: Buffer): void {
    if (!s.write(buf) && !this.#paused) {
      // The server is not reading: stop reading the client until it drains.
      this.#paused = true;
      this.#client.pause();
    }
  }
}
