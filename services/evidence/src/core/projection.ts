// Reads only the fields a report's folds look at from an entry's Avro bytes, walking the writer
// schema's Parsing Canonical Form and skipping everything else without building it. A report
// folds over every event of a month; decoding each one whole would cost several times the scan.
// What a row finally claims is always derived from a full decode of its cited entries (the
// adapter re-decodes them), so a projection can only change which entries are cited, never what
// a cited entry is said to hold. Any read past the end or malformed varint throws; the caller
// then falls back to the full decoder, which names the problem.

/**
 * Pick names the fields to read: `true` reads the whole value, a nested Pick reads some fields of
 * a record (or of a null|record union), and `'presence'` reads a string as `''` when it is empty or
 * white space only and as `'*'` otherwise, without decoding it (for fields only checked for content).
 */
export type Pick = { readonly [field: string]: true | 'presence' | Pick };

/** PRESENT is what a 'presence' field reads as when it has content. */
export const PRESENT = '*';

type State = { buf: Buffer; pos: number };
type Read = (s: State) => unknown;
type Schema =
  | string
  | { type: string; name?: string; fields?: { name: string; type: Schema }[]; symbols?: string[]; items?: Schema; values?: Schema; size?: number }
  | Schema[];

/** ProjectionError: the bytes do not follow the schema (truncated, overlong varint, bad union branch). */
export class ProjectionError extends Error {}

function long(s: State): number {
  const buf = s.buf;
  const pos = s.pos;
  // Fast path: most varints of an event (lengths, enum indexes, union branches, small numbers)
  // fit in one or two bytes; reading them with 32-bit operations is several times cheaper.
  if (pos + 1 < buf.length) {
    const b0 = buf[pos];
    if (b0 < 0x80) {
      s.pos = pos + 1;
      return (b0 >>> 1) ^ -(b0 & 1);
    }
    const b1 = buf[pos + 1];
    if (b1 < 0x80) {
      const n = (b0 & 0x7f) | (b1 << 7);
      s.pos = pos + 2;
      return (n >>> 1) ^ -(n & 1);
    }
  }
  return longSlow(s);
}

function longSlow(s: State): number {
  const buf = s.buf;
  let p = s.pos;
  // The low 28 bits in 32-bit integer arithmetic (a timestamp in microseconds takes 8 bytes),
  // the rest as a double: every step stays exact below 2^53.
  let lo = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= buf.length) throw new ProjectionError('truncated varint');
    const b = buf[p++];
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      s.pos = p;
      return (lo >>> 1) ^ -(lo & 1);
    }
  }
  let n = lo >>> 0;
  let mul = 2 ** 28;
  for (let i = 4; i < 10; i++) {
    if (p >= buf.length) throw new ProjectionError('truncated varint');
    const b = buf[p++];
    n += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (n > Number.MAX_SAFE_INTEGER) throw new ProjectionError('long outside the safe integer range');
      s.pos = p;
      // zigzag: even n is n/2, odd n is -(n+1)/2
      return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    }
    mul *= 128;
  }
  throw new ProjectionError('varint longer than 10 bytes');
}

function span(s: State, n: number): number {
  if (n < 0 || s.pos + n > s.buf.length) throw new ProjectionError('length past the end of the entry');
  const start = s.pos;
  s.pos += n;
  return start;
}

/** skipVarint advances past a varint without computing it (a field nobody reads). */
function skipVarint(s: State): void {
  const buf = s.buf;
  const end = Math.min(buf.length, s.pos + 10);
  for (let p = s.pos; p < end; p++) {
    if (buf[p] < 0x80) {
      s.pos = p + 1;
      return;
    }
  }
  throw new ProjectionError(s.pos + 10 <= buf.length ? 'varint longer than 10 bytes' : 'truncated varint');
}

const INTERN_SLOTS = 4096;
const INTERN_MAX = 96;

/**
 * internedString reads a string field, returning the same string object for the same bytes
 * where it can: a report reads the issuer, subject, target and session of every event, and
 * the events of one session repeat them. One small table per field site, keyed by a few
 * bytes; a slot holds an ASCII string only, so comparing its char codes with the bytes is
 * comparing the bytes (UTF-8 encodes ASCII as itself; a byte >= 0x80 never matches).
 */
function internedString(): Read {
  const slots: (string | undefined)[] = new Array(INTERN_SLOTS);
  return (s) => {
    const n = long(s);
    const start = span(s, n);
    const buf = s.buf;
    if (n === 0) return '';
    if (n > INTERN_MAX) return buf.toString('utf8', start, start + n);
    const last = start + n - 1;
    const slot = (n * 31 + buf[last] * 997 + buf[last - (n >> 1)] * 61 + buf[start + (n >> 2)]) & (INTERN_SLOTS - 1);
    const cached = slots[slot];
    if (cached !== undefined && cached.length === n) {
      let i = 0;
      while (i < n && cached.charCodeAt(i) === buf[start + i]) i++;
      if (i === n) return cached;
    }
    const str = buf.toString('utf8', start, start + n);
    if (str.length === n && /^[\x00-\x7f]*$/.test(str)) slots[slot] = str;
    return str;
  };
}

