// The OCSF 1.5.0 mapping of ledger entries. Pure: a decoded entry plus its ledger position and
// covering checkpoint in, one OCSF object out. Every entry maps to exactly one object; what has
// no OCSF class of its own (the ledger's InputRejected, bytes the codec cannot decode, a type
// this code does not know) becomes a Base Event (class 0) naming the raw type, never nothing.
//
// Classes (OCSF 1.5.0, compiled schema in ../../ocsf/):
//   SessionStarted, AuthenticationFailed, SessionEnded   → Authentication (3002): Logon / Logoff
//   CommandIssued/Completed/Blocked, ApprovalRequested/Decided/Refused, DataMasked,
//   ResultCaptured, MaskedValueOpened (PostgreSQL)       → Datastore Activity (6005)
//   the same on an SSH target, TerminalOutput            → SSH Activity (4007)
//   InputRejected, undecodable bytes, unknown types      → Base Event (0), activity Other
// The ledger position (log, index) and the checkpoint that first covers it go in
// `unmapped.affidavit`, with what OCSF has no attribute for.
import { createHash } from 'node:crypto';
import type { Actor, LedgerRecord, SessionEvent, Source, Target } from '@affidavit/schemas';

/** OCSF_VERSION is the OCSF schema version every object names in `metadata.version`. */
export const OCSF_VERSION = '1.5.0';

/** MAX_TEXT_CHARS bounds a statement or message copied into an object; the ledger keeps the whole text. */
export const MAX_TEXT_CHARS = 32 * 1024;
/** MAX_RAW_BYTES bounds the undecodable bytes copied (base64) into `raw_data`; larger ones carry size and SHA-256 only. */
export const MAX_RAW_BYTES = 48 * 1024;

/** CoveringCheckpoint is the first signed checkpoint whose tree includes the entry (its size > index). */
export type CoveringCheckpoint = { readonly origin: string; readonly size: number; readonly rootHash: string };

/** Product names the software in `metadata.product`. */
export type Product = { readonly name: string; readonly vendorName: string; readonly version: string };

/**
 * LedgerEntryInput is one ledger entry to map. `record` is the decoded event, or undefined when
 * the bytes did not decode (then `decodeError` says why and `bytes` are the raw entry bytes).
 */
export type LedgerEntryInput = {
  readonly log: string;
  readonly index: number;
  readonly eventId: string;
  readonly appendedAt: number;
  readonly bytes: Uint8Array;
  readonly record: LedgerRecord | undefined;
  readonly decodeError?: { readonly code: string; readonly message: string };
  readonly checkpoint: CoveringCheckpoint;
};

/** OcsfEvent is a mapped object, ready for JSON.stringify. */
export type OcsfEvent = Record<string, unknown>;

type Json = Record<string, unknown>;

