import { and, eq, inArray, sql } from "drizzle-orm";
import type { Conversation, MemberInfo, WorkspaceSettings } from "../domain/model.ts";
import type { Locale } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import type { ListTimes, MemberState } from "./rows.ts";
import * as s from "./schema.ts";
import { Params, runRaw } from "./raw.ts";
import { settingsOf } from "./workspaces.ts";

// The write path, the timeline and settings have their own modules; importers of the repository keep one entry point.
export { type CommitFence, type CommitInput, type CommitResult, Duplicate, StaleContext, VersionConflict, commit } from "./commit.ts";
export { type StoredEvent, type StoredMessage, loadEvents, loadMessages } from "./timeline.ts";
export { loadSettings } from "./workspaces.ts";
export type { ListTimes, MemberState } from "./rows.ts";

/**
 * Storage of conversations. Invariants every caller may rely on:
 * - `commit` writes a decision whole or not at all (one transaction);
 * - a conversation row only changes when the caller's `version` is the stored one, and every
 *   change moves the version by one (a stale writer gets `VersionConflict`);
 * - a member request id is accepted once per conversation (`Duplicate` on a retry);
 * - `seq` numbers of messages and status-log events share one counter per conversation.
 */

export interface MemberRow extends MemberInfo {
  readonly name: string;
  readonly email: string;
  readonly locale: Locale;
  readonly workspaceId: string;
  readonly tokenVersion: number;
}

export interface LoadedConversation {
  readonly conversation: Conversation;
  readonly customer: { readonly id: string; readonly displayName: string };
  readonly settings: WorkspaceSettings;
  /**
   * The MD5 of the settings as stored (`md5(settings::text)`, before defaults are filled in; null
   * for none): what a commit's fence compares with — 32 characters on every commit instead of the
   * settings' JSON (db/commit.ts).
   */
  readonly settingsHash: string | null;
  readonly lastSeq: number;
  /** The list fields that change with messages (sort keys of the lists). */
  readonly times: ListTimes;
}

export async function loadConversation(db: Db | Tx, id: string): Promise<LoadedConversation | null> {
  const rows = await db
    .select({
      c: s.conversations,
      customerName: s.customers.displayName,
      settings: s.workspaces.settings,
      settingsHash: sql<string | null>`md5(${s.workspaces.settings}::text)`,
    })
    .from(s.conversations)
    .innerJoin(s.customers, eq(s.customers.id, s.conversations.customerId))
    .innerJoin(s.workspaces, eq(s.workspaces.id, s.conversations.workspaceId))
    .where(eq(s.conversations.id, id));
  const row = rows[0];
  if (!row) return null;
  const c = row.c;
  return {
    conversation: {
      id: c.id,
      workspaceId: c.workspaceId,
      customerId: c.customerId,
      channel: c.channel,
      kind: c.kind,
      status: c.status,
      followerId: c.followerId,
      collaboratorIds: c.collaboratorIds,
      version: c.version,
    },
    customer: { id: c.customerId, displayName: row.customerName },
    settings: settingsOf(row.settings),
    settingsHash: row.settingsHash ?? null,
    lastSeq: c.lastSeq,
    times: { lastMessageAt: c.lastMessageAt, waitingSince: c.waitingSince },
  };
}

const memberColumns = {
  id: s.members.id,
  role: s.members.role,
  status: s.members.status,
  name: s.members.name,
  email: s.members.email,
  locale: s.members.locale,
  workspaceId: s.members.workspaceId,
  tokenVersion: s.members.tokenVersion,
};

export async function loadMember(db: Db | Tx, id: string): Promise<MemberRow | null> {
  const rows = await db.select(memberColumns).from(s.members).where(eq(s.members.id, id));
  return rows[0] ?? null;
}

/** Members of one workspace by id; ids of other workspaces are left out (and so refused as unknown). */
export async function loadMembers(db: Db | Tx, workspaceId: string, ids: readonly string[]): Promise<Map<string, MemberRow>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await db
    .select(memberColumns)
    .from(s.members)
    .where(and(eq(s.members.workspaceId, workspaceId), inArray(s.members.id, unique)));
  return new Map(rows.map((r) => [r.id, r]));
}

export async function loadMemberStates(
  db: Db | Tx,
  conversationId: string,
  memberIds: readonly string[],
): Promise<Map<string, MemberState>> {
  const out = new Map<string, MemberState>();
  for (const id of memberIds) out.set(id, { memberId: id, unreadCount: 0, lastReadSeq: 0, pinned: false });
  if (memberIds.length === 0) return out;
  const rows = await db
    .select()
    .from(s.memberConversationState)
    .where(and(eq(s.memberConversationState.conversationId, conversationId), inArray(s.memberConversationState.memberId, [...memberIds])));
  for (const r of rows)
    out.set(r.memberId, { memberId: r.memberId, unreadCount: r.unreadCount, lastReadSeq: r.lastReadSeq, pinned: r.pinned });
  return out;
}

/**
 * The names shown for `ids` in one statement: members of the workspace (with their role), and
 * for the ids that are no member's, customers of the workspace (role "customer": the writers of a
 * group conversation's messages, R2.2). Unknown ids are left out.
 */
export async function loadNames(db: Db, workspaceId: string, ids: readonly string[]): Promise<Map<string, { name: string; role: string }>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const q = new Params();
  const ws = q.p(workspaceId, "text");
  const wanted = q.p(unique, "text[]");
  const rows = await runRaw<{ id: string; name: string; role: string }>(
    db,
    `select id, name, role from members where workspace_id = ${ws} and id = any(${wanted})
     union all
     select c.id, c.display_name, 'customer' from customers c
     where c.workspace_id = ${ws} and c.id = any(${wanted}) and not exists (select 1 from members m where m.id = c.id and m.workspace_id = ${ws})`,
    q.values,
  );
  return new Map(rows.map((r) => [r.id, { name: r.name, role: r.role }]));
}

/** A workspace's settings completed with the defaults (defaults alone for an unknown workspace), and the MD5 of them as stored (see `LoadedConversation`). */
export async function loadStoredSettings(db: Db | Tx, workspaceId: string): Promise<{ hash: string | null; settings: WorkspaceSettings }> {
  const rows = await db
    .select({ settings: s.workspaces.settings, hash: sql<string | null>`md5(${s.workspaces.settings}::text)` })
    .from(s.workspaces)
    .where(eq(s.workspaces.id, workspaceId));
  return { hash: rows[0]?.hash ?? null, settings: settingsOf(rows[0]?.settings) };
}

/** True when this member's request id was already accepted on this conversation. */
export async function wasProcessed(db: Db | Tx, conversationId: string, memberId: string, requestId: string): Promise<boolean> {
  const rows = await db
    .select({ r: s.processedRequests.requestId })
    .from(s.processedRequests)
    .where(
      and(
        eq(s.processedRequests.conversationId, conversationId),
        eq(s.processedRequests.memberId, memberId),
        eq(s.processedRequests.requestId, requestId),
      ),
    );
  return rows.length > 0;
}
