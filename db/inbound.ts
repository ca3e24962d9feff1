import { and, asc, eq, inArray, isNotNull, isNull, lt, lte, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { Params, runRaw } from "./raw.ts";
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
 * provider event id). Returns the rows newly stored, in the batch's order; the others were
 * duplicates. Two events of one batch with the same id count once.
 *
 * With `leaseMs`, the rows are stored already claimed by the caller (one attempt, due again only
 * when the lease runs out), as `claimInboundEvents` would claim them: the process that stores
 * them processes them at once and needs no claim statement; if it dies first, they are taken over
 * after the lease like any claimed row. Written by hand (db/raw.ts): it is on every webhook's path.
 */
export async function insertInboundEvents(
  db: Db,
  channelId: string,
  events: readonly { readonly providerEventId: string; readonly payload: Record<string, unknown> }[],
  now: Date,
  opts: { readonly leaseMs?: number } = {},
): Promise<InboundEventRow[]> {
  if (events.length === 0) return [];
  // Received and due at the caller's clock, the one claims compare with: the database's own now()
  // (microseconds) could be later than a claim's `now` in the same millisecond, and the event would
  // wait for the next poll instead of being processed at once.
  const availableAt = opts.leaseMs === undefined ? now : new Date(now.getTime() + opts.leaseMs);
  const attempts = opts.leaseMs === undefined ? 0 : 1;
  const q = new Params();
  const rows = await runRaw<{ id: number | string; provider_event_id: string }>(
    db,
    `insert into inbound_events (channel_id, provider_event_id, payload, received_at, available_at, attempts)
     select ${q.p(channelId, "text")}, e.id, e.p::jsonb, ${q.p(now.toISOString(), "timestamptz")}, ${q.p(availableAt.toISOString(), "timestamptz")}, ${q.p(attempts, "int")}
     from unnest(${q.p(
       events.map((e) => e.providerEventId),
       "text[]",
     )}, ${q.p(
       events.map((e) => JSON.stringify(e.payload)),
       "text[]",
     )}) with ordinality as e(id, p, n)
     order by e.n
     on conflict (channel_id, provider_event_id) do nothing
     returning id, provider_event_id`,
    q.values,
  );
  // The rows as stored: what was sent (the first of a batch's events with one id), and the id given.
  const byEventId = new Map<string, Record<string, unknown>>();
  for (const e of events) if (!byEventId.has(e.providerEventId)) byEventId.set(e.providerEventId, e.payload);
  return rows
    .map((r) => ({
      id: Number(r.id),
      channelId,
      providerEventId: r.provider_event_id,
      payload: byEventId.get(r.provider_event_id) ?? {},
      receivedAt: now,
      availableAt,
      attempts,
      lastError: null,
      processedAt: null,
    }))
    .sort((a, b) => a.id - b.id);
}

/**
 * Gives back the lease of events stored claimed (`insertInboundEvents` with `leaseMs`) that will
 * not be processed now (the process is stopping): due at once for the next processor.
 */
export async function releaseInboundEvents(db: Db, ids: readonly number[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  const e = s.inboundEvents;
  await db
    .update(e)
    .set({ availableAt: now, attempts: sql`greatest(${e.attempts} - 1, 0)` })
    .where(and(inArray(e.id, [...ids]), isNull(e.processedAt)));
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
export async function claimInboundEvents(
  db: Db,
  opts: { readonly now: Date; readonly leaseMs: number; readonly limit: number; readonly ids?: readonly number[] },
): Promise<InboundEventRow[]> {
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
