// EnvelopeSplicer: the encode fast path for a session's events. Every event of one session
// carries the same actor, source, target and feeder, which are most of an event's bytes and most
// of its validation work. Avro's binary encoding of a record is the concatenation of its fields'
// encodings in schema order:
// SPEC: https://avro.apache.org/docs/1.11.1/specification/#binary-encoding
//   "A record is encoded by encoding the values of its fields in the order that they are
//    declared."
// So when those four fields are adjacent in a record schema, the record's body is
//   encode(fields before them) ‖ encode(actor, source, target, feeder) ‖ encode(fields after them)
// and the middle part can be encoded (and validated) once per session. Each event is then
// validated and encoded only for its own fields.
//
// Contract: `encode` MUST write exactly the bytes the full record type would write, or report
// that the fast path does not apply (-1) so the caller falls back to the full encoder, which
// also produces the error for an invalid event. It MUST NOT write anything for an event that
// fails validation (noUndeclaredFields included).
import avro from 'avsc';
import type { Type } from 'avsc';
import { exactLongHook } from './exact-long.ts';
import { compileRecordWriter, type RecordWriter } from './compiled-writer.ts';

/** ENVELOPE_FIELDS are the per-session fields, in the order the event schemas declare them. */
export const ENVELOPE_FIELDS = ['actor', 'source', 'target', 'feeder'] as const;

/** SessionEnvelope is the values shared by every event of one session. */
export type SessionEnvelope = { readonly actor: unknown; readonly source: unknown; readonly target: unknown; readonly feeder: unknown };

/** EventHead is what the recorder adds to a draft besides the envelope: the fields before the envelope. */
export type EventHead = { readonly eventId: string; readonly type: string; readonly occurredAt: number; readonly sessionId: string; readonly seq: number };

/** HEAD_AND_ENVELOPE are the fields a draft does not carry (the recorder's and the session's). */
const HEAD_AND_ENVELOPE: ReadonlySet<string> = new Set(['eventId', 'occurredAt', 'sessionId', 'seq', ...ENVELOPE_FIELDS]);

/** EncodedEnvelope is a validated SessionEnvelope and its Avro bytes (the four fields, in order). */
export type EncodedEnvelope = { readonly values: SessionEnvelope; readonly bytes: Buffer };

type Field = { name: string; type: unknown };
type RecordSchema = { name: string; namespace?: string; fields: Field[] };
type Plan = {
  readonly head: Type;
  readonly tail: Type;
  readonly declared: ReadonlySet<string>;
  /** longs are the top-level long fields written with avsc's native long (see NATIVE_LONG_MAX). */
  readonly longs: readonly string[];
  /** Compiled writers of head and tail (compiled-writer.ts), when both pieces compile. */
  readonly writers?: { readonly head: RecordWriter; readonly tail: RecordWriter };
  /** The key order of the last draft that passed draftKeysOk (drafts come from a few object literals). */
  lastKeys?: string[];
};

/**
 * draftKeysOk tells whether every key of `draft` is a field of the plan's type and none is a
 * head or envelope field. A draft with the very key order of the last one that passed is
 * accepted by comparing keys one by one (property names are interned: pointer comparisons)
 * instead of two set lookups per key.
 */
function draftKeysOk(plan: Plan, draft: Record<string, unknown>): boolean {
  const last = plan.lastKeys;
  if (last !== undefined) {
    let i = 0;
    let same = true;
    for (const k in draft) {
      if (k !== last[i++]) {
        same = false;
        break;
      }
    }
    if (same && i === last.length) return true;
  }
  const keys: string[] = [];
  for (const k in draft) {
    if (HEAD_AND_ENVELOPE.has(k) || !plan.declared.has(k)) return false;
    keys.push(k);
  }
  plan.lastKeys = keys;
  return true;
}
type Pieces = { head: Type; tail: Type };

/**
 * NATIVE_LONG_MAX bounds the longs the fast path writes with avsc's own long type. Its zig-zag
 * value 2|n| (or 2|n|-1) is computed in float arithmetic, exact while it is at most 2^53, so for
 * |n| <= 2^52; a larger value (rare: a timestamp in microseconds is ~2^50.6) falls back to the
 * full encoder, whose ExactLongType is exact over the whole safe range. The native write avoids
 * ExactLongType's BigInt and 8-byte buffer per long.
 */
export const NATIVE_LONG_MAX = 2 ** 52;

type AnyType = { typeName: string; fields?: { name: string; type: AnyType }[]; itemsType?: AnyType; valuesType?: AnyType; types?: AnyType[] };

