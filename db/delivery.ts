import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { DeliveryStatus, type MessagePart, advanceDelivery, statusesMovedBy } from "../domain/channels.ts";
import { assertNever } from "../domain/sets.ts";
import { groupUserId } from "./channels.ts";
import type { Db, Tx } from "./client.ts";
import { Params, jsonColumn, runRaw } from "./raw.ts";
import * as s from "./schema.ts";
import { executeRows } from "./sql.ts";

/**
 * Storage of outbound delivery (issue 9, item 5). A staff reply to a conversation whose channel
 * delivers is committed with `delivery_status = 'queued'` and a `deliver_reply` outbox row
 * (db/commit.ts): that row carries the attempts, the next try time and the lease; the message
 * carries the status clients see. Statuses only move forward (`advanceDelivery`).
 */

export const DELIVER_TOPIC = "deliver_reply";

/** A `deliver_reply` outbox row claimed by this process until its lease runs out. */
export interface ClaimedDelivery {
  readonly outboxId: number;
  readonly conversationId: string;
  /** The reply's seq (a reply hands out one seq, so the row's seq is the message's). */
  readonly seq: number;
  /** Sends made before this one. */
  readonly attempts: number;
  /**
   * What to send, read by the claim's own statement (null: the row names no staff or automatic
   * message). Absent on a claim made elsewhere: the worker reads it (`loadDeliveryTarget`).
   */
  readonly target?: DeliveryTarget | null;
}

/**
 * Claims up to `limit` due deliveries, each the FIRST pending one of its conversation (seq order:
 * a reply never leaves before an earlier one of its conversation is sent or failed, even while
 * the earlier one waits for a retry). Rows are locked with `FOR UPDATE SKIP LOCKED` and leased
 * (`available_at` moved to now + lease) in one statement, so any number of processes may claim at
 * once, and a claim of a process that died is taken again after the lease: at least once. (It was
 * a transaction of four statements — BEGIN, the pick, the lease, COMMIT — and three when there was
 * nothing to claim.) The first pending row of each conversation is found by one pass over the
 * pending rows (`firsts`, materialized: computed once, then joined by primary key). It was a
 * `NOT EXISTS` per candidate, and the outbox's statistics (a queue table: rows come and go faster
 * than ANALYZE sees) made PostgreSQL loop over every pending row for every candidate: 150–390 ms
 * per claim with 2,500 replies pending under `npm run bench:p2` (statement log, auto_explain), so
 * the worker fell further behind the more it had to do.
 */
