// CommandGate decides one command by policy, records it, and then forwards it, holds it for an
// approval, or refuses it. A refused command is NOT forwarded; a statement that fails in the
// parser (REFUSAL_SQL) is sent in its place and the server's ErrorResponse for it is replaced by
// ours. This keeps the upstream's own state exactly what the client expects: inside a
// transaction block the server marks the transaction failed (ReadyForQuery 'E', as psql expects
// after an error), outside one it stays idle; in an extended-protocol pipeline the server
// discards the rest until Sync, as it would for a real error. The upstream log shows a syntax
// error for each refusal; nothing is executed.
import { performance } from 'node:perf_hooks';
import { isAffidavitError } from '@affidavit/common';
import {
  evaluate,
  type ApprovalGate,
  type Classification,
  type EventDraft,
  type Identity,
  type MaskSpec,
  type Policy,
  type PolicyDecision,
  type ResolutionContext,
  type SessionRecording,
} from '@affidavit/access';
import type { CommandChannel, PolicyAction } from '@affidavit/schemas';
import { CommandRun } from './command-run.ts';
import type { MaskingPort, ResultMasker } from './masking-port.ts';
import type { PostgresProxyOptions } from './options.ts';
import type { PortalDef, StatementDef, Unknown } from './protocol-state.ts';
import { refusalFields, refusalReason, type RefusalContext, type RefusalKind } from './refusals.ts';
import type { Expect } from './response-router.ts';
import { encodeFrontendMessage, errorResponse, noticeResponse, query as queryMessage, type ErrorFields } from './wire/index.ts';
import { lineageGate } from './lineage-gate.ts';
import { parserSettingDecision } from './parser-agreement.ts';
import type { Logger } from '@affidavit/common';

/** REFUSAL_SQL is sent upstream in place of a refused command: it fails in the parser and runs nothing. */
export const REFUSAL_SQL = 'AFFIDAVIT REFUSED THIS STATEMENT';
const REFUSAL_QUERY = queryMessage(REFUSAL_SQL);
const REFUSAL_PARSE = encodeFrontendMessage({ type: 'Parse', name: 'affidavit_refused', query: REFUSAL_SQL, paramTypes: [] });
const NO_STATEMENTS: Classification['statements'] = Object.freeze([]);

const AVRO_ACTION: Readonly<Record<PolicyDecision['action'], PolicyAction>> = {
  allow: 'allow',
  deny: 'deny',
  'require-approval': 'require_approval',
  mask: 'mask',
};

export type Protocol = 'simple' | 'extended';

/**
 * Pending is one command to run: `raw` is its Query, Execute or FunctionCall message; `portal`
 * the Execute's portal. `statements`, `defs` and `opaque` are what the protocol-state model
 * applies as the server completes it (see RunOp); `unknown` makes the gate refuse it.
 */
export type Pending = {
  readonly text: string;
  readonly parameters: (string | null)[];
  readonly channel: CommandChannel;
  readonly cls: Classification;
  readonly protocol: Protocol;
  readonly raw: Buffer;
  readonly portal: string;
  readonly binaryResults: boolean;
  readonly statements: Classification['statements'];
  readonly defs: readonly (StatementDef | PortalDef | undefined)[] | undefined;
  readonly opaque: boolean;
  readonly unknown?: Unknown;
};

/** GateHost is the session as the gate sees it. */
export type GateHost = {
  readonly options: Readonly<PostgresProxyOptions>;
  readonly approvals?: ApprovalGate;
  readonly masking?: MaskingPort;
  readonly logger?: Logger;
  readonly newId: () => string;
  policy(): Policy;
  ready(): boolean;
  recording(): SessionRecording;
  identity(): Identity;
  /** resolution is how the server resolves names for this session; undefined: the policy's defaultSchema. */
  resolution(): ResolutionContext | undefined;
  /** forward queues a message for the server with what it will be answered with. */
  forward(buf: Buffer, expect?: Expect): void;
  flush(): void;
  /** answersQueued: something queued since the last flush makes the server answer. */
  answersQueued(): boolean;
  writeClient(buf: Buffer): void;
  /** hold marks (or clears) a command waiting for approval, for a CancelRequest. */
  hold(h: { abort: AbortController; cancelled: boolean } | undefined): void;
  armStatementTimer(): void;
  /** discardUntilSync: the proxy skips extended messages up to the next Sync, as the server does after an error. */
  discardUntilSync(): void;
  commandIssued(id: string): void;
};

/**
 * approvalText is what an approver is shown, and what a decision's command digest covers: the
 * statement and the values bound to its parameters. Without them `… where id = $2 or $3` read
 * as one row to the approver and ran on every row (a red-team finding).
 */
