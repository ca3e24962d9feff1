import { and, desc, eq, inArray } from "drizzle-orm";
import type { MessagePart } from "../domain/channels.ts";
import type { Db } from "./client.ts";
import * as s from "./schema.ts";

/** A message a Webchat visitor sees: theirs, the staff's replies and automatic messages (never system lines). */
export interface VisitorMessageRow {
  readonly conversationId: string;
  readonly seq: number;
  readonly from: "customer" | "staff";
  readonly text: string;
  readonly parts: MessagePart[] | null;
  readonly at: Date;
}

/**
 * The newest `limit` messages of the visitor's latest conversation on this Webchat channel, oldest
 * first; empty before the visitor's first message.
 */
export async function visitorMessages(db: Db, channelId: string, visitorId: string, limit: number): Promise<VisitorMessageRow[]> {
  const c = s.conversations;
  const cu = s.customers;
  const m = s.messages;
  const [latest] = await db
    .select({ id: c.id })
    .from(c)
    .innerJoin(cu, eq(cu.id, c.customerId))
    .where(and(eq(c.channelId, channelId), eq(cu.channelUserId, visitorId)))
    .orderBy(desc(c.createdAt), desc(c.id))
    .limit(1);
  if (!latest) return [];
  const rows = await db
    .select({ seq: m.seq, sender: m.sender, body: m.body, parts: m.parts, at: m.createdAt })
    .from(m)
    .where(and(eq(m.conversationId, latest.id), inArray(m.sender, ["customer", "staff", "auto"])))
    .orderBy(desc(m.seq))
    .limit(limit);
  return rows.reverse().map((r) => ({
    conversationId: latest.id,
    seq: r.seq,
    from: r.sender === "staff" ? "staff" : "customer",
    text: r.body ?? "",
    parts: r.parts,
    at: r.at,
  }));
}
