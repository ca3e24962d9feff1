import { and, asc, desc, eq, gt, lt, lte } from "drizzle-orm";
import type { DeliveryStatus, MessagePart } from "../domain/channels.ts";
import type { LogEvent, SystemMessage } from "../domain/events.ts";
import type { Db, Tx } from "./client.ts";
import { Params, runRaw, toDate } from "./raw.ts";
import * as s from "./schema.ts";

/** A conversation's timeline: its messages and its status log, stored structured (R16.2). */

export interface StoredMessage {
  readonly seq: number;
  readonly sender: "customer" | "staff" | "system" | "auto";
  readonly senderId: string | null;
  readonly body: string | null;
  readonly system: SystemMessage | null;
  readonly createdAt: Date;
  /** Staff messages to a customer: where the delivery is, with its code and reason when failed; null otherwise. */
  readonly deliveryStatus: DeliveryStatus | null;
  readonly deliveryCode: string | null;
  readonly deliveryReason: string | null;
  /** A customer message's typed parts (media, sticker, location), `body` being their text fallback; null for plain text. */
  readonly parts: readonly MessagePart[] | null;
}

export function toStoredMessage(r: typeof s.messages.$inferSelect): StoredMessage {
  return {
    seq: r.seq,
    sender: r.sender,
    senderId: r.senderId ?? null,
    body: r.body ?? null,
    system: r.systemKind ? { kind: r.systemKind, subjectIds: r.subjectIds ?? [] } : null,
    createdAt: r.createdAt,
    deliveryStatus: r.deliveryStatus ?? null,
    deliveryCode: r.deliveryCode ?? null,
    deliveryReason: r.deliveryReason ?? null,
    parts: r.parts ?? null,
  };
}

/** The newest `limit` messages before `beforeSeq` (all when omitted), oldest first. */
export async function loadMessages(db: Db | Tx, conversationId: string, limit: number, beforeSeq?: number): Promise<StoredMessage[]> {
  const where = beforeSeq
    ? and(eq(s.messages.conversationId, conversationId), lt(s.messages.seq, beforeSeq))
    : eq(s.messages.conversationId, conversationId);
  const rows = await db.select().from(s.messages).where(where).orderBy(desc(s.messages.seq)).limit(limit);
  return rows.reverse().map(toStoredMessage);
}

/**
 * The newest `limit` messages, oldest first, with the conversation's version read by the same
 * statement (null when there is no such conversation): a room that restores from a row read a
 * moment earlier checks with it that the row is still current.
 */
export async function loadNewestMessages(db: Db, conversationId: string, limit: number): Promise<{ version: number | null; messages: StoredMessage[] }> {
  const q = new Params();
  const rows = await runRaw<{ version: number } & Record<string, unknown>>(
    db,
    `select c.version, m.seq, m.sender, m.sender_id, m.body, m.system_kind, m.subject_ids, m.parts, m.delivery_status, m.delivery_code, m.delivery_reason, m.created_at
     from conversations c
     left join lateral (select * from messages where conversation_id = c.id order by seq desc limit ${q.p(limit, "int")}) m on true
     where c.id = ${q.p(conversationId, "text")}`,
    q.values,
  );
  if (rows.length === 0) return { version: null, messages: [] };
  const messages = rows
    .filter((r) => r.seq !== null)
    .reverse()
    .map((r) => {
      const parts = typeof r.parts === "string" ? JSON.parse(r.parts) : r.parts;
      return toStoredMessage({
        conversationId,
        seq: r.seq,
        sender: r.sender,
        senderId: r.sender_id,
        body: r.body,
        systemKind: r.system_kind,
        subjectIds: r.subject_ids,
        parts,
        deliveryStatus: r.delivery_status,
        deliveryCode: r.delivery_code,
        deliveryReason: r.delivery_reason,
        createdAt: toDate(r.created_at),
      } as typeof s.messages.$inferSelect);
    });
  return { version: rows[0]!.version, messages };
}

export interface StoredEvent extends LogEvent {
  readonly seq: number;
  readonly createdAt: Date;
}

/** The newest `limit` status-log events before `beforeSeq` (all when omitted), oldest first. */
export async function loadEvents(db: Db | Tx, conversationId: string, limit: number, beforeSeq?: number): Promise<StoredEvent[]> {
  const where = beforeSeq
    ? and(eq(s.conversationEvents.conversationId, conversationId), lt(s.conversationEvents.seq, beforeSeq))
    : eq(s.conversationEvents.conversationId, conversationId);
  const rows = await db.select().from(s.conversationEvents).where(where).orderBy(desc(s.conversationEvents.seq)).limit(limit);
  return rows.reverse().map((r) => ({
    seq: r.seq,
    kind: r.kind,
    actorId: r.actorId,
    targetIds: r.targetIds,
    createdAt: r.createdAt,
  }));
}

/**
 * The timeline after `afterSeq`, up to `throughSeq` included (a seq the room had applied, so every
 * entry up to it is committed and visible to both statements): at most `limit` messages and at
 * most `limit` events, each oldest first. The room's `catch_up` merges and cuts them.
 */
export async function loadTimelineAfter(
  db: Db | Tx,
  conversationId: string,
  afterSeq: number,
  throughSeq: number,
  limit: number,
): Promise<{ messages: StoredMessage[]; events: StoredEvent[] }> {
  const m = s.messages;
  const e = s.conversationEvents;
  const messages = await db
    .select()
    .from(m)
    .where(and(eq(m.conversationId, conversationId), gt(m.seq, afterSeq), lte(m.seq, throughSeq)))
    .orderBy(asc(m.seq))
    .limit(limit);
  const events = await db
    .select()
    .from(e)
    .where(and(eq(e.conversationId, conversationId), gt(e.seq, afterSeq), lte(e.seq, throughSeq)))
    .orderBy(asc(e.seq))
    .limit(limit);
  return {
    messages: messages.map(toStoredMessage),
    events: events.map((r) => ({ seq: r.seq, kind: r.kind, actorId: r.actorId, targetIds: r.targetIds, createdAt: r.createdAt })),
  };
}
