import { and, asc, eq, inArray, isNull, lte } from "drizzle-orm";
import type { Db, Tx } from "./client.ts";
import { runRaw } from "./raw.ts";
import * as s from "./schema.ts";

/**
 * Storage of the outbox: side effects written with the decision that caused them (in `commit`)
 * and delivered after it. Due rows are claimed with `FOR UPDATE SKIP LOCKED` inside a
 * transaction, so any number of processes may drain at once and each row is handled by one.
 */

export type OutboxRow = typeof s.outbox.$inferSelect;

export interface DrainOptions {
  /** The topics this process delivers. */
  readonly topics: readonly string[];
  readonly limit: number;
  readonly now: () => Date;
  /** When a failed row is tried again, after `attempts` failures. */
  readonly retryDelayMs: (attempts: number) => number;
}

/**
 * Claims up to `limit` due rows of `topics`, oldest first, and hands each to `deliver` inside the
 * claiming transaction (so `deliver` may read with `tx`). A row delivered is marked done; a row
 * whose `deliver` throws gets its error, one more attempt and a later time. Returns how many rows
 * were claimed.
 */
export async function drainOutboxBatch(
  db: Db,
  opts: DrainOptions,
  deliver: (row: OutboxRow, tx: Tx) => Promise<void>,
  onError: (err: unknown, row: OutboxRow) => void,
): Promise<number> {
  return db.transaction(async (tx) => {
    const o = s.outbox;
    const rows = await tx
      .select()
      .from(o)
      .where(and(isNull(o.doneAt), inArray(o.topic, [...opts.topics]), lte(o.availableAt, opts.now())))
      .orderBy(asc(o.id))
      .limit(opts.limit)
      .for("update", { skipLocked: true });
    for (const row of rows) {
      try {
        await deliver(row, tx);
        await tx
          .update(o)
          .set({ doneAt: opts.now(), attempts: row.attempts + 1 })
          .where(eq(o.id, row.id));
      } catch (err) {
        onError(err, row);
        const attempts = row.attempts + 1;
        await tx
          .update(o)
          .set({ attempts, lastError: String(err), availableAt: new Date(opts.now().getTime() + opts.retryDelayMs(attempts)) })
          .where(eq(o.id, row.id));
      }
    }
    return rows.length;
  });
}

/**
 * Marks the `notice` rows of these notifications done: the conversation's room published them
 * itself right after the commit (the fast path, rooms/ConversationRoom.ts `publishNotices`). One
 * statement on the pending rows (`outbox_pending_idx`); a row a drain holds is waited for and then
 * left alone (that drain delivered it: the inbox room shows a notice id once). Returns how many
 * rows it marked.
 */
export async function markNoticesDone(db: Db, notificationIds: readonly number[], now: Date): Promise<number> {
  if (notificationIds.length === 0) return 0;
  const rows = await runRaw<{ id: unknown }>(
    db,
    "update outbox set done_at = $1::timestamptz, attempts = attempts + 1 where topic = 'notice' and done_at is null and payload->>'notificationId' = any($2::text[]) returning id",
    [now.toISOString(), notificationIds.map(String)],
  );
  return rows.length;
}
