import { and, asc, desc, eq, gt, lt, lte } from "drizzle-orm";
import type { DeliveryStatus, MessagePart } from "../domain/channels.ts";
import type { LogEvent, SystemMessage } from "../domain/events.ts";
import type { Db, Tx } from "./client.ts";
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
