import { and, desc, eq } from "drizzle-orm";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";

/**
 * When the last automatic message of this kind (`sender: "auto"`, `senderId`) went out in a
 * conversation, or null. The room reads it for R13.1's away message (once per closed period),
 * only when the workspace is closed at the time of a customer message.
 */
export async function lastAutoMessageAt(db: Db | Tx, conversationId: string, senderId: string): Promise<Date | null> {
  const m = s.messages;
  const [row] = await db
    .select({ at: m.createdAt })
    .from(m)
    .where(and(eq(m.conversationId, conversationId), eq(m.sender, "auto"), eq(m.senderId, senderId)))
    .orderBy(desc(m.seq))
    .limit(1);
  return row ? new Date(row.at) : null;
}
