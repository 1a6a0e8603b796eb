// startApi: the API on its own port beside the embedded system (`affidavit start`). It opens the
// ledger file read-only, projects it into the read-model file, follows it live and listens.
import type { FastifyInstance } from 'fastify';
import type { Logger } from '@affidavit/common';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { openSqliteReadModel } from './adapters/sqlite/sqlite-read-model.ts';
import type { ApiOptions } from './options.ts';
import { createProofService } from './proofs.ts';
import { createReportService, type ReportKeys } from './reports.ts';
import { DEFAULT_POLL_MS, ReadModelProjector } from './read-model/projector.ts';
import { buildServer, type ServerDeps } from './server.ts';

/** StartApiOptions: files, where to listen, and the server's options. */
export type StartApiOptions = {
  readonly ledgerFile: string;
  readonly readModelFile: string;
  readonly host: string;
  /** port 0 picks a free one (see the returned url). */
  readonly port: number;
  readonly pollMs?: number;
  readonly server?: Partial<ApiOptions>;
};

/** RunningApi is a started API; stop() closes the server, the projector and both files. */
export type RunningApi = { readonly app: FastifyInstance; readonly url: string; readonly projector: ReadModelProjector; stop(): Promise<void> };

/** startApi catches the read models up with the ledger, then listens; it MUST be stopped with stop(). */
export async function startApi(
  o: StartApiOptions,
  deps: Omit<ServerDeps, 'store' | 'proofs' | 'changes' | 'reports' | 'ledger'> & { logger?: Logger; reportKeys?: ReportKeys },
): Promise<RunningApi> {
  const ledger = await openSqliteLedgerStore({ path: o.ledgerFile, readOnly: true });
  const store = openSqliteReadModel({ path: o.readModelFile });
  const projector = new ReadModelProjector({ ledger, store, ...(deps.logger ? { logger: deps.logger.child({ component: 'api-projector' }) } : {}) });
  let app: FastifyInstance | undefined;
  try {
    await projector.catchUp();
    projector.start(o.pollMs ?? DEFAULT_POLL_MS);
    const { reportKeys, ...rest } = deps;
    app = await buildServer(o.server ?? {}, {
      ...rest,
      store,
      ledger,
      proofs: createProofService(ledger),
      ...(reportKeys ? { reports: createReportService(ledger, reportKeys, { ledgerFile: o.ledgerFile }) } : {}),
      changes: (l) => projector.onChange(l),
    });
    const url = await app.listen({ host: o.host, port: o.port });
    const running = app;
    return {
      app: running,
      url,
      projector,
      async stop() {
        await running.close();
        await projector.stop();
        store.close();
        await ledger.close();
      },
    };
  } catch (e) {
    await app?.close().catch(() => {});
    await projector.stop();
    store.close();
    await ledger.close();
    throw e;
  }
}
