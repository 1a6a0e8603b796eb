import { parseArgs } from 'node:util';
import { EXIT, UsageError } from '../command.ts';
import type { Command, Io } from '../command.ts';
import { API_EXIT, API_HELP, API_OPTIONS, apiTarget, graphql, runApi } from './api-client.ts';
import { CONFIG_HELP, CONFIG_OPTION, configFrom } from './config-options.ts';
import { visible } from './visible.ts';

export { visible } from './visible.ts';

/** PendingApproval is what `affidavit approvals list` shows (and prints with --json). */
export type PendingApproval = {
  requestId: string;
  sessionId: string;
  requester: string;
  text: string;
  ruleId: string;
  reason: string;
  approverGroups: string[];
  expiresAt: string;
};

const PENDING = `query ($after: String) {
  approvals(filter: { status: pending }, first: 200, after: $after) {
    nodes { requestId sessionId requester text ruleId reason approverGroups expiresAt }
    pageInfo { hasNextPage endCursor }
  }
}`;
/** MAX_PAGES bounds how many pages `approvals list` follows (200 requests each). */
const MAX_PAGES = 50;

/** approvalsListCommand shows the held statements waiting for a decision. */
export const approvalsListCommand: Command = {
  path: ['approvals', 'list'],
  summary: 'list statements held for approval (through the GraphQL API)',
  help: `usage: affidavit approvals list [--json] (--as USER | --token TOKEN) [--api URL] [--config FILE]

Lists the requests waiting for an approver, oldest first, as the GraphQL API shows them (the
approvals read model; a request appears once the ledger holds it). The caller needs the auditor,
approver or admin role. The held statement is the requester's text: control and bidi characters
in it are printed as visible escapes.

Options:
  --json          print the list as JSON
${API_HELP}
${CONFIG_HELP}

Exit codes: 0 listed (possibly none), ${API_EXIT}.`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { ...CONFIG_OPTION, ...API_OPTIONS, json: { type: 'boolean' } } });
    const target = await apiTarget(values, configFrom(values, io), io);
    return runApi('approvals list', io, async () => {
      const list: PendingApproval[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < MAX_PAGES; pages++) {
        type Answer = {
          approvals: { nodes: Array<PendingApproval & { requester: string | null }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
        };
        const d: Answer = await graphql<Answer>(target, PENDING, { after });
        for (const n of d.approvals.nodes) list.push({ ...n, requester: n.requester ?? '(unknown)' });
        if (!d.approvals.pageInfo.hasNextPage) break;
        after = d.approvals.pageInfo.endCursor;
      }
      // The read model says pending until an expiry is recorded; one past its time cannot be approved.
      const now = Date.now();
      const open = list.filter((p) => Date.parse(p.expiresAt) > now).reverse();
      if (values.json) io.stdout.write(`${JSON.stringify(open, null, 2)}\n`);
      else if (open.length === 0) io.stdout.write('no requests are waiting\n');
      else
        for (const p of open)
          io.stdout.write(
            `${visible(p.requestId)}  by ${visible(p.requester)}  rule ${visible(p.ruleId)}  approvers: ${visible(p.approverGroups.join(', '))}  expires ${visible(p.expiresAt)}\n    ${visible(p.text)}\n`,
          );
      return EXIT.OK;
    });
  },
};

const DECIDE = {
  approved: 'mutation ($id: ID!, $why: String!) { decided: approve(id: $id, justification: $why) { requestId decision decidedAt } }',
  denied: 'mutation ($id: ID!, $why: String!) { decided: deny(id: $id, justification: $why) { requestId decision decidedAt } }',
};

function decideCommand(decision: 'approved' | 'denied'): Command {
  const verb = decision === 'approved' ? 'approve' : 'deny';
  return {
    path: [verb],
    summary: `${verb} a held statement as an approver (through the GraphQL API)`,
    help: `usage: affidavit ${verb} REQUEST_ID --reason TEXT (--as USER | --token TOKEN) [--api URL] [--config FILE]

Decides a held statement through the GraphQL API's \`${verb}\` mutation, acting with the approver's
own bearer token, with a justification kept in the audit trail. The API checks the role
(approver or admin); the decision service behind it checks the rule (an approver group of the
rule, nobody decides their own request, not expired, decided once), records every refused
attempt and signs the decision, which travels as an ApprovalDecided event; the waiting session
then ${decision === 'approved' ? 'runs the statement' : 'gets an error naming the request'}.

Options:
  --reason TEXT   the justification (required)
${API_HELP}
${CONFIG_HELP}

Exit codes: 0 decided, ${API_EXIT}.`,
    async run(args, io: Io) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { ...CONFIG_OPTION, ...API_OPTIONS, reason: { type: 'string' } },
      });
      if (positionals.length !== 1) throw new UsageError('expected exactly one REQUEST_ID');
      if (!values.reason?.trim()) throw new UsageError('--reason TEXT is required');
      const target = await apiTarget(values, configFrom(values, io), io);
      return runApi(verb, io, async () => {
        const d = await graphql<{ decided: { requestId: string; decision: string; decidedAt: string } }>(target, DECIDE[decision], {
          id: positionals[0],
          why: values.reason,
        });
        io.stdout.write(`${visible(d.decided.requestId)}: ${d.decided.decision} at ${d.decided.decidedAt}\n`);
        return EXIT.OK;
      });
    },
  };
}

/** approveCommand and denyCommand decide held statements. */
export const approveCommand = decideCommand('approved');
export const denyCommand = decideCommand('denied');
