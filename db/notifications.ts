import { and, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { NoticeKind } from "../domain/events.ts";
import type { Locale, Role } from "../domain/sets.ts";
import { renderNotice } from "../domain/texts.ts";
import type { Db } from "./client.ts";
import * as s from "./schema.ts";

/** A stored notification, rendered in its recipient's locale (R16.2: names as they are now). */
export interface NotificationJson {
  id: number;
  kind: NoticeKind;
  conversationId: string | null;
  actorId: string | null;
  actorName: string | null;
  actorRole: Role | null;
  customerName: string | null;
  text: string;
  createdAt: string;
  readAt: string | null;
}

const actor = alias(s.members, "actor");
const recipient = alias(s.members, "recipient");

export async function listNotifications(
  db: Db,
  memberId: string,
  opts: { limit: number; beforeId?: number; ids?: number[]; unreadOnly?: boolean },
): Promise<NotificationJson[]> {
  const n = s.notifications;
  const where = and(
    eq(n.memberId, memberId),
    opts.beforeId ? lt(n.id, opts.beforeId) : undefined,
    opts.ids ? inArray(n.id, opts.ids) : undefined,
    opts.unreadOnly ? isNull(n.readAt) : undefined,
  );
  const rows = await db
    .select({
      n,
      actorName: actor.name,
      customerName: s.customers.displayName,
      locale: recipient.locale,
    })
    .from(n)
    .innerJoin(recipient, eq(recipient.id, n.memberId))
    .leftJoin(actor, eq(actor.id, n.actorId))
    .leftJoin(s.conversations, eq(s.conversations.id, n.conversationId))
    .leftJoin(s.customers, eq(s.customers.id, s.conversations.customerId))
    .where(where)
    .orderBy(desc(n.id))
    .limit(opts.limit);
  return rows.map((r) => ({
    id: r.n.id,
    kind: r.n.kind,
    conversationId: r.n.conversationId,
    actorId: r.n.actorId,
    actorName: r.actorName,
    actorRole: r.n.actorRole,
    customerName: r.customerName,
    text: renderNotice(
      { kind: r.n.kind, actorName: r.actorName ?? "", actorRole: r.n.actorRole, customerName: r.customerName ?? "" },
      r.locale as Locale,
    ),
    createdAt: r.n.createdAt.toISOString(),
    readAt: r.n.readAt?.toISOString() ?? null,
  }));
}

/** Marks the member's notifications read: the given ids, or all of them. Returns how many changed. */
export async function markNotificationsRead(db: Db, memberId: string, ids: number[] | "all", now: Date): Promise<number> {
  const n = s.notifications;
  const rows = await db
    .update(n)
    .set({ readAt: now })
    .where(and(eq(n.memberId, memberId), isNull(n.readAt), ids === "all" ? undefined : inArray(n.id, ids)))
    .returning({ id: n.id });
  return rows.length;
}

export async function countUnreadNotifications(db: Db, memberId: string): Promise<number> {
  const n = s.notifications;
  const rows = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(n)
    .where(and(eq(n.memberId, memberId), isNull(n.readAt)));
  return rows[0]?.count ?? 0;
}
