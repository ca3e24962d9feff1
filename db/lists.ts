import { createHash } from "node:crypto";
import { and, eq, inArray, lte, type SQL, sql } from "drizzle-orm";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import { OVERDUE_SORT_STATUSES, OVERDUE_STATUSES, isOverdue, overdueCutoff } from "../domain/overdue.ts";
import type { Channel, ConversationKind, Role, Status, View } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";
import { likeSubstring } from "./sql.ts";
import { loadSettings } from "./workspaces.ts";

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
  return (await loadSettings(db, workspaceId)).overdueAfterMinutes;
}

/**
 * R13.3 in SQL: the conversation is overdue at `now` under a threshold of `minutes` — the same
 * rule as `domain/overdue.ts`'s `isOverdue` (open status, waiting since the cutoff or before).
 */
export function overdueCondition(now: Date, minutes: number): SQL {
  const c = s.conversations;
  return and(inArray(c.status, [...OVERDUE_STATUSES]), lte(c.waitingSince, overdueCutoff(now, minutes))) as SQL;
}

/** Turns rows into items, resolving follower and collaborator names with one query. */
export async function toItems(db: Db | Tx, rows: readonly ItemRow[], opts: { now: Date; overdueMinutes: number }): Promise<ListItem[]> {
  const ids = [...new Set(rows.flatMap((r) => (r.followerId ? [r.followerId, ...r.collaboratorIds] : r.collaboratorIds)))];
  const people = new Map<string, MemberBrief>();
  if (ids.length) {
    const found = await db
      .select({ id: s.members.id, name: s.members.name, role: s.members.role })
      .from(s.members)
      .where(inArray(s.members.id, ids));
    for (const p of found) people.set(p.id, p);
  }
  const brief = (id: string): MemberBrief => people.get(id) ?? { id, name: "?", role: "agent" };
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
    overdue: isOverdue(r, opts.now, opts.overdueMinutes),
    unreadCount: r.unreadCount,
    pinned: r.pinned,
    version: r.version,
  }));
}

/**
 * Items of the given conversations as `viewer` sees them (own unread and pin), by id.
 * `minutes`: the workspace's overdue threshold when the caller has it (else it is read).
 */
export async function loadListItems(
  db: Db | Tx,
  viewer: Viewer,
  ids: readonly string[],
  now: Date,
  minutes?: number,
): Promise<Map<string, ListItem>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select(itemColumns())
    .from(s.conversations)
    .innerJoin(s.customers, eq(s.customers.id, s.conversations.customerId))
    .leftJoin(s.memberConversationState, viewerStateJoin(viewer.id))
    .where(and(eq(s.conversations.workspaceId, viewer.workspaceId), inArray(s.conversations.id, [...ids])));
  const items = await toItems(db, rows, { now, overdueMinutes: minutes ?? (await overdueMinutes(db, viewer.workspaceId)) });
  return new Map(items.map((i) => [i.id, i]));
}

/** The condition "viewer takes part" (the `mine` view, R10.1). */
export function mineCondition(viewerId: string) {
  return sql`(${s.conversations.followerId} = ${viewerId} or ${s.conversations.collaboratorIds} @> array[${viewerId}]::text[])`;
}

export function emptyCounts(): Counts {
  return {
    pending: { regular: 0, collaborative: 0 },
    in_progress: { regular: 0, collaborative: 0 },
    closed: { regular: 0, collaborative: 0 },
  };
}

/** Tab counts of a view: `mine` (the viewer takes part) or `team` (the whole workspace). */
export async function countConversations(db: Db | Tx, viewer: Viewer, view: View): Promise<Counts> {
  const c = s.conversations;
  const where =
    view === "mine" ? and(eq(c.workspaceId, viewer.workspaceId), mineCondition(viewer.id)) : eq(c.workspaceId, viewer.workspaceId);
  const rows = await db
    .select({ status: c.status, collaborative: c.collaborative, n: sql<number>`count(*)`.mapWith(Number) })
    .from(c)
    .where(where)
    .groupBy(c.status, c.collaborative);
  const counts = emptyCounts();
  for (const r of rows) counts[r.status][r.collaborative ? "collaborative" : "regular"] = r.n;
  return counts;
}

