import type { Actor } from '@affidavit/schemas';
import {
  ApprovalAlreadyDecidedError,
  ApprovalCommandMismatchError,
  ApprovalExpiredError,
  ApprovalJustificationError,
  NotAnApproverError,
  SelfApprovalError,
  UnknownApprovalError,
} from './errors.ts';

/** ApprovalRequest is what a held command waits on. Times are epoch microseconds, as in the events. */
export type ApprovalRequest = {
  requestId: string;
  commandId: string;
  sessionId: string;
  requester: Actor;
  text: string;
  ruleId: string;
  reason: string;
  approverGroups: string[];
  requestedAt: number;
  expiresAt: number;
  /** commandDigest is commandDigest(text); when set, a decision MUST name the same digest. */
  commandDigest?: string;
};

/** ApprovalState is the folded state of one request. */
export type ApprovalState =
  | { status: 'none' }
  | { status: 'pending'; request: ApprovalRequest }
  | { status: 'approved' | 'denied' | 'expired'; request: ApprovalRequest; approver: Actor | null; justification: string };

/** ApprovalCommand is what someone asks of a request (imperative names). */
export type ApprovalCommand =
  | { type: 'RequestApproval'; request: ApprovalRequest }
  | {
      type: 'DecideApproval';
      requestId: string;
      approver: Actor;
      decision: 'approved' | 'denied';
      justification: string;
      now: number;
      commandDigest?: string | null;
    }
  | { type: 'ExpireApproval'; requestId: string; now: number };

/** ApprovalFact is what happened (past tense), mirroring ApprovalRequested / ApprovalDecided. */
export type ApprovalFact =
  | { type: 'ApprovalRequested'; request: ApprovalRequest }
  | { type: 'ApprovalDecided'; requestId: string; decision: 'approved' | 'denied' | 'expired'; approver: Actor | null; justification: string };

/** initialState is the state of a request nobody asked for yet. */
export const initialState = (): ApprovalState => ({ status: 'none' });

const sameIdentity = (a: Actor, b: Actor) => a.issuer === b.issuer && a.subject === b.subject;

/**
 * decide is the pure rule book of approvals (emmett Decider). It MUST refuse: deciding one's own
 * request (separation of duties), a decider outside the request's approver groups, a second
 * decision, a decision at or after expiry, a decision naming another statement than the one
 * held (when the request has a digest), and a decision without justification.
 */
export function decide(command: ApprovalCommand, state: ApprovalState): ApprovalFact[] {
  switch (command.type) {
    case 'RequestApproval':
      if (state.status !== 'none') throw new ApprovalAlreadyDecidedError(`request ${command.request.requestId} exists already`);
      return [{ type: 'ApprovalRequested', request: command.request }];
    case 'DecideApproval': {
      if (state.status === 'none') throw new UnknownApprovalError(`no approval request ${command.requestId}`);
      if (state.status === 'expired') throw new ApprovalExpiredError(`request ${command.requestId} expired`);
      if (state.status !== 'pending') throw new ApprovalAlreadyDecidedError(`request ${command.requestId} was already ${state.status}`);
      if (command.now >= state.request.expiresAt) throw new ApprovalExpiredError(`request ${command.requestId} expired`);
      if (sameIdentity(command.approver, state.request.requester)) {
        throw new SelfApprovalError(`${command.approver.subject} requested ${command.requestId} and cannot decide it (separation of duties)`);
      }
      const allowed = state.request.approverGroups;
      if (!command.approver.groups.some((g) => allowed.includes(g))) {
        throw new NotAnApproverError(`${command.approver.subject} is in none of the approver groups ${allowed.join(', ')} of request ${command.requestId}`);
      }
      if (state.request.commandDigest !== undefined && command.commandDigest !== state.request.commandDigest) {
        throw new ApprovalCommandMismatchError(
          `the decision for ${command.requestId} names statement ${command.commandDigest ?? '(none)'}, but ${state.request.commandDigest} is held`,
        );
      }
      if (command.justification.trim() === '') throw new ApprovalJustificationError();
      return [
        { type: 'ApprovalDecided', requestId: command.requestId, decision: command.decision, approver: command.approver, justification: command.justification },
      ];
    }
    case 'ExpireApproval':
      if (state.status !== 'pending') return [];
      if (command.now < state.request.expiresAt) return [];
      return [{ type: 'ApprovalDecided', requestId: command.requestId, decision: 'expired', approver: null, justification: 'no decision before the deadline' }];
    default: {
      const never: never = command;
      throw new TypeError(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/** evolve folds one fact into the state. */
export function evolve(state: ApprovalState, fact: ApprovalFact): ApprovalState {
  switch (fact.type) {
    case 'ApprovalRequested':
      return { status: 'pending', request: fact.request };
    case 'ApprovalDecided':
      if (state.status !== 'pending') return state;
      return { status: fact.decision, request: state.request, approver: fact.approver, justification: fact.justification };
    default: {
      const never: never = fact;
      throw new TypeError(`unknown fact ${JSON.stringify(never)}`);
    }
  }
}

/** fold replays facts from the initial state. */
export const fold = (facts: readonly ApprovalFact[]): ApprovalState => facts.reduce(evolve, initialState());