function containsLong(t: AnyType, seen = new Set<AnyType>()): boolean {
  if (seen.has(t)) return false;
  seen.add(t);
  if (t.typeName === 'long') return true;
  if (t.fields) return t.fields.some((f) => containsLong(f.type, seen));
  if (t.itemsType) return containsLong(t.itemsType, seen);
  if (t.valuesType) return containsLong(t.valuesType, seen);
  if (t.types) return t.types.some((u) => containsLong(u, seen));
  return false;
}

/** topLongs names a record's long fields (plain, or a union branch); undefined when a long sits deeper. */
function topLongs(record: Type): string[] | undefined {
  const out: string[] = [];
  for (const f of (record as unknown as AnyType).fields ?? []) {
    const t = f.type;
    if (t.typeName === 'long') out.push(f.name);
    else if (t.types?.some((u) => u.typeName === 'long') && t.types.every((u) => u.typeName === 'long' || !containsLong(u))) out.push(f.name);
    else if (containsLong(t)) return undefined;
  }
  return out;
}

const VALID_OPTS = { noUndeclaredFields: true } as const;

function namespaceOf(r: RecordSchema): string | undefined {
  if (r.namespace !== undefined) return r.namespace;
  const dot = r.name.lastIndexOf('.');
  return dot > 0 ? r.name.slice(0, dot) : undefined;
}

const shortName = (r: RecordSchema) => r.name.slice(r.name.lastIndexOf('.') + 1);

/** PartsWriter writes an event's body from its parts (EnvelopeSplicer.partsWriter). */
export type PartsWriter = (
  head: EventHead,
  draft: Record<string, unknown>,
  envelope: SessionEnvelope,
  env: EncodedEnvelope,
  out: Buffer,
  pos: number,
) => number;

/** EnvelopeSplicer holds, per event type, the schema split around the envelope fields. */
export class EnvelopeSplicer {
  readonly #plans = new Map<string, Plan>();
  #envelope?: Type;

  constructor(shared: unknown[], records: unknown[]) {
    const exact = this.#split(shared, records, exactLongHook, true);
    const native = this.#split(shared, records, undefined, false);
    for (const [name, ex] of exact.pieces) {
      const nat = native.pieces.get(name);
      const longs = nat && [topLongs(nat.head), topLongs(nat.tail)];
      const declared = exact.declared.get(name)!;
      // Compiled from the native pieces: the writers check every long they write, however deep
      // (|n| <= 2^52, where native and exact bytes agree), and decline the others.
      const head = nat && compileRecordWriter(nat.head);
      const tail = nat && compileRecordWriter(nat.tail);
      const writers = head && tail ? { writers: { head, tail } } : {};
      if (nat && longs?.[0] && longs[1]) this.#plans.set(name, { ...nat, declared, longs: [...longs[0], ...longs[1]], ...writers });
      // A long below the top level (DataMasked's masks[].row): avsc's path keeps the exact pieces.
      else this.#plans.set(name, { ...ex, declared, longs: [], ...writers });
    }
  }