// ---- the list query (SPEC §10, R13.3) ----------------------------------------------------------

/** The type filter of the lists (R10.2), on the generated `collaborative` column. */
export const ListType = { all: "all", regular: "regular", collaborative: "collaborative" } as const;
export type ListType = (typeof ListType)[keyof typeof ListType];
export const LIST_TYPES = Object.values(ListType) as readonly ListType[];

/** The orders of the lists (R10.3): newest message first, or longest waiting first (R13.3). */
export const ListSort = { last_message: "last_message", overdue: "overdue" } as const;
export type ListSort = (typeof ListSort)[keyof typeof ListSort];
export const LIST_SORTS = Object.values(ListSort) as readonly ListSort[];

/** The statuses whose lists offer the overdue sort (R10.3); the rule lives in `domain/overdue.ts`. */
export { OVERDUE_SORT_STATUSES };

export interface ListQuery {
  readonly view: View;
  /** Omitted: every status. */
  readonly status?: Status;
  readonly type: ListType;
  readonly sort: ListSort;
  /** Trimmed, 1..100 characters (checked at the edge). */
  readonly q?: string;
  /** `nextCursor` of the previous page of the same query. */
  readonly cursor?: string;
  readonly limit: number;
}

export interface ListPage {
  readonly items: ListItem[];
  /** Null on the last page. */
  readonly nextCursor: string | null;
}

/**
 * One page of a list. Order: in `mine`, the viewer's pinned conversations first [SPEC interpretation];
 * then `last_message` (last_message_at desc, id desc) or `overdue` (waiting_since asc nulls last,
 * id asc). Keyset pagination: the cursor holds the last row's sort keys, exactly (microseconds), and
 * a fingerprint of the query; no OFFSET.
 *
 * Refuses `sort=overdue` without a status or on `closed` (R10.3) with INVALID_PAYLOAD, and a cursor
 * that is malformed or belongs to another query with INVALID_CURSOR. Whether the viewer may see the
 * `team` view is the caller's check.
 */
export async function listConversations(db: Db | Tx, viewer: Viewer, query: ListQuery, now: Date): Promise<ListPage> {
  const { select, fingerprint, pinnedFirst } = listSelect(db, viewer, query);
  const rows = await select;
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  const nextCursor =
    rows.length > query.limit && last
      ? encodeCursor({ f: fingerprint, p: pinnedFirst ? last.pinned : undefined, k: last.sortKey, id: last.id })
      : null;
  // The page's items in a second, small query: the first one sorts ids only, without joins.
  const byId = await loadListItems(
    db,
    viewer,
    page.map((r) => r.id),
    now,
  );
  const items = page.flatMap((r) => byId.get(r.id) ?? []);
  return { items, nextCursor };
}

/**
 * The one statement behind `listConversations` (`limit + 1` rows, each with its exact sort key),
 * not yet run: the benchmark explains it with `.toSQL()`. Throws the refusals described there.
 */
