import type { Bus, Subscription } from '@affidavit/bus';
import { codec, TOPICS } from '@affidavit/schemas';
import type { SessionEvent } from '@affidavit/schemas';
import type { ApprovalBook } from './approval-book.ts';

/**
 * followApprovalBook feeds `book` every ApprovalRequested / ApprovalDecided on the session-events
 * topic (or `topic`), in a consumer group of its own (so it sees every request, not a share of them). Other
 * events are skipped by header without decoding; undecodable ones are the ledger's to record.
 */
export async function followApprovalBook(bus: Bus, book: ApprovalBook, group: string, topic: string = TOPICS.sessionEvents): Promise<Subscription> {
  return bus.subscribe({
    group,
    topics: [topic],
    handler: async (batch) => {
      for (const r of batch.records) {
        const t = r.headers.type?.toString();
        if (t !== undefined && t !== 'ApprovalRequested' && t !== 'ApprovalDecided') continue;
        let e: SessionEvent;
        try {
          e = codec().decode(r.value) as SessionEvent;
        } catch {
          continue;
        }
        book.apply(e);
      }
    },
  });
}