  // #split parses every record split around its envelope fields, in its own registry: the split
  // records are parsed in the order of the originals, so a named type defined inline in one
  // record is known to the records after it, as in the codec. The envelope type is always the
  // exact one (it is encoded once per session, speed does not matter there).
  #split(shared: unknown[], records: unknown[], typeHook: typeof exactLongHook | undefined, keepEnvelope: boolean) {
    const pieces = new Map<string, Pieces>();
    const declaredOf = new Map<string, ReadonlySet<string>>();
    const registry: Record<string, Type> = {};
    const opts = { registry, ...(typeHook ? { typeHook } : {}) } as unknown as avro.ForSchemaOptions;
    for (const s of shared) avro.Type.forSchema(s as avro.Schema, opts);
    let envelopeJson: string | undefined;
    for (const raw of records) {
      const r = raw as RecordSchema;
      const names = r.fields.map((f) => f.name);
      const at = names.indexOf(ENVELOPE_FIELDS[0]);
      const parts = at < 0 ? [] : r.fields.slice(at, at + ENVELOPE_FIELDS.length);
      const adjacent = parts.length === ENVELOPE_FIELDS.length && ENVELOPE_FIELDS.every((n, i) => parts[i].name === n);
      const json = adjacent ? JSON.stringify(parts) : undefined;
      try {
        if (!adjacent || (envelopeJson !== undefined && json !== envelopeJson)) {
          avro.Type.forSchema(raw as avro.Schema, opts);
          continue;
        }
        const ns = namespaceOf(r);
        const piece = (suffix: string, fields: Field[]) =>
          avro.Type.forSchema({ type: 'record', name: `${shortName(r)}__${suffix}`, ...(ns ? { namespace: ns } : {}), fields } as avro.Schema, opts);
        const head = piece('spliceHead', r.fields.slice(0, at));
        if (envelopeJson === undefined) {
          envelopeJson = json;
          const envelope = piece('spliceEnvelope', parts);
          if (keepEnvelope) this.#envelope = envelope;
        }
        const tail = piece('spliceTail', r.fields.slice(at + ENVELOPE_FIELDS.length));
        pieces.set(shortName(r), { head, tail });
        declaredOf.set(shortName(r), new Set(names));
      } catch {
        // A schema this split cannot express keeps the full encoder (no plan): never wrong, only slower.
        pieces.delete(shortName(r));
      }
    }
    return { pieces, declared: declaredOf };
  }

  /** hasPlan tells whether events of `type` can take the fast path. */
  hasPlan(type: string): boolean {
    return this.#plans.has(type);
  }

  /** envelope validates and encodes a session's envelope; undefined when invalid (the full encoder then reports why). */
  envelope(env: SessionEnvelope): EncodedEnvelope | undefined {
    const values = { actor: env.actor, source: env.source, target: env.target, feeder: env.feeder };
    if (!this.#envelope?.isValid(values, VALID_OPTS)) return undefined;
    return Object.freeze({ values: Object.freeze(values), bytes: this.#envelope.toBuffer(values) });
  }

  /**
   * partsWriter returns the writer of events of `type` from their parts, or undefined when the
   * type has no compiled writers. It writes the body of the event that
   * `{ ...draft, ...head, ...envelope }` would be, without building it: `head` through the
   * compiled head writer, then `env.bytes`, then `draft` through the compiled tail writer. It
   * returns the end position, or -1 when this path does not apply (`head.type` is not the
   * draft's, the draft carries a head or envelope field or one its type does not declare, or a
   * value the writers do not handle exactly); the caller then builds the event and takes
   * `encode`. Bound to the type once, so a caller that keeps it looks nothing up per event.
   */
  partsWriter(type: string): PartsWriter | undefined {
    const plan = this.#plans.get(type);
    const w = plan?.writers;
    if (!plan || !w) return undefined;
    return (head, draft, envelope, env, out, pos) => {
      if (draft.type !== head.type || head.type !== type) return -1;
      // `env` MUST be the encoding of this very envelope (as encode checks on the event).
      const v = env.values;
      if (envelope.actor !== v.actor || envelope.source !== v.source || envelope.target !== v.target || envelope.feeder !== v.feeder) return -1;
      if (!draftKeysOk(plan, draft)) return -1;
      let q = w.head(head as unknown as Record<string, unknown>, out, pos);
      if (q < 0 || q + env.bytes.length > out.length) return -1;
      q += env.bytes.copy(out, q);
      return w.tail(draft, out, q);
    };
  }

  /**
   * encode writes the body of `event` into `out` at `pos`, splicing in `env.bytes`, and returns
   * the end position; -1 when the fast path does not apply: no plan for the type, envelope
   * values not the very objects of `env`, an invalid event, or `out` too small.
   */
  encode(event: { type?: unknown } & Record<string, unknown>, env: EncodedEnvelope, out: Buffer, pos: number): number {
    const plan = typeof event.type === 'string' ? this.#plans.get(event.type) : undefined;
    if (!plan) return -1;
    const v = env.values;
    if (event.actor !== v.actor || event.source !== v.source || event.target !== v.target || event.feeder !== v.feeder) return -1;
    // noUndeclaredFields over the whole record: the split types see only their own fields.
    for (const k in event) if (!plan.declared.has(k)) return -1;
    for (const k of plan.longs) {
      const n = event[k];
      if (typeof n === 'number' && (n > NATIVE_LONG_MAX || n < -NATIVE_LONG_MAX)) return -1;
    }
    const w = plan.writers;
    if (w) {
      // One pass that checks and writes; -1 means "not handled exactly", never "invalid", so
      // avsc's path below then decides (writing over whatever was written here).
      let q = w.head(event, out, pos);
      if (q >= 0 && q + env.bytes.length <= out.length) {
        q += env.bytes.copy(out, q);
        q = w.tail(event, out, q);
        if (q >= 0) return q;
      }
    }
    if (!plan.head.isValid(event) || !plan.tail.isValid(event)) return -1;
    let p = plan.head.encode(event, out, pos);
    if (p < 0 || p + env.bytes.length > out.length) return -1;
    p += env.bytes.copy(out, p);
    p = plan.tail.encode(event, out, p);
    return p < 0 ? -1 : p;
  }
}
