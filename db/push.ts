import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Locale } from "../domain/sets.ts";
import type { Db } from "./client.ts";
import type { DeviceRow } from "./devices.ts";
import { jsonColumn } from "./raw.ts";
import * as s from "./schema.ts";
import { executeRows } from "./sql.ts";

/**
 * Storage of push sending (issue 11), in two steps:
 *
 * 1. `collectPushEffects`: the `push` outbox rows (written by db/commit.ts with the customer
 *    message that caused them, so only for committed actions) are claimed with `FOR UPDATE SKIP
 *    LOCKED` and folded into `push_batches`, one row per member and conversation, in the same
 *    transaction that marks them done: each message is counted exactly once.
 * 2. `claimDueBatches` / `finishBatch`: a batch whose window is over is leased (`lease_until`) by
 *    one process, sent, then deleted; a process that dies while sending leaves the lease to run
 *    out and another sends it again (at least once).
 *
 * The outbox rows of other topics are never touched here (server/outbox.ts owns `notice`,
 * server/delivery.ts `deliver_reply`).
 */

export const PUSH_TOPIC = "push";

/**
 * Folds up to `limit` due `push` outbox rows into the batches: a member's first message for a
 * conversation opens a window ending at `now + windowMs`; later ones add to its count. Returns how
 * many outbox rows were folded.
 */
export async function collectPushEffects(db: Db, opts: { now: Date; windowMs: number; limit: number }): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = executeRows<{ id: number | string; payload: unknown }>(
      await tx.execute(sql`
        select id, payload from outbox
        where topic = ${PUSH_TOPIC} and done_at is null and available_at <= ${opts.now.toISOString()}::timestamptz
        order by id
        limit ${opts.limit}
        for update skip locked`),
    );
    if (rows.length === 0) return 0;
    const due = new Date(opts.now.getTime() + opts.windowMs);
    const b = s.pushBatches;
    for (const row of rows) {
      const payload = jsonColumn<PushOutboxPayload>(row.payload);
      const memberIds = payload.effect?.kind === "push" ? [...new Set(payload.effect.memberIds)] : [];
      if (memberIds.length === 0) continue;
      await tx
        .insert(b)
        .values(memberIds.map((memberId) => ({ memberId, conversationId: payload.conversationId, count: 1, lastSeq: payload.seq, dueAt: due })))
        .onConflictDoUpdate({
          target: [b.memberId, b.conversationId],
          set: { count: sql`${b.count} + 1`, lastSeq: sql`greatest(${b.lastSeq}, excluded.last_seq)` },
        });
    }
    await tx
      .update(s.outbox)
      .set({ doneAt: opts.now, attempts: sql`${s.outbox.attempts} + 1` })
      .where(inArray(s.outbox.id, rows.map((r) => Number(r.id))));
    return rows.length;
  });
}

/** A `push` outbox row's payload, as db/commit.ts writes it. */
interface PushOutboxPayload {
  readonly conversationId: string;
  readonly seq: number;
  readonly effect?: { readonly kind: string; readonly memberIds: readonly string[] };
}

/** A batch claimed by this process until its lease runs out. */
export interface ClaimedBatch {
  readonly memberId: string;
  readonly conversationId: string;
  readonly count: number;
  readonly lastSeq: number;
  readonly attempts: number;
  readonly sentDeviceIds: readonly string[];
}

