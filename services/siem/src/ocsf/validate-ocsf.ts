// A validator over the compiled OCSF schema (the JSON the OCSF server exports: classes, objects,
// types, each attribute with its requirement, type, enum and sibling). The compiled schema is not
// a JSON Schema, so no JSON Schema library applies; this walks it directly. Pure: the schema is
// passed in, nothing is read here.
//
// What it checks, for the event class named by `class_uid` and recursively for every object:
// - every `required` attribute is present (profile attributes such as `cloud` and `osint` only
//   when the event names that profile in `metadata.profiles`);
// - no attribute outside the class or object (OCSF's place for anything else is `unmapped`);
// - each value has its attribute's type: the base types (string, integer within 32 bits, long
//   within JavaScript's safe range, float, boolean, json), the derived types' regex, range and
//   max length (ip_t, email_t, port_t, uuid_t, datetime_t...), arrays where `is_array`;
// - enum attributes hold one of the listed values, and a sibling caption (`activity_id`
//   → `activity_name`) equals the enum's caption unless the id is 99 (Other); `class_uid`,
//   `category_uid` and `type_uid` carry enums too, so they are checked the same way;
// - class and object constraints (`at_least_one`, `just_one`);
// - `type_uid` = class_uid * 100 + activity_id, and `category_uid` is the class's category.

/** OcsfAttribute is one attribute of a class or object in the compiled schema. */
export type OcsfAttribute = {
  readonly type: string;
  readonly requirement?: string | null;
  readonly is_array?: boolean | null;
  readonly enum?: Readonly<Record<string, { readonly caption: string }>> | null;
  readonly object_type?: string | null;
  readonly sibling?: string | null;
  readonly profile?: string | null;
};

/** OcsfConstraints are a class's or object's cross-attribute rules. */
export type OcsfConstraints = { readonly at_least_one?: readonly string[]; readonly just_one?: readonly string[] } | null | undefined;

/** OcsfType is a base or derived type of the compiled schema. */
export type OcsfType = {
  readonly type?: string | null;
  readonly regex?: string | null;
  readonly range?: readonly [number, number] | null;
  readonly max_len?: number | null;
  readonly values?: readonly unknown[] | null;
};

/** OcsfClass is an event class of the compiled schema. */
export type OcsfClass = {
  readonly name: string;
  readonly caption: string;
  readonly uid: number;
  readonly category?: string | null;
  readonly attributes: Readonly<Record<string, OcsfAttribute>>;
  readonly constraints?: OcsfConstraints;
};

/** OcsfSchema is the part of the compiled OCSF schema the validator reads. */
export type OcsfSchema = {
  readonly version: string;
  readonly classes: Readonly<Record<string, OcsfClass>>;
  readonly base_event: OcsfClass;
  readonly objects: Readonly<Record<string, { readonly attributes: Readonly<Record<string, OcsfAttribute>>; readonly constraints?: OcsfConstraints }>>;
  readonly types: Readonly<Record<string, OcsfType>>;
  readonly categories: Readonly<Record<string, { readonly uid: number }>>;
};

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const OTHER = '99';

