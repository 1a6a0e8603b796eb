// Resolvers: role checks, then the read models, the proof service and the decision port.
// Resolvers throw AffidavitErrors; the server's maskError shows their code in extensions.code
// and hides anything else.
import { Repeater } from 'graphql-yoga';
import type { Identity } from '@affidavit/access';
import type { Clock } from '@affidavit/common';
import type { ApprovalDecided, ApprovalRequested, DataMasked } from '@affidavit/schemas';
import { ApiForbiddenError, ApiInputInvalidError, ApiNotFoundError, ApiUnavailableError } from '../errors.ts';
import type { Role } from '../auth/roles.ts';
import type { DecisionService, DecisionSignatureVerifier, RevealService } from '../ports.ts';
import type { ProofService } from '../proofs.ts';
import type { ReportService } from '../reports.ts';
import type { Changes } from '../read-model/projector.ts';
import type { Page, ReadModelStore } from '../read-model/read-model-store.ts';
import type { ApprovalRow, ApprovalStatus, DecisionRow, Position, SessionRow } from '../read-model/rows.ts';
import { MAX_PAGE } from '../adapters/sqlite/keyset.ts';
import { isoFromMicros, microsFromIso } from './time.ts';
import { perMinuteBudget } from '../per-minute-budget.ts';

/** ApiContext is what every resolver sees: the verified caller and their roles. */
export type ApiContext = { readonly identity: Identity; readonly roles: ReadonlySet<Role>; readonly token: string | null };

/** ResolverDeps are the resolvers' collaborators; optional ones make their fields answer AFF_E_API_UNAVAILABLE (or null). */
export type ResolverDeps = {
  readonly store: ReadModelStore;
  readonly proofs?: ProofService;
  /** reports computes SP 800-53 reports from the ledger (the `report` query). */
  readonly reports?: ReportService;
  readonly decisions?: DecisionService;
  /** reveals opens masked values (revealMaskedValue); without it that mutation answers AFF_E_API_UNAVAILABLE. */
  readonly reveals?: RevealService;
  readonly signatures?: DecisionSignatureVerifier;
  /** changes feeds subscriptions (the projector's onChange). */
  readonly changes?: (listener: (c: Changes) => void) => () => void;
  /** clock ends a subscription when the token that opened it expires. */
  readonly clock: Clock;
};

/** MAX_JUSTIFICATION bounds a decision's justification (it is signed and stored forever). */
export const MAX_JUSTIFICATION = 2000;
/** MAX_ID bounds an id argument that may be recorded (a refused attempt names its request id). */
const MAX_ID = 200;

const READ: readonly Role[] = ['auditor', 'admin'];
const APPROVALS_READ: readonly Role[] = ['auditor', 'approver', 'admin'];
const DECIDE: readonly Role[] = ['approver', 'admin'];
// Key holders: those who read the record or decide on it may open a masked original (each opening is recorded).
const REVEAL: readonly Role[] = ['auditor', 'approver', 'admin'];

/**
 * MAX_RECORDED_FORBIDDEN_PER_MINUTE bounds, per caller, the attempts to decide without the role
 * that are recorded each minute: any token holder could otherwise write to the ledger at the
 * API's rate limit times its alias limit. Beyond it the attempt is still refused, and told so.
 */
export const MAX_RECORDED_FORBIDDEN_PER_MINUTE = 30;
// The budget map is bounded: beyond this many callers in one minute, attempts are refused unrecorded.
const MAX_TRACKED_CALLERS = 10_000;

/** MAX_REVEAL_REASON bounds a reveal's reason (the access core's own bound, checked before any lookup). */
const MAX_REVEAL_REASON = 1024;

function need(ctx: ApiContext, roles: readonly Role[], what: string): void {
  if (!roles.some((r) => ctx.roles.has(r))) {
    throw new ApiForbiddenError(`${what} needs one of the roles ${roles.join(', ')}; your groups grant ${[...ctx.roles].join(', ') || 'none'}`);
  }
}