/** Claims up to `limit` batches whose window is over (and that no live lease holds). */
export async function claimDueBatches(db: Db, opts: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedBatch[]> {
  const now = opts.now.toISOString();
  return db.transaction(async (tx) => {
    const rows = executeRows<{ member_id: string; conversation_id: string; count: number; last_seq: number; attempts: number; sent_device_ids: string[] | string }>(
      await tx.execute(sql`
        select member_id, conversation_id, count, last_seq, attempts, sent_device_ids from push_batches
        where due_at <= ${now}::timestamptz and (lease_until is null or lease_until <= ${now}::timestamptz)
        order by due_at
        limit ${opts.limit}
        for update skip locked`),
    );
    const leaseUntil = new Date(opts.now.getTime() + opts.leaseMs);
    const b = s.pushBatches;
    for (const r of rows) {
      await tx
        .update(b)
        .set({ leaseUntil })
        .where(and(eq(b.memberId, r.member_id), eq(b.conversationId, r.conversation_id)));
    }
    return rows.map((r) => ({
      memberId: r.member_id,
      conversationId: r.conversation_id,
      count: Number(r.count),
      lastSeq: Number(r.last_seq),
      attempts: Number(r.attempts),
      sentDeviceIds: parseTextArray(r.sent_device_ids),
    }));
  });
}

/** A raw `text[]` arrives as an array (postgres.js, PGlite) or, on some paths, as its literal. */
function parseTextArray(v: string[] | string): string[] {
  if (Array.isArray(v)) return v;
  const inner = v.replace(/^\{|\}$/g, "");
  return inner ? inner.split(",").map((x) => x.replace(/^"|"$/g, "")) : [];
}

/** What became of a claimed batch. */
export type BatchOutcome =
  /** Sent to every device (or nothing to send): the messages it counted are pushed. */
  | { readonly kind: "done" }
  /** Some devices failed for a while: try them again at `at`; `sentDeviceIds` are not sent to again. */
  | { readonly kind: "retry"; readonly at: Date; readonly sentDeviceIds: readonly string[]; readonly error: string };

/**
 * Records a claimed batch's outcome. Messages that arrived while it was being sent (a higher
 * `last_seq` than the claim's) stay for a next push after a new window; otherwise a done batch is
 * deleted.
 */
export async function finishBatch(db: Db, claim: ClaimedBatch, outcome: BatchOutcome, opts: { now: Date; windowMs: number }): Promise<void> {
  const b = s.pushBatches;
  const key = and(eq(b.memberId, claim.memberId), eq(b.conversationId, claim.conversationId));
  await db.transaction(async (tx) => {
    const [row] = await tx.select({ lastSeq: b.lastSeq, count: b.count }).from(b).where(key).for("update");
    if (!row) return;
    const newer = row.lastSeq > claim.lastSeq;
    if (outcome.kind === "retry") {
      await tx
        .update(b)
        .set({ dueAt: outcome.at, leaseUntil: null, attempts: claim.attempts + 1, sentDeviceIds: [...outcome.sentDeviceIds], lastError: outcome.error })
        .where(key);
    } else if (newer) {
      await tx
        .update(b)
        .set({
          count: Math.max(1, row.count - claim.count),
          dueAt: new Date(opts.now.getTime() + opts.windowMs),
          leaseUntil: null,
          attempts: 0,
          sentDeviceIds: [],
          lastError: null,
        })
        .where(key);
    } else {
      await tx.delete(b).where(key);
    }
  });
}

/** What sending one batch needs to know, read when it is sent (not when the message came). */
export interface PushTarget {
  readonly member: { readonly id: string; readonly locale: Locale; readonly active: boolean };
  /** The member muted every push, or this conversation. */
  readonly muted: boolean;
  /** The member is still the conversation's follower or one of its collaborators. */
  readonly participant: boolean;
  readonly customerName: string;
  /** The latest customer message's text ("" for one without text). */
  readonly latestText: string;
  /** The member's unread count in this conversation, and over all their conversations. */
  readonly unread: number;
  readonly totalUnread: number;
  readonly devices: DeviceRow[];
}

export async function loadPushTarget(db: Db, memberId: string, conversationId: string): Promise<PushTarget | null> {
  const m = s.members;
  const c = s.conversations;
  const [row] = await db
    .select({
      locale: m.locale,
      status: m.status,
      followerId: c.followerId,
      collaboratorIds: c.collaboratorIds,
      customerName: s.customers.displayName,
      mutedAll: sql<boolean>`coalesce((select p.muted_all from push_preferences p where p.member_id = ${memberId}), false)`,
      mutedOne: sql<boolean>`exists (select 1 from push_mutes pm where pm.member_id = ${memberId} and pm.conversation_id = ${conversationId})`,
    })
    .from(c)
    .innerJoin(s.customers, eq(s.customers.id, c.customerId))
    .innerJoin(m, eq(m.id, memberId))
    .where(eq(c.id, conversationId));
  if (!row) return null;
  const [latest] = await db
    .select({ body: s.messages.body })
    .from(s.messages)
    .where(and(eq(s.messages.conversationId, conversationId), eq(s.messages.sender, "customer")))
    .orderBy(desc(s.messages.seq))
    .limit(1);
  const mcs = s.memberConversationState;
  const [unread] = await db
    .select({
      one: sql<number>`coalesce(sum(${mcs.unreadCount}) filter (where ${mcs.conversationId} = ${conversationId}), 0)::int`,
      all: sql<number>`coalesce(sum(${mcs.unreadCount}), 0)::int`,
    })
    .from(mcs)
    .where(eq(mcs.memberId, memberId));
  const devices = await db.select().from(s.devices).where(eq(s.devices.memberId, memberId));
  return {
    member: { id: memberId, locale: row.locale, active: row.status === "active" },
    muted: Boolean(row.mutedAll) || Boolean(row.mutedOne),
    participant: row.followerId === memberId || row.collaboratorIds.includes(memberId),
    customerName: row.customerName,
    latestText: latest?.body ?? "",
    unread: Number(unread?.one ?? 0),
    totalUnread: Number(unread?.all ?? 0),
    devices,
  };
}
