import { and, eq, inArray, lte, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Decision } from "../domain/decide.ts";
import type { MemberStateChange } from "../domain/events.ts";
import type { Conversation } from "../domain/model.ts";
import { type Role, assertNever } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import type { ListTimes, MemberState } from "./rows.ts";
import * as s from "./schema.ts";
import { type StoredEvent, type StoredMessage, toStoredMessage } from "./timeline.ts";

/**
 * Writing an accepted decision: one transaction, in this order — the request id (a retry stops
 * here), the conversation row (version-checked), the timeline (messages, status log), per-member
 * unread and pins, notifications and the outbox. Each step is a small function below.
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
    await claimRequest(tx, input);
    await consumeTimer(tx, input);
    const { conversation, lastSeq, times } = await writeConversation(tx, input);
    const { messages, events } = await writeTimeline(tx, input, lastSeq);
    const touched = await applyMemberStates(tx, input.before.id, input.decision.memberState, lastSeq, input.now);
    const notificationIds = await writeNotices(tx, input);
    await writeEffects(tx, input.before.id, input.decision, lastSeq, input.now);
    await writeTimers(tx, input);
    return {
      conversation,
      lastSeq,
      times,
      messages,
      events,
      notificationIds,
      memberStates: await readMemberStates(tx, input.before.id, touched),
      allMemberStatesChanged: touched === "all",
    };
  });
}

/** A member's request id is accepted once per conversation; a customer message's channel id once. */
async function claimRequest(tx: Tx, input: CommitInput): Promise<void> {
  const id = input.before.id;
  if (input.memberId) {
    const inserted = await tx
      .insert(s.processedRequests)
      .values({ conversationId: id, memberId: input.memberId, requestId: input.requestId })
      .onConflictDoNothing()
      .returning({ r: s.processedRequests.requestId });
    if (inserted.length === 0) throw new Duplicate();
  }
  if (input.externalId) {
    const m = s.messages;
    const seen = await tx
      .select({ seq: m.seq })
      .from(m)
      .where(and(eq(m.conversationId, id), eq(m.sender, "customer"), eq(m.requestId, input.externalId)));
    if (seen.length > 0) throw new Duplicate();
  }
}

/** How many seqs the decision hands out: the human message, system messages, log events. */
function seqCount(d: Decision): number {
  return (d.message ? 1 : 0) + d.system.length + d.log.length;
}

/**
 * Updates the conversation row when the decision changes it or adds to its timeline (version
 * checked, moved by one); otherwise reads its `lastSeq`.
 */
async function writeConversation(
  tx: Tx,
  input: CommitInput,
): Promise<{ conversation: Conversation; lastSeq: number; times: ListTimes | null }> {
  const { before, decision: d } = input;
  const count = seqCount(d);
  const c = s.conversations;
  if (!d.conversationChanged && count === 0) {
    const row = await tx.select({ lastSeq: c.lastSeq }).from(c).where(eq(c.id, before.id));
    return { conversation: before, lastSeq: row[0]?.lastSeq ?? 0, times: null };
  }
  const [row] = await tx
    .update(c)
    .set(rowChanges(input, count))
    .where(and(eq(c.id, before.id), eq(c.version, before.version)))
    .returning({ version: c.version, lastSeq: c.lastSeq, lastMessageAt: c.lastMessageAt, waitingSince: c.waitingSince });
  if (!row) throw new VersionConflict();
  return {
    conversation: { ...d.next, version: row.version },
    lastSeq: row.lastSeq,
    times: { lastMessageAt: row.lastMessageAt, waitingSince: row.waitingSince },
  };
}