export async function claimDueDeliveries(db: Db, opts: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedDelivery[]> {
  const now = opts.now.toISOString();
  const leaseUntil = new Date(opts.now.getTime() + opts.leaseMs).toISOString();
  // One statement (its own transaction): the rows are picked and locked in the CTE, then leased,
  // and what each sends is read with them (the message, its conversation's channel account and
  // the customer's id there: the statement's snapshot holds the message, committed with its row).
  const rows = executeRows<
    { id: number | string; conversation_id: string; seq: number | string; attempts: number } & Partial<TargetRow> & { found: boolean }
  >(
    await db.execute(sql`
      with firsts as materialized (
        select distinct on (p.payload->>'conversationId') p.id, p.available_at
        from outbox p
        where p.topic = ${DELIVER_TOPIC} and p.done_at is null
        order by p.payload->>'conversationId', (p.payload->>'seq')::int),
      picked as (
        select o.id
        from firsts f join outbox o on o.id = f.id
        where f.available_at <= ${now}::timestamptz
          and o.topic = ${DELIVER_TOPIC} and o.done_at is null and o.available_at <= ${now}::timestamptz
        order by o.id
        limit ${opts.limit}
        for update of o skip locked),
      leased as (
        update outbox set available_at = ${leaseUntil}::timestamptz
        from picked where outbox.id = picked.id
        returning outbox.id, outbox.payload->>'conversationId' as conversation_id, (outbox.payload->>'seq')::int as seq, outbox.attempts)
      select l.id, l.conversation_id, l.seq, l.attempts, t.status, t.body, t.parts, t.channel_id, t.kind, t.channel_user_id, t.found
      from leased l left join lateral (
        select m.delivery_status as status, m.body, m.parts, c.channel_id, c.kind, cu.channel_user_id, true as found
        from messages m join conversations c on c.id = m.conversation_id join customers cu on cu.id = c.customer_id
        where m.conversation_id = l.conversation_id and m.seq = l.seq and m.sender in ('staff', 'auto')) t on true`),
  );
  return rows
    .map((r) => ({
      outboxId: Number(r.id),
      conversationId: r.conversation_id,
      seq: Number(r.seq),
      attempts: r.attempts,
      target: r.found ? targetOf(r as TargetRow) : null,
    }))
    .sort((a, b) => a.outboxId - b.outboxId);
}

interface TargetRow {
  status: DeliveryStatus | null;
  body: string | null;
  parts: unknown;
  channel_id: string | null;
  kind: string;
  channel_user_id: string;
}

function targetOf(r: TargetRow): DeliveryTarget {
  return target({ status: r.status, body: r.body, parts: jsonColumn<MessagePart[] | null>(r.parts), channelId: r.channel_id, kind: r.kind, channelUserId: r.channel_user_id });
}

function target(row: { status: DeliveryStatus | null; body: string | null; parts: readonly MessagePart[] | null; channelId: string | null; kind: string; channelUserId: string }): DeliveryTarget {
  const groupId = row.kind === "group" && row.channelUserId.startsWith(GROUP_PREFIX) ? row.channelUserId.slice(GROUP_PREFIX.length) : null;
  return { status: row.status, text: row.body ?? "", parts: row.parts, channelId: row.channelId, recipient: groupId ?? row.channelUserId, groupId };
}

/** What a send needs: the message, its status, the conversation's channel account and the customer's id there. */
export interface DeliveryTarget {
  readonly status: DeliveryStatus | null;
  readonly text: string;
  readonly parts: readonly MessagePart[] | null;
  readonly channelId: string | null;
  /** The customer's id on the channel; for a group chat (R2.2), the group's id. */
  readonly recipient: string;
  /** A group chat's id on the channel (the conversation's customer row stands for the group). */
  readonly groupId: string | null;
}

const GROUP_PREFIX = groupUserId("");

export async function loadDeliveryTarget(db: Db, conversationId: string, seq: number): Promise<DeliveryTarget | null> {
  const m = s.messages;
  const c = s.conversations;
  const cu = s.customers;
  const [row] = await db
    .select({ status: m.deliveryStatus, body: m.body, parts: m.parts, channelId: c.channelId, kind: c.kind, channelUserId: cu.channelUserId })
    .from(m)
    .innerJoin(c, eq(c.id, m.conversationId))
    .innerJoin(cu, eq(cu.id, c.customerId))
    .where(and(eq(m.conversationId, conversationId), eq(m.seq, seq), inArray(m.sender, ["staff", "auto"])));
  if (!row) return null;
  return target(row);
}

/** What became of one claimed delivery. */
export type DeliveryRecord =
  | { readonly kind: "sent"; readonly providerMessageId: string | null }
  | { readonly kind: "retry"; readonly at: Date; readonly error: string }
  | { readonly kind: "failed"; readonly code: string; readonly reason: string }
  /** The account is disabled: no attempt spent, looked at again at `at`. */
  | { readonly kind: "held"; readonly at: Date }
  /** Nothing to deliver (no channel account, or already past `queued`): the row is done. */
  | { readonly kind: "skip" };

/** The message's delivery as stored. */
export interface StoredDelivery {
  readonly status: DeliveryStatus | null;
  readonly code: string | null;
  readonly reason: string | null;
}

/**
 * Records the outcome of a claimed delivery in one statement (its own transaction): the outbox
 * row (done, or its next try) and the message's status, moved forward only — the statement
 * updates the message only from a status `next` moves forward (`statusesMovedBy`, the domain's
 * rule), and PostgreSQL re-checks that against the row's newest version if a status report
 * changed it meanwhile, so no report is moved back. Returns the message's delivery after it and
 * whether it changed (the room is told only then). When the status did not move (rare: the
 * message already failed, or has no delivery), a second statement keeps the provider's message id
 * and reads the delivery as it is. (It was a transaction of five: BEGIN, the outbox, a locking
 * read, the message, COMMIT.)
 */
export async function recordDelivery(db: Db, claim: ClaimedDelivery, record: DeliveryRecord, now: Date): Promise<StoredDelivery & { changed: boolean }> {
  const attempts = record.kind === "sent" || record.kind === "retry" || record.kind === "failed" ? claim.attempts + 1 : claim.attempts;
  const q = new Params();
  const outboxId = q.p(claim.outboxId, "bigint");
  let outbox: string;
  if (record.kind === "retry") {
    outbox = `update outbox set attempts = ${q.p(attempts, "int")}, available_at = ${q.p(record.at.toISOString(), "timestamptz")}, last_error = ${q.p(record.error, "text")} where id = ${outboxId}`;
  } else if (record.kind === "held") {
    outbox = `update outbox set available_at = ${q.p(record.at.toISOString(), "timestamptz")}, last_error = 'held: channel disabled' where id = ${outboxId}`;
  } else {
    outbox = `update outbox set attempts = ${q.p(attempts, "int")}, done_at = ${q.p(now.toISOString(), "timestamptz")} where id = ${outboxId}`;
  }
  const next = nextStatusOf(record);
  if (next === null) {
    await runRaw(db, outbox, q.values);
    return { ...(await readDelivery(db, claim.conversationId, claim.seq)), changed: false };
  }
  const conversationId = q.p(claim.conversationId, "text");
  const seq = q.p(claim.seq, "int");
  const providerMessageId = record.kind === "sent" ? record.providerMessageId : null;
  const failure = record.kind === "failed" ? record : null;
  const rows = await runRaw<{ status: DeliveryStatus; code: string | null; reason: string | null }>(
    db,
    `with o as (${outbox})
     update messages set delivery_status = ${q.p(next, "text")},
       delivery_code = ${q.p(failure?.code ?? null, "text")},
       delivery_reason = ${q.p(failure?.reason ?? null, "text")},
       provider_message_id = coalesce(${q.p(providerMessageId, "text")}, provider_message_id)
     where conversation_id = ${conversationId} and seq = ${seq} and delivery_status = any(${q.p(statusesMovedBy(next), "text[]")})
     returning delivery_status as status, delivery_code as code, delivery_reason as reason`,
    q.values,
  );
  if (rows[0]) return { ...rows[0], changed: true };
  if (providerMessageId) {
    const m = s.messages;
    await db
      .update(m)
      .set({ providerMessageId })
      .where(and(eq(m.conversationId, claim.conversationId), eq(m.seq, claim.seq), isNotNull(m.deliveryStatus)));
  }
  return { ...(await readDelivery(db, claim.conversationId, claim.seq)), changed: false };
}

/** The status an outcome reports, or null when it moves none (`skip`). */
function nextStatusOf(record: DeliveryRecord): DeliveryStatus | null {
  switch (record.kind) {
    case "sent":
      return DeliveryStatus.sent;
    case "retry":
      return DeliveryStatus.queued; // a held message is queued again
    case "failed":
      return DeliveryStatus.failed;
    case "held":
      return DeliveryStatus.held;
    case "skip":
      return null;
    default:
      return assertNever(record);
  }
}

async function readDelivery(tx: Db | Tx, conversationId: string, seq: number, lock = false): Promise<StoredDelivery> {
  const m = s.messages;
  const q = tx
    .select({ status: m.deliveryStatus, code: m.deliveryCode, reason: m.deliveryReason })
    .from(m)
    .where(and(eq(m.conversationId, conversationId), eq(m.seq, seq)));
  const [row] = lock ? await q.for("update") : await q;
  return row ?? { status: null, code: null, reason: null };
}

/** The message's delivery as stored (the room reads it in its lane to patch its state). */
export function loadDelivery(db: Db, conversationId: string, seq: number): Promise<StoredDelivery> {
  return readDelivery(db, conversationId, seq);
}

/**
 * Moves one message's status to `next` if that is forward (`advanceDelivery`), under a row lock so
 * concurrent reports cannot move it back. A message without a delivery status is left alone.
 */
async function moveForward(
  tx: Tx,
  conversationId: string,
  seq: number,
  next: DeliveryStatus,
  extra: { providerMessageId?: string | null; code?: string; reason?: string },
): Promise<StoredDelivery & { changed: boolean }> {
  const current = await readDelivery(tx, conversationId, seq, true);
  if (current.status === null) return { ...current, changed: false };
  const status = advanceDelivery(current.status, next);
  const m = s.messages;
  if (extra.providerMessageId) {
    await tx.update(m).set({ providerMessageId: extra.providerMessageId }).where(and(eq(m.conversationId, conversationId), eq(m.seq, seq)));
  }
  if (status === current.status) return { ...current, changed: false };
  const failed = status === "failed";
  const code = failed ? (extra.code ?? null) : null;
  const reason = failed ? (extra.reason ?? null) : null;
  await tx.update(m).set({ deliveryStatus: status, deliveryCode: code, deliveryReason: reason }).where(and(eq(m.conversationId, conversationId), eq(m.seq, seq)));
  return { status, code, reason, changed: true };
}

/**
 * A provider's status report on a message it accepted, found by its provider message id among the
 * conversations of that channel account: the status moves forward only (a late `delivered` after
 * `read` changes nothing). Null when no such message is known.
 */
export async function advanceByProviderId(
  db: Db,
  channelId: string,
  providerMessageId: string,
  next: DeliveryStatus,
  failure: { code?: string; reason?: string } = {},
): Promise<(StoredDelivery & { changed: boolean; conversationId: string; seq: number }) | null> {
  return db.transaction(async (tx) => {
    const m = s.messages;
    const c = s.conversations;
    const [row] = await tx
      .select({ conversationId: m.conversationId, seq: m.seq })
      .from(m)
      .innerJoin(c, eq(c.id, m.conversationId))
      .where(and(eq(m.providerMessageId, providerMessageId), eq(c.channelId, channelId)))
      .limit(1);
    if (!row) return null;
    const after = await moveForward(tx, row.conversationId, row.seq, next, failure);
    return { ...after, conversationId: row.conversationId, seq: row.seq };
  });
}
