import { and, count, desc, eq } from "drizzle-orm";
import type { LegacyScope } from "../domain/legacy.ts";
import type { Channel, Status } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";

/** The read side of the legacy v1 interface (SPEC §15). Which rows it may show is `domain/legacy.ts`'s. */

export interface LegacyRow {
  readonly id: string;
  readonly status: Status;
  readonly channel: Channel;
  readonly customerId: string;
  readonly customerName: string;
  readonly followerId: string | null;
  readonly collaboratorIds: readonly string[];
  readonly lastMessageAt: Date;
  readonly lastMessagePreview: string | null;
}

function columns() {
  const c = s.conversations;
  return {
    id: c.id,
    status: c.status,
    channel: c.channel,
    customerId: c.customerId,
    customerName: s.customers.displayName,
    followerId: c.followerId,
    collaboratorIds: c.collaboratorIds,
    lastMessageAt: c.lastMessageAt,
    lastMessagePreview: c.lastMessagePreview,
  };
}

/** One conversation of the workspace with its customer's name, or null. */
export async function loadLegacyConversation(db: Db | Tx, workspaceId: string, id: string): Promise<LegacyRow | null> {
  const c = s.conversations;
  const rows = await db
    .select(columns())
    .from(c)
    .innerJoin(s.customers, eq(s.customers.id, c.customerId))
    .where(and(eq(c.id, id), eq(c.workspaceId, workspaceId)));
  return rows[0] ?? null;
}

/** A page of the conversations in `scope` (newest message first) and how many there are in all. */
export async function listLegacyConversations(
  db: Db | Tx,
  workspaceId: string,
  scope: LegacyScope,
  page: { readonly status?: Status; readonly limit: number; readonly offset: number },
): Promise<{ rows: LegacyRow[]; total: number }> {
  const c = s.conversations;
  const where = and(
    eq(c.workspaceId, workspaceId),
    eq(c.collaborative, scope.collaborative),
    scope.followerId === null ? undefined : eq(c.followerId, scope.followerId),
    page.status ? eq(c.status, page.status) : undefined,
  );
  const [rows, totals] = await Promise.all([
    db
      .select(columns())
      .from(c)
      .innerJoin(s.customers, eq(s.customers.id, c.customerId))
      .where(where)
      .orderBy(desc(c.lastMessageAt), desc(c.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(c).where(where),
  ]);
  return { rows, total: totals[0]?.n ?? 0 };
}
