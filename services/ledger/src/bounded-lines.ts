import { createReadStream } from 'node:fs';

/** LineTooLong is what readBoundedLines reports for a line over its bound (the caller raises its own typed error). */
export class LineTooLong extends Error {
  readonly lineNo: number;
  readonly max: number;
  constructor(lineNo: number, max: number) {
    super(`line ${lineNo} is longer than ${max} bytes`);
    this.lineNo = lineNo;
    this.max = max;
  }
}

/**
 * readBoundedLines streams the lines of a file (split at '\n', a '\r' before it dropped) as
 * Buffers, holding at most `maxLineBytes` of one line: a longer line throws LineTooLong as soon
 * as it passes the bound, so a 1.5 GB line costs `maxLineBytes` of memory, not a crash.
 * Memory stays bounded whatever the file size (files over 2 GiB included).
 */
export async function* readBoundedLines(path: string, maxLineBytes: number): AsyncIterable<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  let lineNo = 1;
  const emit = (last: Buffer): Buffer => {
    let line = parts.length === 0 ? last : Buffer.concat([...parts, last]);
    parts = [];
    held = 0;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    return line;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let at = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, at);
      if (nl < 0) break;
      if (held + (nl - at) > maxLineBytes) throw new LineTooLong(lineNo, maxLineBytes);
      yield emit(chunk.subarray(at, nl));
      lineNo++;
      at = nl + 1;
    }
    if (at < chunk.length) {
      held += chunk.length - at;
      if (held > maxLineBytes) throw new LineTooLong(lineNo, maxLineBytes);
      parts.push(chunk.subarray(at));
    }
  }
  if (held > 0) yield emit(Buffer.alloc(0));
}