export function approvalText(p: Pick<Pending, 'text' | 'parameters'>): string {
  if (p.parameters.length === 0) return p.text;
  const values = p.parameters.map((v, i) => `$${i + 1} = ${v === null ? 'NULL' : `'${v.replaceAll("'", "''")}'`}`);
  return `${p.text}\n-- with parameters: ${values.join(', ')}`;
}

function classesOf(c: Classification): string[] {
  const out = new Set<string>();
  for (const s of c.statements) for (const o of s.operations) out.add(o.class);
  return [...out];
}

/** channelOf names a command's channel: `copy` for COPY, else the protocol's. */
export function channelOf(cls: Classification, dflt: CommandChannel): CommandChannel {
  for (const s of cls.statements) for (const o of s.operations) if (o.class === 'copy-from' || o.class === 'copy-to') return 'copy';
  return dflt;
}

const UNKNOWN_DECISION = (u: Unknown): PolicyDecision =>
  Object.freeze({
    action: 'deny',
    ruleId: '(unknown-name)',
    reason: refusalReason(u.unknown === 'prepared' ? 'unknown-prepared' : 'unknown-cursor', { name: u.name }),
  });

/** CommandGate is one session's gate. */
export class CommandGate {
  readonly #h: GateHost;
  readonly #decisions = new WeakMap<object, { policy: Policy; decision: PolicyDecision }>();
  readonly #resource: string;
  /** #database is the upstream database: a database-qualified name must name it (else refused). */
  readonly #database: string;

  constructor(host: GateHost) {
    this.#h = host;
    this.#resource = host.options.resource;
    this.#database = host.options.upstream.database;
  }

  // run decides and records one command, then forwards or refuses it. An allowed command in
  // async mode, or in sync mode over an in-process bus (acknowledged within the call), takes a
  // synchronous path (no promise, no microtask): the pump then goes straight on to the next
  // message. Everything else (sync recording over Kafka, deny, approval, mask) is async.
  run(p: Pending): Promise<void> | void {
    const h = this.#h;
    const rec = h.recording();
    const decision = p.unknown ? UNKNOWN_DECISION(p.unknown) : (parserSettingDecision(p.cls) ?? this.#decisionFor(p.cls));
    const id = h.newId();
    h.commandIssued(id);
    const issued: EventDraft = {
      type: 'CommandIssued',
      commandId: id,
      channel: p.channel,
      text: p.text,
      parameters: p.parameters,
      classes: classesOf(p.cls),
      decision: AVRO_ACTION[decision.action],
      ruleId: decision.ruleId,
    };
    if (h.options.recordingMode === 'sync') {
      // Fail closed: the command is forwarded only after its CommandIssued is acknowledged. Earlier
      // pipelined commands are sent now, so their results flow while this one waits. Only
      // those: a Parse or Bind queued just before (this command's own, as every -M prepared
      // pgbench transaction sends) gets no answer the client sees before the next Sync, and
      // sending it alone cost a write here and a wake-up of the server per command.
      if (h.answersQueued()) h.flush();
      let acked: Promise<void>;
      try {
        acked = rec.appendAcknowledged(issued);
      } catch (e) {
        return this.#recordingRefused(p, e);
      }
      return this.#runAcknowledged(p, id, decision, acked);
    } else {
      try {
        rec.append(issued);
      } catch (e) {
        return this.#recordingRefused(p, e);
      }
    }
    return this.#carryOut(p, id, decision);
  }

  async #runAcknowledged(p: Pending, id: string, decision: PolicyDecision, acked: Promise<void>): Promise<void> {
    try {
      await acked;
    } catch (e) {
      return this.#recordingRefused(p, e);
    }
    if (!this.#h.ready()) return;
    return this.#carryOut(p, id, decision);
  }

  /** #carryOut acts on a recorded decision: a plain allow is dispatched at once (no promise), anything else goes through #decide. */
  #carryOut(p: Pending, id: string, decision: PolicyDecision): Promise<void> | void {
    if (decision.action === 'allow' && p.unknown === undefined) return this.#dispatch(p, id, decision, undefined);
    return this.#decide(p, id, decision);
  }

  // #decisionFor evaluates policy, remembering the decision per operations list: evaluate() reads
  // only the operations of a classification (never its texts), the session's groups and the
  // target, and the last two are fixed for the session. Classifications of one statement shape
  // (LiteralCache) or one prepared statement share their frozen operations list, so a repeated
  // statement is decided once per policy version; a policy reload (a new Policy object) misses.
  #decisionFor(cls: Classification): PolicyDecision {
    const policy = this.#h.policy();
    const key =
      cls.unparsable === undefined && cls.statements.length === 1 && Object.isFrozen(cls.statements[0].operations) ? cls.statements[0].operations : undefined;
    if (key) {
      const hit = this.#decisions.get(key);
      if (hit && hit.policy === policy) return hit.decision;
    }
    const decision = Object.freeze(
      evaluate(policy, {
        target: { kind: 'postgres', resource: this.#resource, database: this.#database },
        groups: this.#h.identity().groups,
        ...(this.#h.resolution() ? { resolution: this.#h.resolution() } : {}),
        classification: cls,
      }),
    );
    if (key) this.#decisions.set(key, { policy, decision });
    return decision;
  }

  #recordingRefused(p: Pending, e: unknown): void {
    const code = isAffidavitError(e) ? e.code : 'AFF_E_RECORDING_UNAVAILABLE';
    return this.refuse(p.protocol, refusalFields('recording-unavailable', { detail: `${(e as Error).message} (${code})` }));
  }

  /** #refuseWith records a CommandBlocked with the refusal's message, then refuses. */
  async #refuseWith(id: string, p: Pending, ruleId: string | null, kind: RefusalKind, c: RefusalContext, reason?: string): Promise<void> {
    const fields = refusalFields(kind, c);
    await this.#blocked(id, p, ruleId, reason ?? fields.message);
    this.refuse(p.protocol, fields);
  }

  /** #decide carries out a decision other than a plain allow (deny, approval, mask), then dispatches. */
  async #decide(p: Pending, id: string, decision: PolicyDecision): Promise<void> {
    const c = { ruleId: decision.ruleId, reason: decision.reason };
    if (p.unknown)
      return this.#refuseWith(id, p, decision.ruleId, p.unknown.unknown === 'prepared' ? 'unknown-prepared' : 'unknown-cursor', { name: p.unknown.name });
    let masker: ResultMasker | undefined;
    switch (decision.action) {
      case 'deny':
        return this.#refuseWith(id, p, decision.ruleId, 'policy-deny', c, decision.reason);
      case 'require-approval': {
        const ok = await this.#awaitApproval(id, p, decision);
        if (!ok || !this.#h.ready()) return;
        // Approval releases the statement, not the masked values it may return.
        if (decision.masks && decision.maskRuleId) {
          const prepared = await this.#masker(p, id, decision.maskRuleId, decision.masks, { ruleId: decision.maskRuleId, reason: decision.reason });
          if (prepared === undefined || !this.#h.ready()) return;
          masker = prepared;
        }
        break;
      }
      case 'mask': {
        const prepared = await this.#masker(p, id, decision.ruleId, decision.masks ?? { columns: [], detectors: [] }, c);
        if (prepared === undefined || !this.#h.ready()) return;
        masker = prepared;
        break;
      }
      case 'allow':
        break;
    }
    this.#dispatch(p, id, decision, masker);
  }

  /**
   * #masker prepares the result masker of rule `ruleId`, or refuses the command (recorded as
   * blocked) and resolves undefined: binary results, COPY output, no masking configured, or a
   * use of masked columns no result masking can hide (lineage-gate.ts).
   */
  async #masker(p: Pending, id: string, ruleId: string, spec: MaskSpec, c: RefusalContext): Promise<ResultMasker | undefined> {
    if (p.binaryResults) return void (await this.#refuseWith(id, p, ruleId, 'mask-binary', c, 'masked results were requested in binary format'));
    // COPY TO streams rows as CopyData the proxy does not rewrite: refuse rather than leak.
    if (p.channel === 'copy') return void (await this.#refuseWith(id, p, ruleId, 'mask-copy', c, 'masked data requested through COPY'));
    const masking = this.#h.masking;
    if (!masking) return void (await this.#refuseWith(id, p, ruleId, 'mask-unconfigured', c, 'masking is required but not configured'));
    const lineage = lineageGate(p.text, p.cls, ruleId, spec);
    if (lineage.kind === 'refuse') {
      await this.#blocked(id, p, ruleId, lineage.reason);
      return void this.refuse(p.protocol, lineage.error);
    }
    return masking.prepare(ruleId, spec, lineage.lineage);
  }

  /** #dispatch forwards an admitted command and follows its results (CommandRun). */
  #dispatch(p: Pending, id: string, decision: PolicyDecision, masker: ResultMasker | undefined): void {
    const h = this.#h;
    const o = h.options;
    const cmd = new CommandRun({
      id,
      sessionId: h.recording().sessionId,
      text: p.text,
      channel: p.channel,
      masker,
      captureBytes: decision.capture ? o.maxCaptureBytes : 0,
      startedAt: performance.now(),
    });
    if (o.statementTimeoutMs > 0) h.armStatementTimer();
    if (p.protocol === 'simple') return h.forward(p.raw, { kind: 'query', cmd, statements: p.statements, defs: p.defs, opaque: p.opaque, portal: '', next: 0 });
    // Extended: the hidden Describe gives the portal's row shape for masking or capture; the
    // client never sees its answer. Built only then: most Executes need none.
    if (masker || decision.capture) h.forward(encodeFrontendMessage({ type: 'Describe', target: 'P', name: p.portal }), { kind: 'describe', hidden: cmd });
    h.forward(p.raw, { kind: 'execute', cmd, statements: p.statements, defs: p.defs, opaque: p.opaque, portal: p.portal, next: 0 });
  }

  async #blocked(commandId: string, p: Pending, ruleId: string | null, reason: string): Promise<void> {
    try {
      await this.#h.recording().record({ type: 'CommandBlocked', commandId, text: p.text, ruleId, reason: reason.slice(0, 2048) }, { wait: false });
    } catch (e) {
      this.#h.logger?.error({ err: e }, 'could not record CommandBlocked');
    }
  }

  async #awaitApproval(id: string, p: Pending, decision: PolicyDecision): Promise<boolean> {
    const h = this.#h;
    const gate = h.approvals;
    const c = { ruleId: decision.ruleId, reason: decision.reason };
    if (!gate) {
      await this.#refuseWith(id, p, decision.ruleId, 'approval-unavailable', c, 'approval required but no approval channel is configured');
      return false;
    }
    h.flush();
    const hold = { abort: new AbortController(), cancelled: false };
    h.hold(hold);
    const groups = decision.approvers ?? [];
    const timeoutMs = h.options.approvalTimeoutMs;
    let outcome: Awaited<ReturnType<ApprovalGate['hold']>>;
    try {
      // The approver is shown the text the server will run (for an Execute, the prepared text).
      outcome = await gate.hold(
        h.recording(),
        { commandId: id, text: approvalText(p), ruleId: decision.ruleId, reason: decision.reason, approverGroups: [...groups] },
        {
          timeoutMs,
          signal: hold.abort.signal,
          onPending: (requestId) => {
            h.writeClient(
              noticeResponse({
                severity: 'NOTICE',
                code: '00000',
                message: `Affidavit: this statement needs approval (policy rule "${decision.ruleId}": ${decision.reason}); approval request ${requestId} is waiting for a member of ${groups.join(', ') || 'the approvers'} (up to ${Math.round(timeoutMs / 1000)} s)`,
              }),
            );
          },
        },
      );
    } catch (e) {
      h.hold(undefined);
      const code = isAffidavitError(e) ? e.code : 'AFF_E_RECORDING_UNAVAILABLE';
      this.refuse(p.protocol, refusalFields('approval-not-recorded', { detail: `${(e as Error).message} (${code})` }));
      return false;
    }
    h.hold(undefined);
    if (outcome.decision === 'approved') return true;
    if (hold.cancelled) {
      await this.#refuseWith(
        id,
        p,
        decision.ruleId,
        'approval-cancelled',
        { requestId: outcome.requestId },
        `approval request ${outcome.requestId} cancelled by the client`,
      );
      return false;
    }
    const by = outcome.approver ? ` by ${outcome.approver.email ?? outcome.approver.subject}` : '';
    const why = outcome.justification ? `: ${outcome.justification}` : '';
    const verdict = outcome.decision === 'expired' ? 'expired' : `was ${outcome.decision}${by}`;
    await this.#refuseWith(
      id,
      p,
      decision.ruleId,
      'approval-refused',
      { requestId: outcome.requestId, ruleId: decision.ruleId, verdict: `${verdict}${why}` },
      `approval request ${outcome.requestId} ${outcome.decision}${by}${why}`,
    );
    return false;
  }

  /** refuse answers a command that is not forwarded: see the file comment for why a failing statement goes upstream. */
  refuse(protocol: Protocol, fields: ErrorFields): void {
    const h = this.#h;
    if (!h.ready()) return;
    const replace = errorResponse(fields);
    if (protocol === 'simple')
      return h.forward(REFUSAL_QUERY, { kind: 'query', replace, statements: NO_STATEMENTS, defs: undefined, opaque: false, portal: '', next: 0 });
    h.forward(REFUSAL_PARSE, { kind: 'parse', name: 'affidavit_refused', def: undefined, replace });
    // Like the server after an error: skip everything up to the next Sync.
    h.discardUntilSync();
  }
}