const SEVERITY = { 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High' } as const;
type Severity = keyof typeof SEVERITY;
const STATUS = { 1: 'Success', 2: 'Failure', 99: 'Other' } as const;
const ACTION = { 1: 'Allowed', 2: 'Denied', 3: 'Observed', 4: 'Modified' } as const;
const DISPOSITION = { 1: 'Allowed', 2: 'Blocked', 8: 'Approved', 14: 'Delayed', 25: 'Rejected' } as const;

/** Class header values: uid, names and the category they belong to. */
const CLASSES = {
  authentication: { uid: 3002, name: 'Authentication', category: 3, categoryName: 'Identity & Access Management' },
  datastore: { uid: 6005, name: 'Datastore Activity', category: 6, categoryName: 'Application Activity' },
  ssh: { uid: 4007, name: 'SSH Activity', category: 4, categoryName: 'Network Activity' },
  base: { uid: 0, name: 'Base Event', category: 0, categoryName: 'Uncategorized' },
} as const;
type ClassKey = keyof typeof CLASSES;

const AUTH_ACTIVITY = { logon: [1, 'Logon'], logoff: [2, 'Logoff'] } as const;
const DATASTORE_ACTIVITY = {
  read: [1, 'Read'],
  update: [2, 'Update'],
  query: [4, 'Query'],
  write: [5, 'Write'],
  create: [6, 'Create'],
  delete: [7, 'Delete'],
  decrypt: [10, 'Decrypt'],
} as const;
const SSH_ACTIVITY = { open: [1, 'Open'], close: [2, 'Close'], traffic: [6, 'Traffic'], fail: [4, 'Fail'], refuse: [5, 'Refuse'] } as const;

/** cap cuts `s` to MAX_TEXT_CHARS, reporting whether it did. */
function cap(s: string, max = MAX_TEXT_CHARS): { value: string; truncated: boolean } {
  return s.length <= max ? { value: s, truncated: false } : { value: s.slice(0, max), truncated: true };
}

// SPEC: OCSF 1.5.0 email_t regex (schema types.email_t); values that fail it stay in unmapped only.
const EMAIL = /^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/** isIp tells an IPv4 or IPv6 literal (what ip_t accepts) from a host name or socket path. */
function isIp(s: string): boolean {
  if (IPV4.test(s)) return true;
  if (!s.includes(':') || !IPV6.test(s) || s.length > 39) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

const port = (p: number | null): Json => (p !== null && Number.isInteger(p) && p >= 0 && p <= 65535 ? { port: p } : {});

function srcEndpoint(s: Source): Json {
  return { ...(isIp(s.address) ? { ip: s.address } : { name: s.address || 'unknown' }), ...port(s.port) };
}

function dstEndpoint(t: Target): Json {
  return { ...(isIp(t.host) ? { ip: t.host } : { hostname: t.host || 'unknown' }), ...port(t.port), svc_name: t.kind };
}

function user(a: Actor): Json {
  return {
    uid: a.subject,
    name: a.subject,
    ...(a.email && EMAIL.test(a.email) ? { email_addr: a.email } : {}),
    groups: a.groups.map((name) => ({ name })),
    has_mfa: a.mfa,
  };
}

function identity(a: Actor): Json {
  return { issuer: a.issuer, subject: a.subject, email: a.email, groups: a.groups, auth_methods: a.authMethods, acr: a.acr, mfa: a.mfa, token_id: a.tokenId };
}

/** actorOf is the OCSF actor: the verified user, else the client application (no identity yet). */
function actorOf(a: Actor | null, e: SessionEvent): Json {
  const session = { uid: e.sessionId };
  if (a) return { user: user(a), session, idp: { name: a.issuer } };
  return { app_name: e.source.application || 'unauthenticated client', session };
}

function database(t: Target): Json {
  return { name: t.database ?? t.resource, uid: t.resource, type_id: 1, type: 'Relational' };
}

function header(cls: ClassKey, activity: readonly [number, string], severity: Severity, time: number): Json {
  const c = CLASSES[cls];
  return {
    class_uid: c.uid,
    class_name: c.name,
    category_uid: c.category,
    category_name: c.categoryName,
    activity_id: activity[0],
    activity_name: activity[1],
    type_uid: c.uid * 100 + activity[0],
    type_name: `${c.name}: ${activity[0] === 99 ? 'Other' : activity[1]}`,
    severity_id: severity,
    severity: SEVERITY[severity],
    time,
  };
}

const status = (id: keyof typeof STATUS, detail?: { code?: string | null; text?: string | null }): Json => ({
  status_id: id,
  status: STATUS[id],
  ...(detail?.code ? { status_code: detail.code } : {}),
  ...(detail?.text ? { status_detail: cap(detail.text, 4096).value } : {}),
});
const action = (id: keyof typeof ACTION): Json => ({ action_id: id, action: ACTION[id] });
const disposition = (id: keyof typeof DISPOSITION): Json => ({ disposition_id: id, disposition: DISPOSITION[id] });

/** statementActivity picks the Datastore activity from the classifier's statement classes. */
function statementActivity(classes: readonly string[]): readonly [number, string] {
  if (classes.includes('delete') || classes.includes('truncate')) return DATASTORE_ACTIVITY.delete;
  if (classes.includes('update') || classes.includes('merge')) return DATASTORE_ACTIVITY.update;
  if (classes.includes('insert') || classes.includes('copy-in')) return DATASTORE_ACTIVITY.write;
  if (classes.includes('ddl')) return DATASTORE_ACTIVITY.create;
  return DATASTORE_ACTIVITY.query;
}

function queryInfo(commandId: string, text: string, extra: Json = {}): { query_info: Json; truncated: boolean } {
  const t = cap(text);
  return { query_info: { uid: commandId, query_string: t.value, ...(Object.keys(extra).length > 0 ? { data: extra } : {}) }, truncated: t.truncated };
}

const policy = (ruleId: string | null, reason?: string): Json | undefined =>
  ruleId ? { uid: ruleId, name: ruleId, ...(reason ? { desc: cap(reason, 4096).value } : {}) } : undefined;

/** timeOf converts the events' UTC microseconds to OCSF's epoch milliseconds. */
const timeOf = (micros: number) => Math.floor(micros / 1000);

function metadata(input: LedgerEntryInput, product: Product, eventCode: string, correlation?: string): Json {
  return {
    version: OCSF_VERSION,
    uid: input.eventId,
    product: { name: product.name, vendor_name: product.vendorName, version: product.version },
    event_code: eventCode,
    log_name: input.log,
    log_provider: 'affidavit-ledger',
    logged_time: input.appendedAt,
    ...(correlation ? { correlation_uid: correlation } : {}),
  };
}

/** ledgerRef is the entry's place in the ledger and the signed checkpoint that covers it. */
function ledgerRef(input: LedgerEntryInput): Json {
  return {
    ledger: { log: input.log, index: input.index, appended_at: input.appendedAt },
    checkpoint: { origin: input.checkpoint.origin, size: input.checkpoint.size, root_hash: input.checkpoint.rootHash },
  };
}

function sessionRef(e: SessionEvent): Json {
  return {
    session_id: e.sessionId,
    seq: e.seq,
    event_type: e.type,
    feeder: { id: e.feeder.id, version: e.feeder.version },
    target: { kind: e.target.kind, resource: e.target.resource, database: e.target.database, login: e.target.login },
    ...(e.source.application ? { client_application: e.source.application } : {}),
  };
}

/** unmapped wraps Affidavit's own fields under one key, so they never collide with a consumer's. */
const unmapped = (input: LedgerEntryInput, rest: Json): Json => ({ unmapped: { affidavit: { ...ledgerRef(input), ...rest } } });

/** mapSessionEvent maps one decoded session event. */
function mapSessionEvent(e: SessionEvent, input: LedgerEntryInput, product: Product): OcsfEvent {
  const time = timeOf(e.occurredAt);
  const meta = (correlation?: string) => ({ metadata: metadata(input, product, e.type, correlation) });
  const common = sessionRef(e);
  const ssh = e.target.kind === 'ssh';
  const endpoints = { src_endpoint: srcEndpoint(e.source), dst_endpoint: dstEndpoint(e.target) };
  const cmd = (commandId: string) => `${e.sessionId}/${commandId}`;
  // An SSH command or approval is SSH Activity; the statement text and decision stay in unmapped.
  const activityClass = (activity: readonly [number, string], severity: Severity, correlation: string | undefined, fields: Json, extra: Json): OcsfEvent =>
    ssh
      ? {
          ...header('ssh', SSH_ACTIVITY.traffic, severity, time),
          ...meta(correlation),
          ...endpoints,
          ...pick(fields, ['status_id', 'status', 'status_code', 'status_detail', 'action_id', 'action', 'disposition_id', 'disposition']),
          ...(e.actor ? { actor: actorOf(e.actor, e) } : {}),
          ...unmapped(input, { ...common, ...extra, ...pick(fields, ['query_info', 'policy', 'authorizations', 'duration']) }),
        }
      : {
          ...header('datastore', activity, severity, time),
          ...meta(correlation),
          actor: actorOf(e.actor, e),
          database: database(e.target),
          ...endpoints,
          ...fields,
          ...unmapped(input, { ...common, ...extra }),
        };

  switch (e.type) {
    case 'SessionStarted':
    case 'AuthenticationFailed':
    case 'SessionEnded': {
      const failed = e.type === 'AuthenticationFailed';
      const claimed = failed && !e.actor;
      const u = e.actor ? user(e.actor) : { name: cap((failed ? e.claimedSubject : null) || 'unknown', 1024).value };
      const base = {
        ...header('authentication', e.type === 'SessionEnded' ? AUTH_ACTIVITY.logoff : AUTH_ACTIVITY.logon, failed ? 3 : 1, time),
        ...meta(e.sessionId),
        user: u,
        ...(e.actor ? { actor: actorOf(e.actor, e) } : {}),
        session: { uid: e.sessionId, ...(e.type === 'SessionStarted' ? { created_time: time } : {}), is_remote: true },
        service: { name: e.target.resource },
        ...endpoints,
        auth_protocol_id: ssh ? 99 : 4,
        auth_protocol: ssh ? 'OpenSSH certificate' : 'OpenID',
        logon_type_id: 3,
        logon_type: 'Network',
        is_remote: true,
        ...(e.actor ? { is_mfa: e.actor.mfa } : {}),
      };
      if (e.type === 'SessionStarted') {
        return {
          ...base,
          ...status(1),
          ...action(1),
          ...disposition(1),
          ...unmapped(input, {
            ...common,
            protocol: e.protocol,
            tls: e.tls,
            recording_mode: e.recordingMode,
            client_parameters: e.clientParameters,
            ...(e.actor ? { identity: identity(e.actor) } : {}),
          }),
        };
      }
      if (e.type === 'AuthenticationFailed') {
        return {
          ...base,
          ...status(2, { code: e.code, text: e.reason }),
          ...action(2),
          ...disposition(2),
          ...unmapped(input, {
            ...common,
            code: e.code,
            claimed_issuer: e.claimedIssuer,
            claimed_subject: e.claimedSubject,
            token_id: e.tokenId,
            // The name in `user` was claimed, not verified: authentication failed.
            user_is_claimed: claimed,
          }),
        };
      }
      return {
        ...base,
        ...status(e.errorCode ? 2 : 1, { code: e.errorCode, text: e.reason }),
        duration: Math.floor(e.durationMicros / 1000),
        ...unmapped(input, { ...common, reason: e.reason, commands: e.commands, duration_micros: e.durationMicros }),
      };
    }
    case 'CommandIssued': {
      const q = queryInfo(e.commandId, e.text, {
        channel: e.channel,
        classes: e.classes,
        parameters: e.parameters.map((p) => (p === null ? null : cap(p).value)),
      });
      const decided = {
        allow: { ...action(1), ...disposition(1) },
        mask: { ...action(4), ...disposition(1) },
        require_approval: { ...action(3), ...disposition(14) },
        deny: { ...action(2), ...disposition(2) },
      }[e.decision];
      const p = policy(e.ruleId);
      return activityClass(
        statementActivity(e.classes),
        e.decision === 'deny' ? 3 : 1,
        cmd(e.commandId),
        { query_info: q.query_info, ...decided, ...(p ? { policy: p } : {}) },
        {
          command_id: e.commandId,
          decision: e.decision,
          ...(q.truncated ? { text_truncated: true, text_length: e.text.length } : {}),
        },
      );
    }
    case 'CommandCompleted': {
      const st: keyof typeof STATUS = e.outcome === 'ok' ? 1 : e.outcome === 'error' ? 2 : 99;
      return activityClass(
        DATASTORE_ACTIVITY.query,
        1,
        cmd(e.commandId),
        {
          ...status(st, { code: e.errorCode, text: e.errorMessage ?? (e.outcome === 'cancelled' ? 'cancelled' : null) }),
          duration: Math.floor(e.durationMicros / 1000),
        },
        { command_id: e.commandId, outcome: e.outcome, tag: e.tag, rows: e.rows, duration_micros: e.durationMicros, result_digest: e.resultDigest },
      );
    }
    case 'CommandBlocked': {
      const q = queryInfo(e.commandId, e.text);
      const p = policy(e.ruleId ?? '(default deny)', e.reason);
      return activityClass(
        DATASTORE_ACTIVITY.query,
        3,
        cmd(e.commandId),
        { query_info: q.query_info, ...status(2, { text: e.reason }), ...action(2), ...disposition(2), policy: p },
        { command_id: e.commandId, rule_id: e.ruleId, ...(q.truncated ? { text_truncated: true, text_length: e.text.length } : {}) },
      );
    }
    case 'ApprovalRequested': {
      const q = queryInfo(e.commandId, e.text);
      const p = policy(e.ruleId, e.reason)!;
      return activityClass(
        DATASTORE_ACTIVITY.query,
        1,
        cmd(e.commandId),
        { query_info: q.query_info, ...action(3), ...disposition(14), policy: p, authorizations: [{ decision: 'pending', policy: p }] },
        { command_id: e.commandId, request_id: e.requestId, approver_groups: e.approverGroups, expires_at: timeOf(e.expiresAt) },
      );
    }
    case 'ApprovalDecided': {
      const approved = e.decision === 'approved';
      // The approver is the one acting here; the session's user is the requester.
      const actor = e.approver
        ? { user: user(e.approver), session: { uid: e.sessionId }, idp: { name: e.approver.issuer } }
        : { app_name: 'affidavit approval expiry' };
      const ev = activityClass(
        DATASTORE_ACTIVITY.query,
        approved ? 1 : 2,
        undefined,
        {
          ...(approved ? { ...action(1), ...disposition(8), ...status(1) } : { ...action(2), ...disposition(2), ...status(2, { text: e.decision }) }),
          authorizations: [{ decision: e.decision }],
          message: cap(e.justification, 4096).value || e.decision,
        },
        {
          request_id: e.requestId,
          decision: e.decision,
          approver: e.approver ? identity(e.approver) : null,
          requester: e.actor ? identity(e.actor) : null,
          signed: e.signature !== null,
          command_digest: e.commandDigest,
        },
      );
      return { ...ev, actor };
    }
    case 'ApprovalRefused':
      return activityClass(
        DATASTORE_ACTIVITY.query,
        4,
        undefined,
        { ...action(2), ...disposition(25), ...status(2, { code: e.code, text: e.reason }), authorizations: [{ decision: `refused ${e.attemptedDecision}` }] },
        {
          request_id: e.requestId,
          refused_event_id: e.refusedEventId,
          attempted_decision: e.attemptedDecision,
          claimed_approver: e.claimedApprover ? identity(e.claimedApprover) : null,
          code: e.code,
          refused_by: e.refusedBy,
        },
      );
    case 'DataMasked':
      return activityClass(
        DATASTORE_ACTIVITY.read,
        1,
        cmd(e.commandId),
        { ...action(4), ...disposition(1), ...status(1), count: e.count },
        {
          command_id: e.commandId,
          masked_count: e.count,
          truncated: e.truncated,
          // Which columns, rows and rules: never the masked values or the sealed originals.
          masks: e.masks.map((m) => ({ column: m.column, row: m.row, rule_id: m.ruleId, detector: m.detector })),
        },
      );
    case 'ResultCaptured':
      return activityClass(
        DATASTORE_ACTIVITY.read,
        1,
        cmd(e.commandId),
        { ...action(3), ...disposition(1), ...status(1) },
        // The rows stay in the ledger; the SIEM gets their shape and digest.
        { command_id: e.commandId, columns: e.columns, row_count: e.rows.length, truncated: e.truncated, result_digest: e.resultDigest },
      );
    case 'MaskedValueOpened':
      return activityClass(
        DATASTORE_ACTIVITY.decrypt,
        3,
        undefined,
        { ...action(1), ...disposition(1), ...status(1), message: cap(e.reason, 4096).value || 'masked value opened' },
        { masked_event_id: e.maskedEventId, index: e.index, key_id: e.keyId, reason: e.reason },
      );
    case 'TerminalOutput':
      return {
        ...header('ssh', SSH_ACTIVITY.traffic, 1, time),
        ...meta(e.sessionId),
        ...endpoints,
        ...(e.actor ? { actor: actorOf(e.actor, e) } : {}),
        traffic: e.stream === 'stdin' ? { bytes_out: e.data.length, bytes: e.data.length } : { bytes_in: e.data.length, bytes: e.data.length },
        // The terminal bytes are for replay from the ledger, not for the SIEM.
        ...unmapped(input, { ...common, channel: e.channel, stream: e.stream, offset_micros: e.offsetMicros, bytes: e.data.length }),
      };
    default: {
      const unknown: { type?: unknown } = e;
      return baseEvent(
        input,
        product,
        String(unknown.type),
        'no OCSF mapping for this event type',
        timeOf(Number((e as { occurredAt?: number }).occurredAt ?? 0) || input.appendedAt * 1000),
      );
    }
  }
}

function pick(o: Json, keys: readonly string[]): Json {
  const out: Json = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** baseEvent is the Base Event (class 0, activity Other) naming the raw type it stands for. */
function baseEvent(input: LedgerEntryInput, product: Product, rawType: string, why: string, time: number, extra: Json = {}): OcsfEvent {
  return {
    ...header('base', [99, rawType], 3, time),
    metadata: metadata(input, product, rawType),
    ...status(2, { text: why }),
    message: `${rawType}: ${why}`,
    ...unmapped(input, { raw_type: rawType, ...extra }),
  };
}

/**
 * mapEntry returns the OCSF 1.5.0 object of one ledger entry. It MUST return an object for every
 * input (a Base Event naming the raw type when nothing better applies) and MUST NOT throw on
 * well-typed input: the projector publishes whatever it returns.
 */
export function mapEntry(input: LedgerEntryInput, product: Product): OcsfEvent {
  const r = input.record;
  if (!r) {
    const raw = Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
    const sha256 = createHash('sha256').update(raw).digest('hex');
    const ev = baseEvent(
      input,
      product,
      'Undecodable',
      input.decodeError ? `${input.decodeError.code}: ${input.decodeError.message}` : 'not decodable',
      input.appendedAt,
      {
        raw_sha256: sha256,
        decode_error: input.decodeError ?? null,
      },
    );
    return { ...ev, raw_data_size: raw.length, ...(raw.length <= MAX_RAW_BYTES ? { raw_data: raw.toString('base64') } : {}) };
  }
  if (r.type === 'InputRejected') {
    return baseEvent(input, product, r.type, `${r.code}: ${cap(r.reason, 4096).value}`, timeOf(r.occurredAt), {
      code: r.code,
      reason: r.reason,
      raw_sha256: r.rawSha256,
      raw_size: r.rawSize,
      source: { topic: r.topic, partition: r.partition, offset: r.offset },
    });
  }
  return mapSessionEvent(r, input, product);
}

/** siemKeyOf is the Kafka key of an entry's object: its session, else its log (entries with no session keep the log's order). */
export function siemKeyOf(input: LedgerEntryInput): string {
  const r = input.record;
  if (r && r.type !== 'InputRejected' && typeof (r as SessionEvent).sessionId === 'string' && (r as SessionEvent).sessionId.length > 0)
    return (r as SessionEvent).sessionId;
  return `ledger:${input.log}`;
}
