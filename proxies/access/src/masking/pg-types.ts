// PostgreSQL type OIDs and the masking class of each type.
// SPEC: https://github.com/postgres/postgres/blob/master/src/include/catalog/pg_type.dat (the `oid` of each built-in type).

/** PG_OID names the built-in type OIDs masking knows. */
export const PG_OID = Object.freeze({
  bool: 16,
  bytea: 17,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  json: 114,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const);

/**
 * TypeClass groups types that mask alike:
 * - `text`: text, varchar, bpchar, name, unknown, and OID 0 (type not known);
 * - `integer`: int2, int4, int8; `numeric`: numeric, float4, float8;
 * - `temporal`: date, timestamp, timestamptz; `json`: json, jsonb; `uuid`; `bytea`;
 * - `other`: everything else (arrays, ranges, user types): masked values become NULL.
 */
export type TypeClass = 'text' | 'integer' | 'numeric' | 'temporal' | 'json' | 'uuid' | 'bytea' | 'other';

const CLASS_OF: ReadonlyMap<number, TypeClass> = new Map<number, TypeClass>([
  [0, 'text'],
  [PG_OID.text, 'text'],
  [PG_OID.varchar, 'text'],
  [PG_OID.bpchar, 'text'],
  [PG_OID.name, 'text'],
  [PG_OID.unknown, 'text'],
  [PG_OID.int2, 'integer'],
  [PG_OID.int4, 'integer'],
  [PG_OID.int8, 'integer'],
  [PG_OID.numeric, 'numeric'],
  [PG_OID.float4, 'numeric'],
  [PG_OID.float8, 'numeric'],
  [PG_OID.date, 'temporal'],
  [PG_OID.timestamp, 'temporal'],
  [PG_OID.timestamptz, 'temporal'],
  [PG_OID.json, 'json'],
  [PG_OID.jsonb, 'json'],
  [PG_OID.uuid, 'uuid'],
  [PG_OID.bytea, 'bytea'],
]);

/** typeClassOf returns the masking class of a type OID (`other` for OIDs it does not know). */
export function typeClassOf(oid: number): TypeClass {
  return CLASS_OF.get(oid) ?? 'other';
}

/**
 * INTEGER_HASH_MODULUS bounds a hashed integer so it parses as its type: int2 < 10^4
 * (max 32767), int4 < 10^9 (max 2^31-1), int8 and numerics < 10^15 (a safe JS integer).
 */
export const INTEGER_HASH_MODULUS: Readonly<Record<number, number>> = Object.freeze({
  [PG_OID.int2]: 10_000,
  [PG_OID.int4]: 1_000_000_000,
  [PG_OID.int8]: 1_000_000_000_000_000,
});
