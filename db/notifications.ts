import { and, asc, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { NoticeKind } from "../domain/events.ts";
import type { Locale, Role } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";

/**
 * A stored notification as data: what happened, with the names as they are now (R16.2) and the
 * recipient's locale; its text is rendered above storage (`server/notices.ts`).
 */
export interface StoredNotification {
  readonly id: number;
  readonly kind: NoticeKind;
  readonly conversationId: string | null;
  readonly actorId: string | null;
  readonly actorName: string | null;
  readonly actorRole: Role | null;
  readonly customerName: string | null;
  readonly recipientLocale: Locale;
  readonly createdAt: Date;
  readonly readAt: Date | null;
}

const actor = alias(s.members, "actor");
const recipient = alias(s.members, "recipient");

/** Notifications with what renders them: the actor's and the customer's names as they are now, the recipient's locale. */
function renderedNotifications(db: Db | Tx) {
  const n = s.notifications;
  return db
    .select({ n, actorName: actor.name, customerName: s.customers.displayName, locale: recipient.locale })
    .from(n)
    .innerJoin(recipient, eq(recipient.id, n.memberId))
    .leftJoin(actor, eq(actor.id, n.actorId))
    .leftJoin(s.conversations, eq(s.conversations.id, n.conversationId))
    .leftJoin(s.customers, eq(s.customers.id, s.conversations.customerId))
    .$dynamic();
}

function stored(r: Awaited<ReturnType<typeof renderedNotifications>>[number]): StoredNotification {
  return {
    id: r.n.id,
    kind: r.n.kind,
    conversationId: r.n.conversationId,
    actorId: r.n.actorId,
    actorName: r.actorName,
    actorRole: r.n.actorRole,
    customerName: r.customerName,
    recipientLocale: r.locale,
    createdAt: r.n.createdAt,
    readAt: r.n.readAt,
  };
}

/** The member's notifications, newest first: a page (`beforeId`), some by id, or the unread ones. */
export async function listNotifications(
  db: Db | Tx,
  memberId: string,
  opts: { limit: number; beforeId?: number; ids?: number[]; unreadOnly?: boolean },
): Promise<StoredNotification[]> {
  const n = s.notifications;
  const where = and(
    eq(n.memberId, memberId),
    opts.beforeId ? lt(n.id, opts.beforeId) : undefined,
    opts.ids ? inArray(n.id, opts.ids) : undefined,
    opts.unreadOnly ? isNull(n.readAt) : undefined,
  );
  const rows = await renderedNotifications(db).where(where).orderBy(desc(n.id)).limit(opts.limit);
  return rows.map(stored);
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

/**
 * Notifications by id, whoever their recipients, oldest first, each with its recipient: the
 * fast path of a commit's notices (rooms/ConversationRoom.ts `publishNotices`), rendered exactly
 * as `listNotifications` renders them (names and locale as they are now).
 */
export async function listNotificationsByIds(
  db: Db | Tx,
  ids: readonly number[],
): Promise<(StoredNotification & { readonly memberId: string })[]> {
  if (ids.length === 0) return [];
  const n = s.notifications;
  const rows = await renderedNotifications(db)
    .where(inArray(n.id, [...ids]))
    .orderBy(asc(n.id));
  return rows.map((r) => ({ ...stored(r), memberId: r.n.memberId }));
}