function blocks(s: State, item: (s: State) => void): void {
  for (;;) {
    let count = long(s);
    if (count === 0) return;
    if (count < 0) {
      count = -count;
      long(s); // block size in bytes; items are still read one by one
    }
    for (let i = 0; i < count; i++) item(s);
  }
}

/** compileProjection returns a reader of `pick` from the record at `offset` to the end of `bytes`, written with the record schema `canonical` (its Parsing Canonical Form). */
export function compileProjection(canonical: string, pick: Pick): (bytes: Buffer, offset: number) => Record<string, unknown> {
  const named = new Map<string, Schema>();
  const resolve = (t: Schema): Schema => (typeof t === 'string' && named.has(t) ? named.get(t)! : t);
  const register = (t: Schema): void => {
    if (Array.isArray(t)) return t.forEach(register);
    if (typeof t !== 'object') return;
    if (t.name && (t.type === 'record' || t.type === 'enum' || t.type === 'fixed')) named.set(t.name, t);
    for (const f of t.fields ?? []) register(f.type);
    if (t.items) register(t.items);
    if (t.values) register(t.values);
  };
  const root = JSON.parse(canonical) as Schema;
  register(root);

  function full(t0: Schema): Read {
    const t = resolve(t0);
    if (Array.isArray(t)) {
      const branches = t.map(full);
      return (s) => {
        const i = long(s);
        if (i < 0 || i >= branches.length) throw new ProjectionError(`union branch ${i} out of range`);
        return branches[i](s);
      };
    }
    const type = typeof t === 'string' ? t : t.type;
    switch (type) {
      case 'null':
        return () => null;
      case 'boolean':
        return (s) => {
          if (s.pos >= s.buf.length) throw new ProjectionError('truncated boolean');
          return s.buf[s.pos++] !== 0;
        };
      case 'int':
      case 'long':
        return long;
      case 'float':
        return (s) => s.buf.readFloatLE(span(s, 4));
      case 'double':
        return (s) => s.buf.readDoubleLE(span(s, 8));
      case 'string':
        return internedString();
      case 'bytes':
        return (s) => {
          const n = long(s);
          const start = span(s, n);
          return Buffer.from(s.buf.subarray(start, start + n));
        };
      case 'fixed': {
        const size = (t as { size: number }).size;
        return (s) => Buffer.from(s.buf.subarray(span(s, size), s.pos));
      }
      case 'enum': {
        const symbols = (t as { symbols: string[] }).symbols;
        return (s) => {
          const i = long(s);
          if (i < 0 || i >= symbols.length) throw new ProjectionError(`enum index ${i} out of range`);
          return symbols[i];
        };
      }
      case 'array': {
        const item = full((t as { items: Schema }).items);
        return (s) => {
          const out: unknown[] = [];
          blocks(s, (x) => out.push(item(x)));
          return out;
        };
      }
      case 'map': {
        const key = full('string');
        const value = full((t as { values: Schema }).values);
        return (s) => {
          const out: Record<string, unknown> = {};
          blocks(s, (x) => {
            const k = key(x) as string;
            out[k] = value(x);
          });
          return out;
        };
      }
      case 'record':
        return record(t as { fields: { name: string; type: Schema }[] });
      default:
        throw new ProjectionError(`unknown Avro type ${type}`);
    }
  }

  // skip advances past a value without building it (strings are not even decoded).
  function skip(t0: Schema): Read {
    const t = resolve(t0);
    if (Array.isArray(t)) {
      const branches = t.map(skip);
      return (s) => {
        const i = long(s);
        if (i < 0 || i >= branches.length) throw new ProjectionError(`union branch ${i} out of range`);
        return branches[i](s);
      };
    }
    const type = typeof t === 'string' ? t : t.type;
    switch (type) {
      case 'string':
      case 'bytes':
        return (s) => span(s, long(s));
      case 'array': {
        const item = skip((t as { items: Schema }).items);
        return (s) => blocks(s, item);
      }
      case 'map': {
        const value = skip((t as { values: Schema }).values);
        return (s) =>
          blocks(s, (x) => {
            span(x, long(x));
            value(x);
          });
      }
      case 'record': {
        const fields = (t as { fields: { type: Schema }[] }).fields.map((f) => skip(f.type));
        return (s) => {
          for (const f of fields) f(s);
        };
      }
      default:
        return full(t);
    }
  }

  // presence reads a string (or null|string) as '' or PRESENT: blank means white space only, as String.prototype.trim sees it.
  function presence(t0: Schema): Read {
    const t = resolve(t0);
    const str = (s: State) => {
      const n = long(s);
      const start = span(s, n);
      for (let i = start; i < start + n; i++) {
        const b = s.buf[i];
        // Beyond ASCII, white space is what String.prototype.trim says (as the fold's check).
        if (b >= 0x80) return s.buf.toString('utf8', start, start + n).trim() === '' ? '' : PRESENT;
        if (b !== 0x20 && (b < 0x09 || b > 0x0d)) return PRESENT;
      }
      return '';
    };
    if (t === 'string') return str;
    if (Array.isArray(t) && t.length === 2 && t.includes('null') && t.includes('string')) {
      const nullFirst = t[0] === 'null';
      return (s) => {
        const i = long(s);
        if (i !== 0 && i !== 1) throw new ProjectionError(`union branch ${i} out of range`);
        return (i === 0) === nullFirst ? null : str(s);
      };
    }
    return full(t);
  }

  function record(t: { fields: { name: string; type: Schema }[] }): Read {
    const steps = t.fields.map((f) => ({ name: f.name, read: full(f.type) }));
    return (s) => {
      const out: Record<string, unknown> = {};
      for (const step of steps) out[step.name] = step.read(s);
      return out;
    };
  }

  // The projection itself is generated as straight-line code (as avsc does for whole records):
  // one function per writer schema, strings skipped by length, varints read inline, and closures
  // only for what is rare (arrays, maps, presence checks).
  const helpers: Read[] = [];
  const call = (r: Read) => {
    helpers.push(r);
    return `R[${helpers.length - 1}](s)`;
  };
  let vars = 0;
  const isRecord = (t: Schema): t is { type: 'record'; fields: { name: string; type: Schema }[] } =>
    typeof t === 'object' && !Array.isArray(t) && t.type === 'record';
  function union(t: Schema[], branch: (b: Schema) => string): string {
    return `switch (L(s)) {\n${t.map((b, i) => `case ${i}: {\n${branch(b)}\nbreak;\n}`).join('\n')}\ndefault: throw new E('union branch out of range');\n}`;
  }
  // Skipped arrays and maps are loops in the generated code too: a closure call per item (the
  // groups and authentication methods of every event's actor) cost more than reading them.
  function blockLoop(body: string): string {
    const c = `c${vars++}`;
    return `for (;;) {\nlet ${c} = L(s);\nif (${c} === 0) break;\nif (${c} < 0) { ${c} = -${c}; L(s); }\nfor (; ${c} > 0; ${c}--) {\n${body}\n}\n}`;
  }
  function emit(t0: Schema, want: true | 'presence' | Pick | undefined, target: string): string {
    const t = resolve(t0);
    if (want === undefined) {
      if (t === 'string' || t === 'bytes') return 'SP(s, L(s));';
      if (t === 'int' || t === 'long' || (typeof t === 'object' && !Array.isArray(t) && t.type === 'enum')) return 'SV(s);';
      if (t === 'null') return '';
      if (isRecord(t)) return t.fields.map((f) => emit(f.type, undefined, '')).join('\n');
      if (Array.isArray(t)) return union(t, (b) => emit(b, undefined, ''));
      if (typeof t === 'object' && t.type === 'array') return blockLoop(emit(t.items!, undefined, ''));
      if (typeof t === 'object' && t.type === 'map') return blockLoop(`SP(s, L(s));\n${emit(t.values!, undefined, '')}`);
      return `${call(skip(t))};`;
    }
    if (want === 'presence') return `${target} = ${call(presence(t))};`;
    if (want === true) {
      if (t === 'null') return `${target} = null;`;
      if (t === 'int' || t === 'long') return `${target} = L(s);`;
      if (t === 'string') return `${target} = ${call(internedString())};`;
      return `${target} = ${call(full(t))};`;
    }
    if (isRecord(t)) {
      const v = `o${vars++}`;
      const fields = t.fields.map((f) => emit(f.type, want[f.name], want[f.name] === undefined ? '' : `${v}[${JSON.stringify(f.name)}]`));
      return `const ${v} = {};\n${fields.join('\n')}\n${target} = ${v};`;
    }
    if (Array.isArray(t)) return union(t, (b) => emit(b, isRecord(resolve(b)) ? want : true, target));
    return `${target} = ${call(full(t))};`;
  }
  // The source is built from our own schema files' canonical form: names are JSON-quoted, nothing else is interpolated.
  const read = new Function('L', 'SP', 'SV', 'R', 'E', `return function (s) {\nlet out;\n${emit(root, pick, 'out')}\nreturn out;\n};`)(
    long,
    span,
    skipVarint,
    helpers,
    ProjectionError,
  ) as Read;
  return (bytes, offset) => {
    const s = { buf: bytes, pos: offset };
    const out = read(s) as Record<string, unknown>;
    if (s.pos !== bytes.length) throw new ProjectionError(`${bytes.length - s.pos} bytes after the record`);
    return out;
  };
}