export function listSelect(db: Db | Tx, viewer: Viewer, query: ListQuery) {
  if (query.sort === ListSort.overdue && !(query.status && OVERDUE_SORT_STATUSES.has(query.status))) {
    throw new DomainError(ErrorCode.INVALID_PAYLOAD, {
      issues: ["sort: overdue is offered for status pending and in_progress only (R10.3)"],
    });
  }
  const fingerprint = queryFingerprint(query);
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor, fingerprint, query);
  const c = s.conversations;
  const m = s.memberConversationState;
  const pinnedFirst = query.view === "mine";
  const pinned = sql`coalesce(${m.pinned}, false)`;
  // The same tab filter inside the candidate branches and outside.
  const tab = and(
    query.status ? eq(c.status, query.status) : undefined,
    query.type === ListType.all ? undefined : eq(c.collaborative, query.type === ListType.collaborative),
  );
  const candidates = pinnedFirst && !query.q ? mineCandidates(viewer, query, tab, after) : undefined;

  // Ids and sort keys only; the viewer's state row is joined only where pins order the list.
  let select = db
    .select({
      id: c.id,
      pinned: sql<boolean>`${pinnedFirst ? pinned : sql`false`}`.mapWith(Boolean),
      sortKey: sql<string | null>`to_char(${sortColumn(query.sort)} at time zone 'UTC', ${KEY_FORMAT})`,
    })
    .from(c)
    .$dynamic();
  if (pinnedFirst) select = select.leftJoin(m, viewerStateJoin(viewer.id));
  select = select
    .where(
      and(
        eq(c.workspaceId, viewer.workspaceId),
        candidates,
        query.view === "mine" ? mineCondition(viewer.id) : undefined,
        tab,
        query.q ? searchCondition(query.q) : undefined,
        after ? keysetCondition(query.sort, pinnedFirst ? pinned : null, after) : undefined,
      ),
    )
    .orderBy(...(pinnedFirst ? [sql`${pinned} desc`] : []), ...keyOrder(query.sort))
    .limit(query.limit + 1);
  return { select, fingerprint, pinnedFirst };
}

/** Exact text of a timestamp (microseconds, UTC) that casts back to the same `timestamptz`. */
const KEY_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';
const KEY_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** What a cursor carries: the query's fingerprint and the last row's sort keys. */
interface CursorData {
  /** Fingerprint of view, status, type, sort and q. */
  f: string;
  /** The last row's pin (in `mine` only, where pinned rows come first). */
  p?: boolean;
  /** The last row's `last_message_at` or `waiting_since`, exact; null for a null `waiting_since`. */
  k: string | null;
  id: string;
}

function queryFingerprint(q: ListQuery): string {
  const parts = [q.view, q.status ?? "*", q.type, q.sort, q.q ?? ""];
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 16);
}

function encodeCursor(data: CursorData): string {
  return Buffer.from(JSON.stringify(data)).toString("base64url");
}

function decodeCursor(cursor: string, fingerprint: string, query: ListQuery): CursorData {
  const refuse = (why: string): never => {
    throw new DomainError(ErrorCode.INVALID_CURSOR, { issues: [`cursor: ${why}`] });
  };
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    return refuse("not a cursor of this list");
  }
  if (typeof data !== "object" || data === null) return refuse("not a cursor of this list");
  const { f, p, k, id } = data as Record<string, unknown>;
  if (typeof f !== "string" || typeof id !== "string" || id.length === 0 || id.length > 200) return refuse("not a cursor of this list");
  if (f !== fingerprint) return refuse("belongs to another query (view, status, type, sort or q)");
  const pinnedFirst = query.view === "mine";
  if (pinnedFirst ? typeof p !== "boolean" : p !== undefined) return refuse("not a cursor of this list");
  const keyOk = typeof k === "string" ? KEY_PATTERN.test(k) : k === null && query.sort === ListSort.overdue;
  if (!keyOk) return refuse("not a cursor of this list");
  return { f, p: p as boolean | undefined, k: k as string | null, id };
}

/**
 * "Comes after the cursor's row" in the list's order. The last_message order is a row comparison
 * (index-friendly); the overdue order puts null `waiting_since` last, so a non-null cursor key
 * admits every null row, and a null one only null rows of greater id. With pins first, an
 * unpinned row comes after every pinned one.
 */
function keysetCondition(sort: ListSort, pinned: SQL | null, after: CursorData): SQL {
  const rest = keysetRest(sort, after);
  if (!pinned) return rest;
  return after.p ? sql`(not ${pinned} or ${rest})` : sql`(not ${pinned} and ${rest})`;
}

