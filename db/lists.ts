import { and, eq, inArray, sql } from "drizzle-orm";
import { DEFAULT_SETTINGS } from "../domain/model.ts";
import type { Channel, ConversationKind, Role, Status, View } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";

/**
 * The inbox lists' read side (SPEC §10). One projection, `ListItem`, is what the HTTP lists return
 * and what the inbox room's live deltas carry, so a client merges both without translation.
 */

export interface MemberBrief {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
}

export interface ListItem {
  readonly id: string;
  readonly status: Status;
  readonly kind: ConversationKind;
  /** At least one collaborator (R10.2's "collaborative" type). */
  readonly collaborative: boolean;
  readonly channel: Channel;
  readonly customer: { readonly id: string; readonly name: string };
  readonly follower: MemberBrief | null;
  /** In list order (R10.4, R14.5). */
  readonly collaborators: readonly MemberBrief[];
  readonly lastMessageAt: string;
  readonly lastMessagePreview: string | null;
  /** The oldest unanswered customer message (R13.3), or null. */
  readonly waitingSince: string | null;
  /** Waiting longer than the workspace's `overdueAfterMinutes`. */
  readonly overdue: boolean;
  /** The caller's own (R11.6). */
  readonly unreadCount: number;
  /** The caller's own (R12.2). */
  readonly pinned: boolean;
  readonly version: number;
}

/** Tab counts of one view: per status, per type. */
export type Counts = Record<Status, { regular: number; collaborative: number }>;

export interface Viewer {
  readonly id: string;
  readonly workspaceId: string;
}

/** The columns every list query selects; `toItems` turns rows of this shape into items. */
export function itemColumns() {
  const m = s.memberConversationState;
  return {
    id: s.conversations.id,
    status: s.conversations.status,
    kind: s.conversations.kind,
    collaborative: s.conversations.collaborative,
    channel: s.conversations.channel,
    customerId: s.conversations.customerId,
    customerName: s.customers.displayName,
    followerId: s.conversations.followerId,
    collaboratorIds: s.conversations.collaboratorIds,
    lastMessageAt: s.conversations.lastMessageAt,
    lastMessagePreview: s.conversations.lastMessagePreview,
    waitingSince: s.conversations.waitingSince,
    version: s.conversations.version,
    unreadCount: sql<number>`coalesce(${m.unreadCount}, 0)`.mapWith(Number),
    pinned: sql<boolean>`coalesce(${m.pinned}, false)`.mapWith(Boolean),
  };
}

export type ItemRow = {
  id: string;
  status: Status;
  kind: ConversationKind;
  collaborative: boolean;
  channel: Channel;
  customerId: string;
  customerName: string;
  followerId: string | null;
  collaboratorIds: string[];
  lastMessageAt: Date;
  lastMessagePreview: string | null;
  waitingSince: Date | null;
  version: number;
  unreadCount: number;
  pinned: boolean;
};

/** The join of the viewer's own state row, for `itemColumns`. */
export function viewerStateJoin(viewerId: string) {
  const m = s.memberConversationState;
  return and(eq(m.conversationId, s.conversations.id), eq(m.memberId, viewerId));
}

/** The workspace's overdue threshold in minutes (R13.3). */
export async function overdueMinutes(db: Db | Tx, workspaceId: string): Promise<number> {
  const rows = await db.select({ settings: s.workspaces.settings }).from(s.workspaces).where(eq(s.workspaces.id, workspaceId));
  return rows[0]?.settings.overdueAfterMinutes ?? DEFAULT_SETTINGS.overdueAfterMinutes;
}

/** Turns rows into items, resolving follower and collaborator names with one query. */
export async function toItems(db: Db | Tx, rows: readonly ItemRow[], opts: { now: Date; overdueMinutes: number }): Promise<ListItem[]> {
  const ids = [...new Set(rows.flatMap((r) => (r.followerId ? [r.followerId, ...r.collaboratorIds] : r.collaboratorIds)))];
  const people = new Map<string, MemberBrief>();
  if (ids.length) {
    const found = await db.select({ id: s.members.id, name: s.members.name, role: s.members.role }).from(s.members).where(inArray(s.members.id, ids));
    for (const p of found) people.set(p.id, p);
  }
  const brief = (id: string): MemberBrief => people.get(id) ?? { id, name: "?", role: "agent" };
  const threshold = opts.now.getTime() - opts.overdueMinutes * 60_000;
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    kind: r.kind,
    collaborative: r.collaborative,
    channel: r.channel,
    customer: { id: r.customerId, name: r.customerName },
    follower: r.followerId ? brief(r.followerId) : null,
    collaborators: r.collaboratorIds.map(brief),
    lastMessageAt: r.lastMessageAt.toISOString(),
    lastMessagePreview: r.lastMessagePreview,
    waitingSince: r.waitingSince ? r.waitingSince.toISOString() : null,
    overdue: r.status !== "closed" && r.waitingSince !== null && r.waitingSince.getTime() <= threshold,
    unreadCount: r.unreadCount,
    pinned: r.pinned,
    version: r.version,
  }));
}

/** Items of the given conversations as `viewer` sees them (own unread and pin), by id. */
export async function loadListItems(db: Db | Tx, viewer: Viewer, ids: readonly string[], now: Date): Promise<Map<string, ListItem>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select(itemColumns())
    .from(s.conversations)
    .innerJoin(s.customers, eq(s.customers.id, s.conversations.customerId))
    .leftJoin(s.memberConversationState, viewerStateJoin(viewer.id))
    .where(and(eq(s.conversations.workspaceId, viewer.workspaceId), inArray(s.conversations.id, [...ids])));
  const items = await toItems(db, rows, { now, overdueMinutes: await overdueMinutes(db, viewer.workspaceId) });
  return new Map(items.map((i) => [i.id, i]));
}

/** The condition "viewer takes part" (the `mine` view, R10.1). */
export function mineCondition(viewerId: string) {
  return sql`(${s.conversations.followerId} = ${viewerId} or ${s.conversations.collaboratorIds} @> array[${viewerId}]::text[])`;
}

export function emptyCounts(): Counts {
  return { pending: { regular: 0, collaborative: 0 }, in_progress: { regular: 0, collaborative: 0 }, closed: { regular: 0, collaborative: 0 } };
}

/** Tab counts of a view: `mine` (the viewer takes part) or `team` (the whole workspace). */
export async function countConversations(db: Db | Tx, viewer: Viewer, view: View): Promise<Counts> {
  const c = s.conversations;
  const where = view === "mine" ? and(eq(c.workspaceId, viewer.workspaceId), mineCondition(viewer.id)) : eq(c.workspaceId, viewer.workspaceId);
  const rows = await db
    .select({ status: c.status, collaborative: c.collaborative, n: sql<number>`count(*)`.mapWith(Number) })
    .from(c)
    .where(where)
    .groupBy(c.status, c.collaborative);
  const counts = emptyCounts();
  for (const r of rows) counts[r.status][r.collaborative ? "collaborative" : "regular"] = r.n;
  return counts;
}