/** The columns a decision sets: status and participants, version and seq, and the list times. */
function rowChanges(input: CommitInput, count: number): PgUpdateSetSource<typeof s.conversations> {
  const { before, decision: d, now } = input;
  const c = s.conversations;
  const n = d.next;
  const set: PgUpdateSetSource<typeof s.conversations> = {
    status: n.status,
    followerId: n.followerId,
    collaboratorIds: [...n.collaboratorIds],
    version: sql`${c.version} + 1`,
    lastSeq: sql`${c.lastSeq} + ${count}`,
    updatedAt: now,
  };
  if (n.status === "closed" && before.status !== "closed") set.closedAt = now;
  if (n.status !== "closed" && before.status === "closed") set.closedAt = null;
  if (d.message) {
    set.lastMessageAt = now;
    set.lastMessagePreview = d.message.text.slice(0, 200);
    if (d.message.sender === "customer") {
      set.lastCustomerMessageAt = now;
      // R13.3: waiting starts at the oldest unanswered customer message …
      set.waitingSince = sql`coalesce(${c.waitingSince}, ${now.toISOString()}::timestamptz)`;
    } else if (d.message.sender === "staff") {
      // … and ends with a staff reply (an automatic message changes neither, R13.4).
      set.lastStaffReplyAt = now;
      set.waitingSince = null;
    }
  }
  return set;
}

