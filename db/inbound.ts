import { and, asc, eq, inArray, isNotNull, isNull, lt, lte } from "drizzle-orm";
import type { Db } from "./client.ts";
import * as s from "./schema.ts";

/**
 * Storage of provider events as received (`inbound_events`): committed before a webhook is
 * answered, one row per (channel, provider event id) — a re-delivery, concurrent or not, from any
 * process, stores nothing new. Processing claims rows with a lease (`available_at` moved past the
 * lease), so a row is worked on by one process at a time and taken over after a crash.
 */

export type InboundEventRow = typeof s.inboundEvents.$inferSelect;

/**
 * Stores the events of one webhook in ONE statement (`ON CONFLICT DO NOTHING` on the channel and
 * provider event id). Returns the rows newly stored; the others were duplicates. Two events of one
 * batch with the same id count once.
 */
export async function insertInboundEvents(
  db: Db,
  channelId: string,
  events: readonly { readonly providerEventId: string; readonly payload: Record<string, unknown> }[],
  now: Date,
): Promise<InboundEventRow[]> {
  if (events.length === 0) return [];
  // Received and due at the caller's clock, the one claims compare with: the database's own now()
  // (microseconds) could be later than a claim's `now` in the same millisecond, and the event would
  // wait for the next poll instead of being processed at once.
  return db
    .insert(s.inboundEvents)
    .values(events.map((e) => ({ channelId, providerEventId: e.providerEventId, payload: e.payload, receivedAt: now, availableAt: now })))
    .onConflictDoNothing({ target: [s.inboundEvents.channelId, s.inboundEvents.providerEventId] })
    .returning();
}

/** One stored event by its channel and provider id, or null. */
export async function findInboundEvent(db: Db, channelId: string, providerEventId: string): Promise<InboundEventRow | null> {
  const e = s.inboundEvents;
  const rows = await db
    .select()
    .from(e)
    .where(and(eq(e.channelId, channelId), eq(e.providerEventId, providerEventId)));
  return rows[0] ?? null;
}

/**
 * Claims up to `limit` unprocessed events that are due (of `ids` when given), oldest first: each
 * gets one more attempt and `available_at = now + leaseMs`, so no other process takes it until the
 * lease runs out. `FOR UPDATE SKIP LOCKED`: concurrent claimers never wait for or share a row.
 */
export async function claimInboundEvents(db: Db, opts: { readonly now: Date; readonly leaseMs: number; readonly limit: number; readonly ids?: readonly number[] }): Promise<InboundEventRow[]> {
  if (opts.ids && opts.ids.length === 0) return [];
  return db.transaction(async (tx) => {
    const e = s.inboundEvents;
    const due = and(isNull(e.processedAt), lte(e.availableAt, opts.now), opts.ids ? inArray(e.id, [...opts.ids]) : undefined);
    const rows = await tx.select().from(e).where(due).orderBy(asc(e.id)).limit(opts.limit).for("update", { skipLocked: true });
    if (rows.length === 0) return [];
    const leaseEnd = new Date(opts.now.getTime() + opts.leaseMs);
    const claimed: InboundEventRow[] = [];
    for (const row of rows) {
      const [updated] = await tx
        .update(e)
        .set({ attempts: row.attempts + 1, availableAt: leaseEnd })
        .where(eq(e.id, row.id))
        .returning();
      if (updated) claimed.push(updated);
    }
    return claimed;
  });
}

/** Marks an event processed: it is never claimed again. `note`: why it was set aside instead of applied. */
export async function markInboundProcessed(db: Db, id: number, now: Date, note?: string): Promise<void> {
  const e = s.inboundEvents;
  await db
    .update(e)
    .set({ processedAt: now, lastError: note ?? null })
    .where(eq(e.id, id));
}

/** Records why processing failed; the event is tried again from `retryAt`. */
export async function markInboundFailed(db: Db, id: number, error: string, retryAt: Date): Promise<void> {
  const e = s.inboundEvents;
  await db
    .update(e)
    .set({ lastError: error.slice(0, 2000), availableAt: retryAt })
    .where(eq(e.id, id));
}

/**
 * Deletes up to `limit` events processed before `before` (retention): their ids no longer guard
 * against a re-delivery, which providers make within hours (LINE, Meta: up to 36 h), not weeks.
 * Unprocessed events are never deleted. Returns how many went.
 */
export async function deleteProcessedInboundEvents(db: Db, before: Date, limit: number): Promise<number> {
  const e = s.inboundEvents;
  const old = db
    .select({ id: e.id })
    .from(e)
    .where(and(isNotNull(e.processedAt), lt(e.processedAt, before)))
    .limit(limit);
  const gone = await db.delete(e).where(inArray(e.id, old)).returning({ id: e.id });
  return gone.length;
}