/** OcsfValidator checks events against one compiled schema; build it once with `ocsfValidator`. */
export type OcsfValidator = {
  /** validate returns every problem found in `event`, as `path: what`; empty when it conforms. */
  validate(event: unknown): string[];
  /** classOf returns the class with this uid (0 is the Base Event), or undefined. */
  classOf(uid: number): OcsfClass | undefined;
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** ocsfValidator indexes `schema` (classes by uid, compiled regexes) and returns a validator. */
export function ocsfValidator(schema: OcsfSchema): OcsfValidator {
  const byUid = new Map<number, OcsfClass>([[0, schema.base_event]]);
  for (const c of Object.values(schema.classes)) byUid.set(c.uid, c);
  const regexes = new Map<string, RegExp>();
  for (const [name, t] of Object.entries(schema.types)) if (t.regex) regexes.set(name, new RegExp(t.regex));

  const checkType = (typeName: string, v: unknown, path: string, out: string[]): void => {
    const t = schema.types[typeName];
    if (!t) return void out.push(`${path}: unknown type ${typeName} in the schema`);
    const base = t.type ?? typeName;
    switch (base) {
      case 'string_t':
        if (typeof v !== 'string') return void out.push(`${path}: ${typeName} must be a string, got ${typeof v}`);
        if (t.max_len && v.length > t.max_len) out.push(`${path}: ${typeName} longer than ${t.max_len}`);
        if (regexes.has(typeName) && !regexes.get(typeName)!.test(v)) out.push(`${path}: ${JSON.stringify(v.slice(0, 80))} is not a valid ${typeName}`);
        return;
      case 'integer_t':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX)
          return void out.push(`${path}: ${typeName} must be a 32-bit integer`);
        break;
      case 'long_t':
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) return void out.push(`${path}: ${typeName} must be an integer (long)`);
        break;
      case 'float_t':
        if (typeof v !== 'number' || !Number.isFinite(v)) return void out.push(`${path}: ${typeName} must be a finite number`);
        break;
      case 'boolean_t':
        if (typeof v !== 'boolean') return void out.push(`${path}: ${typeName} must be a boolean`);
        return;
      case 'json_t':
        return;
      default:
        return void out.push(`${path}: unsupported base type ${base}`);
    }
    if (t.range && ((v as number) < t.range[0] || (v as number) > t.range[1])) out.push(`${path}: ${typeName} outside ${t.range[0]}..${t.range[1]}`);
  };

  const checkConstraints = (c: OcsfConstraints, obj: Record<string, unknown>, path: string, out: string[]): void => {
    if (c?.at_least_one && !c.at_least_one.some((k) => obj[k] !== undefined)) out.push(`${path}: needs at least one of ${c.at_least_one.join(', ')}`);
    if (c?.just_one && c.just_one.filter((k) => obj[k] !== undefined).length !== 1) out.push(`${path}: needs exactly one of ${c.just_one.join(', ')}`);
  };

  const checkValue = (attr: OcsfAttribute, v: unknown, path: string, profiles: ReadonlySet<string>, out: string[]): void => {
    if (attr.object_type) {
      // `object` (e.g. `unmapped`) is free-form by definition; named objects are checked recursively.
      if (attr.object_type === 'object') {
        if (!isPlainObject(v)) out.push(`${path}: must be an object`);
        return;
      }
      const def = attr.object_type ? schema.objects[attr.object_type] : undefined;
      if (!def) return void out.push(`${path}: unknown object type ${attr.object_type}`);
      if (!isPlainObject(v)) return void out.push(`${path}: ${attr.object_type} must be an object`);
      checkAttributes(def.attributes, def.constraints, v, path, profiles, out);
      return;
    }
    checkType(attr.type, v, path, out);
    if (attr.enum && (typeof v === 'number' || typeof v === 'string') && !Object.hasOwn(attr.enum, String(v))) {
      out.push(`${path}: ${String(v)} is not one of ${Object.keys(attr.enum).join(', ')}`);
    }
  };

  const checkAttributes = (
    attrs: Readonly<Record<string, OcsfAttribute>>,
    constraints: OcsfConstraints,
    obj: Record<string, unknown>,
    path: string,
    profiles: ReadonlySet<string>,
    out: string[],
  ): void => {
    for (const [name, attr] of Object.entries(attrs)) {
      const needed = attr.requirement === 'required' && (!attr.profile || profiles.has(attr.profile));
      if (needed && obj[name] === undefined) out.push(`${path}.${name}: required`);
    }
    for (const [name, v] of Object.entries(obj)) {
      const attr = attrs[name];
      const p = `${path}.${name}`;
      if (!attr) {
        out.push(`${p}: not an attribute here (anything else belongs in unmapped)`);
        continue;
      }
      if (v === undefined) continue;
      if (v === null) {
        out.push(`${p}: null (leave the attribute out instead)`);
        continue;
      }
      if (attr.is_array) {
        if (!Array.isArray(v)) out.push(`${p}: must be an array`);
        else v.forEach((x, i) => checkValue(attr, x, `${p}[${i}]`, profiles, out));
      } else if (Array.isArray(v)) out.push(`${p}: must not be an array`);
      else checkValue(attr, v, p, profiles, out);
      // A sibling caption MUST match its id, except for Other (99), whose caption the source names.
      if (attr.enum && attr.sibling && obj[attr.sibling] !== undefined && String(v) !== OTHER) {
        const caption = attr.enum[String(v)]?.caption;
        if (caption !== undefined && obj[attr.sibling] !== caption)
          out.push(`${path}.${attr.sibling}: ${JSON.stringify(obj[attr.sibling])} is not the caption of ${name} ${String(v)} (${caption})`);
      }
    }
    checkConstraints(constraints, obj, path, out);
  };

  return {
    classOf: (uid) => byUid.get(uid),
    validate(event) {
      const out: string[] = [];
      if (!isPlainObject(event)) return ['event: must be a JSON object'];
      const uid = event.class_uid;
      const cls = typeof uid === 'number' ? byUid.get(uid) : undefined;
      if (!cls) return [`event.class_uid: ${JSON.stringify(uid)} is not a class of OCSF ${schema.version}`];
      const meta = isPlainObject(event.metadata) ? event.metadata : {};
      const profiles = new Set(Array.isArray(meta.profiles) ? meta.profiles.filter((p): p is string => typeof p === 'string') : []);
      checkAttributes(cls.attributes, cls.constraints, event, 'event', profiles, out);
      if (typeof event.activity_id === 'number' && event.type_uid !== cls.uid * 100 + event.activity_id) {
        out.push(`event.type_uid: ${String(event.type_uid)} is not class_uid * 100 + activity_id (${cls.uid * 100 + event.activity_id})`);
      }
      // The Base Event belongs to no category ("other"): its category_uid is 0.
      const category = cls.category ? (schema.categories[cls.category]?.uid ?? 0) : 0;
      if (event.category_uid !== category) out.push(`event.category_uid: ${String(event.category_uid)} is not ${category} (${cls.category ?? 'other'})`);
      if (meta.version !== undefined && meta.version !== schema.version) out.push(`event.metadata.version: ${String(meta.version)} is not ${schema.version}`);
      return out;
    },
  };
}