const connection = <T>(p: Page<T>) => ({ nodes: p.rows, pageInfo: { hasNextPage: p.next !== null, endCursor: p.next } });
const at = (us: number | null) => (us === null ? null : isoFromMicros(us));
const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** buildResolvers wires the schema's fields to `deps`. */
export function buildResolvers(deps: ResolverDeps) {
  const { store } = deps;
  const forbiddenBudget = perMinuteBudget(MAX_RECORDED_FORBIDDEN_PER_MINUTE, deps.clock, MAX_TRACKED_CALLERS);

  const evidence = async (row: { position: Position }) => {
    if (!deps.proofs) return { position: row.position, proof: null, reason: 'this API instance serves no proofs (no ledger store configured)' };
    return { position: row.position, ...(await deps.proofs.inclusion(row.position.log, row.position.index)) };
  };

  async function verifyDecisionAt(decision: Position | null, request: Position | null): Promise<boolean | null> {
    if (!deps.signatures || !deps.proofs || decision === null) return null;
    const decided = await deps.proofs.record(decision.log, decision.index);
    if (decided?.type !== 'ApprovalDecided') return false;
    const requested = request ? await deps.proofs.record(request.log, request.index) : undefined;
    return deps.signatures.verify(decided as ApprovalDecided, requested?.type === 'ApprovalRequested' ? (requested as ApprovalRequested) : undefined);
  }
  const signatureValid = (a: ApprovalRow) => verifyDecisionAt(a.decisionPosition, a.position);

  async function decide(ctx: ApiContext, id: string, justification: string, decision: 'approved' | 'denied') {
    if (id.length === 0 || id.length > MAX_ID) throw new ApiInputInvalidError(`a request id of 1 to ${MAX_ID} characters is required`);
    const request = {
      requestId: id,
      decision,
      justification: justification.trim(),
      approver: ctx.identity,
      tokenId: ctx.identity.tokenId ?? null,
      token: ctx.token ?? '',
    };
    if (!DECIDE.some((r) => ctx.roles.has(r))) {
      const refusal = new ApiForbiddenError(
        `${decision === 'approved' ? 'approve' : 'deny'} needs one of the roles ${DECIDE.join(', ')}; your groups grant ${[...ctx.roles].join(', ') || 'none'}`,
      );
      // An attempt to decide without the role is on the record too, like one the rules refuse.
      if (forbiddenBudget(`${ctx.identity.issuer} ${ctx.identity.subject}`)) {
        await deps.decisions?.refused?.(request, refusal);
        throw refusal;
      }
      throw new ApiForbiddenError(
        `${refusal.message} (not recorded: more than ${MAX_RECORDED_FORBIDDEN_PER_MINUTE} such attempts of yours this minute are on the record already)`,
      );
    }
    if (!deps.decisions) throw new ApiUnavailableError('this API instance has no decision service');
    if (ctx.token === null) throw new ApiUnavailableError('the request carries no bearer token to pass to the decision service');
    const j = request.justification;
    if (j.length === 0 || j.length > MAX_JUSTIFICATION) throw new ApiInputInvalidError(`a justification of 1 to ${MAX_JUSTIFICATION} characters is required`);
    const r = await deps.decisions.decide(request);
    if ('error' in r) throw r.error;
    return { requestId: r.requestId, decision: r.decision, decidedAt: isoFromMicros(r.decidedAt * 1000) };
  }

  function changes<T>(ctx: ApiContext, pick: (c: Changes) => Iterable<string>, load: (id: string) => T | undefined, initial: () => readonly T[]) {
    const subscribe = deps.changes;
    if (!subscribe) throw new ApiUnavailableError('this API instance does not follow the ledger live');
    return new Repeater<T>(async (push, stop) => {
      // Subscribe before reading the current rows, so nothing that changes in between is lost
      // (a row may then be sent twice, never missed).
      const queue: string[] = [];
      let ready = false;
      const off = subscribe((c) => {
        for (const id of pick(c)) {
          if (!ready) queue.push(id);
          else {
            const row = load(id);
            if (row !== undefined) void push(row);
          }
        }
      });
      // A stream outlives no token: it ends when the token that opened it expires.
      const expiry = setTimeout(() => stop(), Math.min(2 ** 31 - 1, Math.max(0, ctx.identity.expiresAt - deps.clock.now())));
      try {
        for (const row of initial()) await push(row);
        ready = true;
        for (const id of queue.splice(0)) {
          const row = load(id);
          if (row !== undefined) await push(row);
        }
        await stop;
      } finally {
        clearTimeout(expiry);
        off();
      }
    });
  }

  const page = (args: { first?: number | null; after?: string | null }) => ({ first: args.first ?? 50, after: args.after ?? null });
  const filterTime = (v: string | null | undefined, what: string) => (v == null ? null : microsFromIso(v, what));

  return {
    Query: {
      me: (_: unknown, __: unknown, ctx: ApiContext) => ({ issuer: ctx.identity.issuer, subject: ctx.identity.subject, roles: [...ctx.roles].sort() }),
      sessions: (_: unknown, a: { filter?: Record<string, unknown> | null; first?: number; after?: string | null }, ctx: ApiContext) => {
        need(ctx, READ, 'sessions');
        const f = a.filter ?? {};
        return connection(
          store.sessions(
            {
              subject: str(f.subject),
              targetResource: str(f.targetResource),
              sourceAddress: str(f.sourceAddress),
              active: typeof f.active === 'boolean' ? f.active : null,
              since: filterTime(f.since as string | null, 'filter.since'),
              until: filterTime(f.until as string | null, 'filter.until'),
            },
            page(a),
          ),
        );
      },
      session: (_: unknown, a: { sessionId: string }, ctx: ApiContext) => {
        need(ctx, READ, 'session');
        return store.session(a.sessionId) ?? null;
      },
      commands: (_: unknown, a: { sessionId: string; first?: number; after?: string | null }, ctx: ApiContext) => {
        need(ctx, READ, 'commands');
        return connection(store.commands(a.sessionId, page(a)));
      },
      blockedCommands: (_: unknown, a: { filter?: Record<string, string | null> | null; first?: number; after?: string | null }, ctx: ApiContext) => {
        need(ctx, READ, 'blockedCommands');
        const f = a.filter ?? {};
        return connection(store.blockedCommands({ subject: f.subject ?? null, sessionId: f.sessionId ?? null, ruleId: f.ruleId ?? null }, page(a)));
      },
      approvals: (
        _: unknown,
        a: { filter?: { status?: ApprovalStatus | null; requester?: string | null } | null; first?: number; after?: string | null },
        ctx: ApiContext,
      ) => {
        need(ctx, APPROVALS_READ, 'approvals');
        const f = a.filter ?? {};
        return connection(store.approvals({ status: f.status ?? null, requester: f.requester ?? null }, page(a)));
      },
      approval: (_: unknown, a: { requestId: string }, ctx: ApiContext) => {
        need(ctx, APPROVALS_READ, 'approval');
        return store.approval(a.requestId) ?? null;
      },
      maskedData: (_: unknown, a: { filter?: Record<string, string | null> | null; first?: number; after?: string | null }, ctx: ApiContext) => {
        need(ctx, READ, 'maskedData');
        const f = a.filter ?? {};
        return connection(store.maskedData({ subject: f.subject ?? null, sessionId: f.sessionId ?? null }, page(a)));
      },
      identities: (_: unknown, a: { first?: number; after?: string | null }, ctx: ApiContext) => {
        need(ctx, READ, 'identities');
        return connection(store.identities(page(a)));
      },
      authenticationFailures: (_: unknown, a: { filter?: Record<string, string | null> | null; first?: number; after?: string | null }, ctx: ApiContext) => {
        need(ctx, READ, 'authenticationFailures');
        const f = a.filter ?? {};
        return connection(store.authenticationFailures({ code: f.code ?? null, claimedSubject: f.claimedSubject ?? null }, page(a)));
      },
      checkpoints: async (_: unknown, a: { log: string }, ctx: ApiContext) => {
        need(ctx, READ, 'checkpoints');
        if (!deps.proofs) throw new ApiUnavailableError('this API instance serves no proofs');
        return deps.proofs.checkpoints(a.log);
      },
      consistencyProof: async (_: unknown, a: { log: string; from: number; to: number }, ctx: ApiContext) => {
        need(ctx, READ, 'consistencyProof');
        if (!deps.proofs) throw new ApiUnavailableError('this API instance serves no proofs');
        return deps.proofs.consistency(a.log, a.from, a.to);
      },
      report: (_: unknown, a: { control: string; from: string; to: string }, ctx: ApiContext) => {
        need(ctx, READ, 'report');
        if (!deps.reports) throw new ApiUnavailableError('this API instance computes no reports (no ledger store configured)');
        const from = new Date(microsFromIso(a.from, 'from') / 1000);
        const to = new Date(microsFromIso(a.to, 'to') / 1000);
        return deps.reports.report(a.control, from, to);
      },
    },
    Mutation: {
      revealMaskedValue: async (_: unknown, a: { eventId: string; index: number; reason: string }, ctx: ApiContext) => {
        need(ctx, REVEAL, 'revealMaskedValue');
        if (!deps.reveals || !deps.proofs) throw new ApiUnavailableError('this API instance has no reveal service');
        const reason = a.reason.trim();
        if (reason.length === 0 || reason.length > MAX_REVEAL_REASON)
          throw new ApiInputInvalidError(`a reason of 1 to ${MAX_REVEAL_REASON} characters is required`);
        const row = store.masked(a.eventId);
        const event = row && (await deps.proofs.record(row.position.log, row.position.index));
        if (event?.type !== 'DataMasked') throw new ApiNotFoundError(`no DataMasked event ${a.eventId} in the read models (yet)`);
        const r = await deps.reveals.reveal({ event: event as DataMasked, index: a.index, reason, opener: ctx.identity });
        if ('error' in r) throw r.error;
        return r;
      },
      approve: (_: unknown, a: { id: string; justification: string }, ctx: ApiContext) => decide(ctx, a.id, a.justification, 'approved'),
      deny: (_: unknown, a: { id: string; justification: string }, ctx: ApiContext) => decide(ctx, a.id, a.justification, 'denied'),
    },
    Subscription: {
      pendingApprovals: {
        subscribe: (_: unknown, __: unknown, ctx: ApiContext) => {
          need(ctx, APPROVALS_READ, 'pendingApprovals');
          return changes(
            ctx,
            (c) => c.approvals,
            (id) => store.approval(id),
            () => store.approvals({ status: 'pending' }, { first: MAX_PAGE }).rows,
          );
        },
        resolve: (row: ApprovalRow) => row,
      },
      liveSessions: {
        subscribe: (_: unknown, __: unknown, ctx: ApiContext) => {
          need(ctx, READ, 'liveSessions');
          return changes<SessionRow>(
            ctx,
            (c) => c.sessions,
            (id) => store.session(id),
            () => [],
          );
        },
        resolve: (row: SessionRow) => row,
      },
    },
    Session: {
      startedAt: (r: SessionRow) => isoFromMicros(r.startedAt),
      endedAt: (r: SessionRow) => at(r.endedAt),
      proof: evidence,
    },
    Command: { issuedAt: (r: { issuedAt: number }) => isoFromMicros(r.issuedAt), proof: evidence },
    BlockedCommand: { occurredAt: (r: { occurredAt: number }) => isoFromMicros(r.occurredAt), proof: evidence },
    Approval: {
      requestedAt: (r: ApprovalRow) => isoFromMicros(r.requestedAt),
      expiresAt: (r: ApprovalRow) => isoFromMicros(r.expiresAt),
      decidedAt: (r: ApprovalRow) => at(r.decidedAt),
      signatureValid,
      decisions: (a: ApprovalRow) => store.decisions(a.requestId).map((d) => ({ ...d, request: a.position })),
      refusals: (a: ApprovalRow) => store.refusals(a.requestId),
      proof: evidence,
    },
    ApprovalRefusal: { occurredAt: (r: { occurredAt: number }) => isoFromMicros(r.occurredAt), proof: evidence },
    ApprovalDecision: {
      decidedAt: (d: DecisionRow) => isoFromMicros(d.decidedAt),
      signatureValid: (d: DecisionRow & { request: Position }) => verifyDecisionAt(d.position, d.request),
      proof: evidence,
    },
    MaskedData: { occurredAt: (r: { occurredAt: number }) => isoFromMicros(r.occurredAt), proof: evidence },
    IdentitySeen: { firstSeen: (r: { firstSeen: number }) => isoFromMicros(r.firstSeen), lastSeen: (r: { lastSeen: number }) => isoFromMicros(r.lastSeen) },
    AuthenticationFailure: { occurredAt: (r: { occurredAt: number }) => isoFromMicros(r.occurredAt), proof: evidence },
  };
}