/** Inserts the messages and status-log events, handing out seqs in order up to `lastSeq`. */
async function writeTimeline(tx: Tx, input: CommitInput, lastSeq: number): Promise<{ messages: StoredMessage[]; events: StoredEvent[] }> {
  const { before, decision: d, now } = input;
  let seq = lastSeq - seqCount(d);
  const messageRows: (typeof s.messages.$inferInsert)[] = [];
  if (d.message) {
    const queued = d.message.sender !== "customer" && (await delivers(tx, before.id, d));
    messageRows.push({
      ...(queued ? { deliveryStatus: "queued" as const } : {}),
      conversationId: before.id,
      seq: ++seq,
      sender: d.message.sender,
      senderId: d.message.senderId,
      body: d.message.text,
      parts: d.message.parts ? [...d.message.parts] : null,
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
  return {
    messages: messageRows.map((r) => toStoredMessage(r as typeof s.messages.$inferSelect)),
    events: eventRows.map((e) => ({ seq: e.seq, kind: e.kind, actorId: e.actorId, targetIds: e.targetIds, createdAt: e.createdAt })),
  };
}

/** A staff reply is delivered (server/delivery.ts) when the conversation has a channel account: it starts `queued`. */
async function delivers(tx: Tx, conversationId: string, d: Decision): Promise<boolean> {
  if (!d.effects.some((e) => e.kind === "deliver_reply")) return false;
  const [row] = await tx.select({ channelId: s.conversations.channelId }).from(s.conversations).where(eq(s.conversations.id, conversationId));
  return Boolean(row?.channelId);
}

/** The members whose state rows changed, or "all" of the conversation's. */
type Touched = Set<string> | "all";

/** Applies the per-member changes (R11 unread, R12 pins). Every kind is handled: the switch is exhaustive. */
async function applyMemberStates(
  tx: Tx,
  conversationId: string,
  changes: readonly MemberStateChange[],
  lastSeq: number,
  now: Date,
): Promise<Touched> {
  const touched = new Set<string>();
  let all = false;
  for (const ch of changes) {
    switch (ch.kind) {
      case "unread_increment":
        for (const id of ch.memberIds) {
          await upsertState(
            tx,
            conversationId,
            id,
            { unreadCount: 1 },
            { unreadCount: sql`${s.memberConversationState.unreadCount} + 1` },
            now,
          );
          touched.add(id);
        }
        break;
      case "unread_clear":
        for (const id of ch.memberIds) {
          const read = { unreadCount: 0, lastReadSeq: lastSeq };
          await upsertState(tx, conversationId, id, read, read, now);
          touched.add(id);
        }
        break;
      case "unread_clear_all":
        await updateAllStates(tx, conversationId, { unreadCount: 0, lastReadSeq: lastSeq }, now);
        all = true;
        break;
      case "pin": {
        const pin = { pinned: ch.pinned, pinnedAt: ch.pinned ? now : null };
        await upsertState(tx, conversationId, ch.memberId, pin, pin, now);
        touched.add(ch.memberId);
        break;
      }
      case "unpin_all":
        await updateAllStates(tx, conversationId, { pinned: false, pinnedAt: null }, now);
        all = true;
        break;
      default:
        assertNever(ch);
    }
  }
  return all ? "all" : touched;
}

type StateColumns = PgUpdateSetSource<typeof s.memberConversationState>;

/** One member's state row: inserted with `values`, or updated with `changes` when it exists. */
async function upsertState(
  tx: Tx,
  conversationId: string,
  memberId: string,
  values: Partial<typeof s.memberConversationState.$inferInsert>,
  changes: StateColumns,
  now: Date,
) {
  const mcs = s.memberConversationState;
  await tx
    .insert(mcs)
    .values({ memberId, conversationId, ...values, updatedAt: now })
    .onConflictDoUpdate({ target: [mcs.memberId, mcs.conversationId], set: { ...changes, updatedAt: now } });
}

async function updateAllStates(tx: Tx, conversationId: string, changes: StateColumns, now: Date) {
  const mcs = s.memberConversationState;
  await tx
    .update(mcs)
    .set({ ...changes, updatedAt: now })
    .where(eq(mcs.conversationId, conversationId));
}

/** The stored state rows after the changes, for the room to show. */
async function readMemberStates(tx: Tx, conversationId: string, touched: Touched): Promise<MemberState[]> {
  const mcs = s.memberConversationState;
  if (touched !== "all" && touched.size === 0) return [];
  const where =
    touched === "all"
      ? eq(mcs.conversationId, conversationId)
      : and(eq(mcs.conversationId, conversationId), inArray(mcs.memberId, [...touched]));
  const rows = await tx.select().from(mcs).where(where);
  return rows.map((r) => ({ memberId: r.memberId, unreadCount: r.unreadCount, lastReadSeq: r.lastReadSeq, pinned: r.pinned }));
}

/** Stores the notices (structured, rendered on read) and queues their delivery in the outbox. */
async function writeNotices(tx: Tx, input: CommitInput): Promise<number[]> {
  const { before, decision: d, now } = input;
  if (d.notices.length === 0) return [];
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
  await tx
    .insert(s.outbox)
    .values(
      rows.map((r) => ({
        topic: "notice",
        payload: { kind: "notice" as const, notificationId: r.id, memberId: r.memberId },
        // Due at the committer's clock, the one claims compare with (not the database's now(), which can be later within a millisecond).
        createdAt: now,
        availableAt: now,
      })),
    );
  return rows.map((r) => r.id);
}

/** Queues the decision's side effects (CSAT, push …) in the outbox. */
async function writeEffects(tx: Tx, conversationId: string, d: Decision, lastSeq: number, now: Date): Promise<void> {
  if (d.effects.length === 0) return;
  await tx
    .insert(s.outbox)
    .values(
      d.effects.map((effect) => ({
        topic: effect.kind,
        payload: { kind: "effect" as const, conversationId, seq: lastSeq, effect },
        createdAt: now,
        availableAt: now,
      })),
    );
}

/**
 * The firing of a durable timer (R13.4) holds only while the timer is still there and due: an
 * action committed since may have cleared it (a customer reply) or moved it (a staff reply). Then
 * nothing is written and the firing is answered as a duplicate.
 */
async function consumeTimer(tx: Tx, input: CommitInput): Promise<void> {
  const kind = input.decision.timers.consume;
  if (!kind) return;
  const t = s.timers;
  const gone = await tx
    .delete(t)
    .where(and(eq(t.conversationId, input.before.id), eq(t.kind, kind), lte(t.dueAt, input.now)))
    .returning({ kind: t.kind });
  if (gone.length === 0) throw new Duplicate();
}

/** Clears and (re)arms the decision's timers, due relative to the commit time. */
async function writeTimers(tx: Tx, input: CommitInput): Promise<void> {
  const { set, clear } = input.decision.timers;
  const t = s.timers;
  const id = input.before.id;
  const keep = new Set(set.map((x) => x.kind));
  const drop = clear.filter((k) => !keep.has(k));
  if (drop.length) await tx.delete(t).where(and(eq(t.conversationId, id), inArray(t.kind, [...drop])));
  for (const x of set) {
    const dueAt = new Date(input.now.getTime() + x.afterMs);
    await tx
      .insert(t)
      .values({ conversationId: id, kind: x.kind, dueAt, createdAt: input.now })
      .onConflictDoUpdate({ target: [t.conversationId, t.kind], set: { dueAt, leaseUntil: null, attempts: 0, lastError: null } });
  }
}