/** "Comes after the cursor's row" in the sort alone, pins aside. */
function keysetRest(sort: ListSort, after: CursorData): SQL {
  const c = s.conversations;
  if (sort === ListSort.last_message) return sql`(${c.lastMessageAt}, ${c.id}) < (${after.k}::timestamptz, ${after.id})`;
  if (after.k !== null) return sql`((${c.waitingSince}, ${c.id}) > (${after.k}::timestamptz, ${after.id}) or ${c.waitingSince} is null)`;
  return sql`(${c.waitingSince} is null and ${c.id} > ${after.id})`;
}

function sortColumn(sort: ListSort) {
  return sort === ListSort.last_message ? s.conversations.lastMessageAt : s.conversations.waitingSince;
}

/**
 * The list orders, spelled exactly as the indexes are (`last_message_at DESC NULLS LAST, id DESC
 * NULLS LAST`; `waiting_since, id` ascending, nulls last): PostgreSQL only walks an index for an
 * ORDER BY whose null placement matches, even on a NOT NULL column, and otherwise sorts every row
 * of the tab.
 */
function keyOrder(sort: ListSort): SQL[] {
  const c = s.conversations;
  return sort === ListSort.last_message
    ? [sql`${c.lastMessageAt} desc nulls last`, sql`${c.id} desc nulls last`]
    : [sql`${c.waitingSince} asc nulls last`, sql`${c.id} asc`];
}

/**
 * `mine` without search: the ids that can be on the page, so the page is not a sort of every
 * conversation the viewer ever took part in. The viewer's pinned conversations (few), and the
 * first `limit + 1` unpinned ones after the cursor as follower (walking `conversations_follower_idx`)
 * and as collaborator (the GIN index), each in the list's order. The outer query orders these
 * and keeps `limit + 1`: every row of the true page is among them.
 */
function mineCandidates(viewer: Viewer, query: ListQuery, tab: SQL | undefined, after: CursorData | null): SQL {
  const c = s.conversations;
  const m = s.memberConversationState;
  const n = query.limit + 1;
  const order = sql.join(keyOrder(query.sort), sql`, `);
  // Inside the branches `conversations` is the branch's own row.
  const notPinned = sql`not exists (select 1 from ${m} ps where ps.member_id = ${viewer.id} and ps.conversation_id = ${c.id} and ps.pinned)`;
  // A cursor among the pinned rows: every unpinned row still lies ahead.
  const rest = after && after.p === false ? keysetRest(query.sort, after) : undefined;
  const branch = (who: SQL) =>
    sql`(select ${c.id} from ${c} where ${and(eq(c.workspaceId, viewer.workspaceId), who, tab, notPinned, rest)} order by ${order} limit ${n})`;
  const pins = sql`(select ps.conversation_id from ${m} ps where ps.member_id = ${viewer.id} and ps.pinned)`;
  return sql`${c.id} in (${branch(sql`${c.followerId} = ${viewer.id}`)} union all ${branch(sql`${c.collaboratorIds} @> array[${viewer.id}]::text[]`)} union all ${pins})`;
}

/**
 * Search (R10.5): a case-insensitive substring of the customer's name or of any customer or staff
 * message (system messages excluded). ILIKE with the GIN trigram indexes `customers_name_trgm` and
 * `messages_body_trgm`: substrings in any script, Chinese included, which word-based full-text
 * search would not split.
 */
function searchCondition(q: string): SQL {
  const pattern = likeSubstring(q);
  const msg = s.messages;
  const cu = s.customers;
  return sql`(${s.conversations.customerId} in (select ${cu.id} from ${cu} where ${cu.displayName} ilike ${pattern}) or ${s.conversations.id} in (select ${msg.conversationId} from ${msg} where ${msg.body} ilike ${pattern} and ${msg.sender} in ('customer', 'staff')))`;
}
