import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT, UsageError } from '../command.ts';
import type { Command, Io } from '../command.ts';
import type { ControlFile } from '../embedded/control-server.ts';
import type { PendingApproval } from '../embedded/approval-book.ts';
import { mintDevToken } from '../embedded/dev-token.ts';
import type { ResolvedConfig } from '../embedded/config.ts';
import { CONFIG_HELP, CONFIG_OPTION, configFrom } from './config-options.ts';

/** control calls the running embedded system's local control endpoint. */
export async function control(config: ResolvedConfig, path: string, init?: { body: unknown }): Promise<{ status: number; body: Record<string, unknown> }> {
  const file = join(config.dataDir, 'control.json');
  if (!existsSync(file)) throw new UsageError(`no running Affidavit found for ${config.dataDir} (start it with 'npx affidavit start')`);
  const c = JSON.parse(readFileSync(file, 'utf8')) as ControlFile;
  let res: Response;
  try {
    res = await fetch(`${c.url}${path}`, {
      method: init ? 'POST' : 'GET',
      headers: { 'x-affidavit-control': c.secret, ...(init ? { 'content-type': 'application/json' } : {}) },
      ...(init ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    throw new UsageError(`cannot reach the running Affidavit at ${c.url} (is it still running?): ${(e as Error).message}`);
  }
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

// Characters a terminal acts on instead of showing: C0/C1 controls (a carriage return or an ANSI
// escape could overwrite or hide part of the statement) and Unicode bidi/format controls (which
// reorder what is displayed). A newline is kept, the lines after it indented.
const INVISIBLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/** visible renders requester-supplied text for a terminal: every control or bidi character as an escape. */
export function visible(text: string): string {
  return text
    .replace(INVISIBLE, (ch) => {
      const c = ch.codePointAt(0) ?? 0;
      if (ch === '\r') return '\\r';
      if (ch === '\t') return '\\t';
      return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    })
    .replace(/\n/g, '\n    ');
}

/** approvalsListCommand shows the held statements waiting for a decision. */
export const approvalsListCommand: Command = {
  path: ['approvals', 'list'],
  summary: 'list statements held for approval (embedded mode)',
  help: `usage: affidavit approvals list [--json] [--config FILE]

Lists the requests waiting for an approver in the running embedded system.
${CONFIG_HELP}

Exit codes: 0 listed (possibly none), 2 usage error or not running, 3 other error.`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { ...CONFIG_OPTION, json: { type: 'boolean' } } });
    const config = configFrom(values, io);
    const { body } = await control(config, '/approvals');
    const list = body as unknown as PendingApproval[];
    if (values.json) io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    else if (list.length === 0) io.stdout.write('no requests are waiting\n');
    else
      for (const p of list)
        io.stdout.write(
          `${visible(p.requestId)}  by ${visible(p.requester)}  rule ${visible(p.ruleId)}  approvers: ${visible(p.approverGroups.join(', '))}  expires ${visible(p.expiresAt)}\n    ${visible(p.text)}\n`,
        );
    return EXIT.OK;
  },
};

function decideCommand(decision: 'approved' | 'denied'): Command {
  const verb = decision === 'approved' ? 'approve' : 'deny';
  return {
    path: [verb],
    summary: `${verb} a held statement as a configured approver (embedded mode)`,
    help: `usage: affidavit ${verb} REQUEST_ID --as USER --reason TEXT [--config FILE]

Decides a held statement as USER (a configured user in an approver group), with a justification
kept in the audit trail. The decision travels as an ApprovalDecided event; the waiting session
then ${decision === 'approved' ? 'runs the statement' : 'gets an error naming the request'}. Nobody decides their own request.

Options:
  --as USER       the approver (a token for USER is minted by the development issuer)
  --reason TEXT   the justification (required)
${CONFIG_HELP}

Exit codes: 0 decided, 1 refused (self-approval, not an approver, expired, already decided, unknown id), 2 usage error or not running.`,
    async run(args, io: Io) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { ...CONFIG_OPTION, as: { type: 'string' }, reason: { type: 'string' } },
      });
      if (positionals.length !== 1) throw new UsageError('expected exactly one REQUEST_ID');
      if (!values.as) throw new UsageError('--as USER is required');
      if (!values.reason?.trim()) throw new UsageError('--reason TEXT is required');
      const config = configFrom(values, io);
      const token = await mintDevToken(config, values.as, 300);
      const { status, body } = await control(config, '/approvals/decide', {
        body: { requestId: positionals[0], decision, justification: values.reason, token },
      });
      if (status !== 200) {
        io.stderr.write(`affidavit ${verb}: ${String(body.error)}${body.code ? ` [${String(body.code)}]` : ''}\n`);
        return EXIT.FAILED;
      }
      io.stdout.write(`${positionals[0]}: ${decision} by ${values.as}\n`);
      return EXIT.OK;
    },
  };
}

/** approveCommand and denyCommand decide held statements. */
export const approveCommand = decideCommand('approved');
export const denyCommand = decideCommand('denied');
