import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Decision } from "../domain/decide.ts";
import type { LogEvent, SystemMessage } from "../domain/events.ts";
import type { Conversation, MemberInfo, WorkspaceSettings } from "../domain/model.ts";
import { DEFAULT_SETTINGS } from "../domain/model.ts";
import type { Locale, Role } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";

/**
 * Storage of conversations. Invariants every caller may rely on:
 * - `commit` writes a decision whole or not at all (one transaction);
 * - a conversation row only changes when the caller's `version` is the stored one, and every
 *   change moves the version by one (a stale writer gets `VersionConflict`);
 * - a member request id is accepted once per conversation (`Duplicate` on a retry);
 * - `seq` numbers of messages and status-log events share one counter per conversation.
 */

export class VersionConflict extends Error {
  constructor() {
    super("version conflict");
  }
}
export class Duplicate extends Error {
  constructor() {
    super("duplicate request");
  }
}

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
  readonly lastSeq: number;
  /** The list fields that change with messages (sort keys of the lists). */
  readonly times: ListTimes;
}

export interface ListTimes {
  readonly lastMessageAt: Date;
  readonly waitingSince: Date | null;
}

export async function loadConversation(db: Db | Tx, id: string): Promise<LoadedConversation | null> {
  const rows = await db
    .select({ c: s.conversations, customerName: s.customers.displayName, settings: s.workspaces.settings })
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
    settings: { ...DEFAULT_SETTINGS, ...row.settings },
    lastSeq: c.lastSeq,
    times: { lastMessageAt: c.lastMessageAt, waitingSince: c.waitingSince },
  };
}

