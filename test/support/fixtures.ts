import { randomUUID } from "node:crypto";
import { and, asc, eq } from "drizzle-orm";
import * as s from "../../db/schema.ts";
import type { Channel, Locale, Role, Status } from "../../domain/sets.ts";
import { ID, WEBCHAT, WORKSPACE } from "./demo.ts";
import type { App } from "./server.ts";

/** Database fixtures written straight to storage (row shapes of server/seed.ts), and rows read back. */

export interface ConversationSpec {
  follower?: string | null;
  collaborators?: string[];
  status?: Status;
  kind?: "direct" | "group";
  channel?: Channel;
  customerName?: string;
  /** Customer messages already in the timeline. */
  texts?: string[];
  /** Stored unread counts by member id. */
  unread?: Record<string, number>;
  /** Members who pinned the conversation. */
  pinned?: string[];
}

export interface Fixture {
  id: string;
  customerId: string;
  customerName: string;
  /** The customer's id on the channel (Webchat's `customer.id`). */
  channelUserId: string;
}

/** A fresh conversation of its own customer, written straight to the database (row shapes of seed.ts). */
export async function createConversation(app: App, spec: ConversationSpec = {}): Promise<Fixture> {
  const db = app.database.db;
  const key = randomUUID().slice(0, 8);
  const id = `t-${key}`;
  const channel = spec.channel ?? "line";
  const customerId = `cust-${key}`;
  const customerName = spec.customerName ?? `客人${key}`;
  const channelUserId = `user-${key}`;
  const texts = spec.texts ?? ["你好"];
  const follower = spec.follower === undefined ? ID.admin : spec.follower;
  const collaborators = spec.collaborators ?? [];
  const status: Status = spec.status ?? (follower ? "in_progress" : "pending");
  const now = Date.now();
  await db.insert(s.customers).values({ id: customerId, workspaceId: WORKSPACE, displayName: customerName, channel, channelUserId });
  await db.insert(s.conversations).values({
    id,
    workspaceId: WORKSPACE,
    customerId,
    channelId: channel === "webchat" ? WEBCHAT.channelId : null,
    channel,
    kind: spec.kind ?? "direct",
    status,
    followerId: follower,
    collaboratorIds: collaborators,
    lastSeq: texts.length,
    lastMessageAt: new Date(now),
    lastMessagePreview: texts.at(-1) ?? null,
    lastCustomerMessageAt: texts.length ? new Date(now) : null,
    waitingSince: status === "closed" || !texts.length ? null : new Date(now),
    closedAt: status === "closed" ? new Date(now) : null,
  });
  if (texts.length) {
    await db.insert(s.messages).values(
      texts.map((body, i) => ({
        conversationId: id,
        seq: i + 1,
        sender: "customer" as const,
        senderId: customerId,
        body,
        requestId: `fixture-${id}-${i}`,
        createdAt: new Date(now - (texts.length - i) * 1000),
      })),
    );
  }
  const stateIds = new Set([...Object.keys(spec.unread ?? {}), ...(spec.pinned ?? [])]);
  if (stateIds.size) {
    await db.insert(s.memberConversationState).values(
      [...stateIds].map((memberId) => ({
        memberId,
        conversationId: id,
        unreadCount: spec.unread?.[memberId] ?? 0,
        pinned: spec.pinned?.includes(memberId) ?? false,
        pinnedAt: spec.pinned?.includes(memberId) ? new Date(now) : null,
      })),
    );
  }
  return { id, customerId, customerName, channelUserId };
}

/** An extra active member of the demo workspace (no password: use `tokenOf(app, id)`). */
export async function createMember(
  app: App,
  spec: { name?: string; role?: Role; locale?: Locale } = {},
): Promise<{ id: string; name: string }> {
  const key = randomUUID().slice(0, 8);
  const id = `m-${key}`;
  const name = spec.name ?? `Member ${key}`;
  await app.database.db.insert(s.members).values({
    id,
    workspaceId: WORKSPACE,
    name,
    email: `${id}@test.test`,
    role: spec.role ?? "agent",
    locale: spec.locale ?? "zh-TW",
    passwordHash: "not-a-login",
  });
  return { id, name };
}

export async function conversationRow(app: App, id: string) {
  return (await app.database.db.select().from(s.conversations).where(eq(s.conversations.id, id)))[0]!;
}

export async function eventRows(app: App, id: string) {
  return app.database.db
    .select()
    .from(s.conversationEvents)
    .where(eq(s.conversationEvents.conversationId, id))
    .orderBy(asc(s.conversationEvents.seq));
}

export async function messageRows(app: App, id: string) {
  return app.database.db.select().from(s.messages).where(eq(s.messages.conversationId, id)).orderBy(asc(s.messages.seq));
}

export async function memberState(app: App, conversationId: string, memberId: string) {
  const rows = await app.database.db
    .select()
    .from(s.memberConversationState)
    .where(and(eq(s.memberConversationState.conversationId, conversationId), eq(s.memberConversationState.memberId, memberId)));
  return rows[0] ?? { unreadCount: 0, pinned: false, lastReadSeq: 0 };
}

/** Unread counts by member id, as stored. */
export async function unreadOf(app: App, conversationId: string, memberIds: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const id of memberIds) out[id] = (await memberState(app, conversationId, id)).unreadCount;
  return out;
}