/** A workspace's settings, with defaults for keys it does not set. */
export async function loadSettings(db: Db | Tx, workspaceId: string): Promise<WorkspaceSettings> {
  const rows = await db.select({ settings: s.workspaces.settings }).from(s.workspaces).where(eq(s.workspaces.id, workspaceId));
  return { ...DEFAULT_SETTINGS, ...rows[0]?.settings };
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

export interface StoredMessage {
  readonly seq: number;
  readonly sender: "customer" | "staff" | "system";
  readonly senderId: string | null;
  readonly body: string | null;
  readonly system: SystemMessage | null;
  readonly createdAt: Date;
}

function toStoredMessage(r: typeof s.messages.$inferSelect): StoredMessage {
  return {
    seq: r.seq,
    sender: r.sender,
    senderId: r.senderId ?? null,
    body: r.body ?? null,
    system: r.systemKind ? { kind: r.systemKind, subjectIds: r.subjectIds ?? [] } : null,
    createdAt: r.createdAt,
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

export async function loadEvents(db: Db | Tx, conversationId: string, limit: number, beforeSeq?: number): Promise<StoredEvent[]> {
  const where = beforeSeq
    ? and(eq(s.conversationEvents.conversationId, conversationId), lt(s.conversationEvents.seq, beforeSeq))
    : eq(s.conversationEvents.conversationId, conversationId);
  const rows = await db
    .select()
    .from(s.conversationEvents)
    .where(where)
    .orderBy(desc(s.conversationEvents.seq))
    .limit(limit);
  return rows.reverse().map((r) => ({
    seq: r.seq,
    kind: r.kind,
    actorId: r.actorId,
    targetIds: r.targetIds,
    createdAt: r.createdAt,
  }));
}

export interface MemberState {
  readonly memberId: string;
  readonly unreadCount: number;
  readonly lastReadSeq: number;
  readonly pinned: boolean;
}

export async function loadMemberStates(db: Db | Tx, conversationId: string, memberIds: readonly string[]): Promise<Map<string, MemberState>> {
  const out = new Map<string, MemberState>();
  for (const id of memberIds) out.set(id, { memberId: id, unreadCount: 0, lastReadSeq: 0, pinned: false });
  if (memberIds.length === 0) return out;
  const rows = await db
    .select()
    .from(s.memberConversationState)
    .where(and(eq(s.memberConversationState.conversationId, conversationId), inArray(s.memberConversationState.memberId, [...memberIds])));
  for (const r of rows) out.set(r.memberId, { memberId: r.memberId, unreadCount: r.unreadCount, lastReadSeq: r.lastReadSeq, pinned: r.pinned });
  return out;
}

export interface CommitInput {
  readonly before: Conversation;
  readonly decision: Decision;
  /** The acting member (client requests) — their request id is recorded once. */
  readonly memberId: string | null;
  readonly requestId: string;
  readonly now: Date;
  /** For customer messages: the channel's message id, unique per conversation. */
  readonly externalId?: string;
}

export interface CommitResult {
  readonly conversation: Conversation;
  readonly lastSeq: number;
  /** The list times after the commit, or null when the conversation row was not touched. */
  readonly times: ListTimes | null;
  readonly messages: StoredMessage[];
  readonly events: StoredEvent[];
  readonly notificationIds: number[];
  /** Every member whose unread or pin changed, with the stored values after the commit. */
  readonly memberStates: MemberState[];
  /** True when every member state of the conversation may have changed (clear all, unpin all). */
  readonly allMemberStatesChanged: boolean;
}

/** Writes a decision in one transaction. Throws `VersionConflict` or `Duplicate`, having written nothing. */
export async function commit(db: Db, input: CommitInput): Promise<CommitResult> {
  return db.transaction(async (tx) => {
    const { before, decision: d, now } = input;
    if (input.memberId) {
      const inserted = await tx
        .insert(s.processedRequests)
        .values({ conversationId: before.id, memberId: input.memberId, requestId: input.requestId })
        .onConflictDoNothing()
        .returning({ r: s.processedRequests.requestId });
      if (inserted.length === 0) throw new Duplicate();
    }
    if (input.externalId) {
      const seen = await tx
        .select({ seq: s.messages.seq })
        .from(s.messages)
        .where(and(eq(s.messages.conversationId, before.id), eq(s.messages.sender, "customer"), eq(s.messages.requestId, input.externalId)));
      if (seen.length > 0) throw new Duplicate();
    }

    const seqCount = (d.message ? 1 : 0) + d.system.length + d.log.length;
    const touchesRow = d.conversationChanged || seqCount > 0;
    let conversation = before;
    let lastSeq: number;
    let times: ListTimes | null = null;
    if (touchesRow) {
      const n = d.next;
      const set: PgUpdateSetSource<typeof s.conversations> = {
        status: n.status,
        followerId: n.followerId,
        collaboratorIds: [...n.collaboratorIds],
        version: sql`${s.conversations.version} + 1`,
        lastSeq: sql`${s.conversations.lastSeq} + ${seqCount}`,
        updatedAt: now,
      };
      if (n.status === "closed" && before.status !== "closed") set.closedAt = now;
      if (n.status !== "closed" && before.status === "closed") set.closedAt = null;
      if (d.message) {
        set.lastMessageAt = now;
        set.lastMessagePreview = d.message.text.slice(0, 200);
        if (d.message.sender === "customer") {
          set.lastCustomerMessageAt = now;
          set.waitingSince = sql`coalesce(${s.conversations.waitingSince}, ${now.toISOString()}::timestamptz)`;
        } else {
          set.lastStaffReplyAt = now;
          set.waitingSince = null;
        }
      }
      const updated = await tx
        .update(s.conversations)
        .set(set)
        .where(and(eq(s.conversations.id, before.id), eq(s.conversations.version, before.version)))
        .returning({
          version: s.conversations.version,
          lastSeq: s.conversations.lastSeq,
          lastMessageAt: s.conversations.lastMessageAt,
          waitingSince: s.conversations.waitingSince,
        });
      const row = updated[0];
      if (!row) throw new VersionConflict();
      conversation = { ...n, version: row.version };
      lastSeq = row.lastSeq;
      times = { lastMessageAt: row.lastMessageAt, waitingSince: row.waitingSince };
    } else {
      const row = await tx.select({ lastSeq: s.conversations.lastSeq }).from(s.conversations).where(eq(s.conversations.id, before.id));
      lastSeq = row[0]?.lastSeq ?? 0;
    }

    // Hand out seqs in order: the human message, then system messages, then log events.
    let seq = lastSeq - seqCount;
    const messageRows: (typeof s.messages.$inferInsert)[] = [];
    if (d.message) {
      messageRows.push({
        conversationId: before.id,
        seq: ++seq,
        sender: d.message.sender,
        senderId: d.message.senderId,
        body: d.message.text,
        requestId: d.message.sender === "customer" ? (input.externalId ?? input.requestId) : input.requestId,
        createdAt: now,
      });
    }
    for (const m of d.system) {
      messageRows.push({
        conversationId: before.id,
        seq: ++seq,
        sender: "system",
        senderId: null,
        systemKind: m.kind,
        subjectIds: [...m.subjectIds],
        createdAt: now,
      });
    }
    const eventRows = d.log.map((e) => ({
      conversationId: before.id,
      seq: ++seq,
      kind: e.kind,
      actorId: e.actorId,
      targetIds: [...e.targetIds],
      createdAt: now,
    }));
    if (messageRows.length) await tx.insert(s.messages).values(messageRows);
    if (eventRows.length) await tx.insert(s.conversationEvents).values(eventRows);

    const changed = new Set<string>();
    let allChanged = false;
    const mcs = s.memberConversationState;
    for (const ch of d.memberState) {
      switch (ch.kind) {
        case "unread_increment":
          for (const id of ch.memberIds) {
            await tx
              .insert(mcs)
              .values({ memberId: id, conversationId: before.id, unreadCount: 1, updatedAt: now })
              .onConflictDoUpdate({ target: [mcs.memberId, mcs.conversationId], set: { unreadCount: sql`${mcs.unreadCount} + 1`, updatedAt: now } });
            changed.add(id);
          }
          break;
        case "unread_clear":
          for (const id of ch.memberIds) {
            await tx
              .insert(mcs)
              .values({ memberId: id, conversationId: before.id, unreadCount: 0, lastReadSeq: lastSeq, updatedAt: now })
              .onConflictDoUpdate({ target: [mcs.memberId, mcs.conversationId], set: { unreadCount: 0, lastReadSeq: lastSeq, updatedAt: now } });
            changed.add(id);
          }
          break;
        case "unread_clear_all":
          await tx.update(mcs).set({ unreadCount: 0, lastReadSeq: lastSeq, updatedAt: now }).where(eq(mcs.conversationId, before.id));
          allChanged = true;
          break;
        case "pin":
          await tx
            .insert(mcs)
            .values({ memberId: ch.memberId, conversationId: before.id, pinned: ch.pinned, pinnedAt: ch.pinned ? now : null, updatedAt: now })
            .onConflictDoUpdate({
              target: [mcs.memberId, mcs.conversationId],
              set: { pinned: ch.pinned, pinnedAt: ch.pinned ? now : null, updatedAt: now },
            });
          changed.add(ch.memberId);
          break;
        case "unpin_all":
          await tx.update(mcs).set({ pinned: false, pinnedAt: null, updatedAt: now }).where(eq(mcs.conversationId, before.id));
          allChanged = true;
          break;
      }
    }

    const notificationIds: number[] = [];
    if (d.notices.length) {
      const rows = await tx
        .insert(s.notifications)
        .values(
          d.notices.map((n) => ({
            workspaceId: before.workspaceId,
            memberId: n.recipientId,
            kind: n.kind,
            conversationId: before.id,
            actorId: n.actorId,
            actorRole: n.actorRole as Role | null,
            createdAt: now,
          })),
        )
        .returning({ id: s.notifications.id, memberId: s.notifications.memberId });
      notificationIds.push(...rows.map((r) => r.id));
      await tx.insert(s.outbox).values(rows.map((r) => ({ topic: "notice", payload: { kind: "notice" as const, notificationId: r.id, memberId: r.memberId } })));
    }
    if (d.effects.length) {
      await tx.insert(s.outbox).values(
        d.effects.map((effect) => ({
          topic: effect.kind,
          payload: { kind: "effect" as const, conversationId: before.id, seq: lastSeq, effect },
        })),
      );
    }

    const memberStates = allChanged
      ? [...(await tx.select().from(mcs).where(eq(mcs.conversationId, before.id)))]
      : changed.size
        ? await tx.select().from(mcs).where(and(eq(mcs.conversationId, before.id), inArray(mcs.memberId, [...changed])))
        : [];

    return {
      conversation,
      lastSeq,
      times,
      messages: messageRows.map((r) => toStoredMessage(r as typeof s.messages.$inferSelect)),
      events: eventRows.map((e) => ({ seq: e.seq, kind: e.kind, actorId: e.actorId, targetIds: e.targetIds, createdAt: e.createdAt })),
      notificationIds,
      memberStates: memberStates.map((r) => ({ memberId: r.memberId, unreadCount: r.unreadCount, lastReadSeq: r.lastReadSeq, pinned: r.pinned })),
      allMemberStatesChanged: allChanged,
    };
  });
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
