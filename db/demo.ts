import { sql } from "drizzle-orm";
import type { ChannelType } from "../domain/channels.ts";
import type { LogKind, SystemKind } from "../domain/events.ts";
import type { WorkspaceSettings } from "../domain/model.ts";
import type { Channel, ConversationKind, Locale, Role, Status } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import { lockWorkspaceSetup } from "./migrate.ts";
import * as s from "./schema.ts";

/**
 * Writing a demo workspace (what `server/seed.ts` describes) as rows: members, a channel,
 * customers, and conversations with their messages, status log and per-member state, as if the
 * conversations had happened (customer messages, then the collaborators added, then a close).
 */

export interface DemoWorkspace {
  readonly id: string;
  readonly name: string;
  readonly settings: WorkspaceSettings;
  readonly members: readonly { id: string; name: string; email: string; role: Role; locale: Locale; phone: string; passwordHash: string }[];
  readonly channel: { readonly id: string; readonly type: ChannelType; readonly name: string; readonly secretHash: string };
  readonly customers: readonly { id: string; name: string; channel: Channel }[];
  readonly conversations: readonly DemoConversation[];
}

export interface DemoConversation {
  readonly id: string;
  readonly customer: string;
  readonly status: Status;
  readonly follower: string | null;
  readonly collaborators: readonly string[];
  readonly kind?: ConversationKind;
  readonly texts: readonly string[];
  /** Pinned by every participant. */
  readonly pinned?: boolean;
}

/** True when the database holds no workspace yet. */
export async function isEmpty(db: Db): Promise<boolean> {
  const rows = await db.select({ n: sql<number>`count(*)::int` }).from(s.workspaces);
  return (rows[0]?.n ?? 0) === 0;
}

/**
 * Writes the workspace in one transaction when the database still holds no workspace; `now` dates
 * its messages (ten minutes apart per conversation, the last one the newest). Returns false (and
 * writes nothing) when a workspace exists: processes seeding at once on one database take the
 * workspace-setup lock, so one seeds and the others see its workspace and skip.
 */
export async function insertDemoWorkspace(db: Db, w: DemoWorkspace, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lockWorkspaceSetup(tx);
    const [found] = await tx.select({ n: sql<number>`count(*)::int` }).from(s.workspaces);
    if ((found?.n ?? 0) > 0) return false;
    await tx.insert(s.workspaces).values({ id: w.id, name: w.name, settings: w.settings });
    await tx.insert(s.members).values(w.members.map((m) => ({ ...m, workspaceId: w.id })));
    await tx.insert(s.channels).values({ ...w.channel, workspaceId: w.id });
    await tx
      .insert(s.customers)
      .values(
        w.customers.map((c) => ({
          id: c.id,
          workspaceId: w.id,
          displayName: c.name,
          channel: c.channel,
          channelUserId: `${c.channel}-${c.id}`,
        })),
      );
    let minute = 0;
    for (const conv of w.conversations) {
      minute += 10;
      const base = now - (w.conversations.length * 10 - minute) * 60_000;
      await insertConversation(tx, w, conv, (k) => new Date(base + k * 60_000));
    }
    return true;
  });
}

async function insertConversation(tx: Tx, w: DemoWorkspace, conv: DemoConversation, at: (k: number) => Date): Promise<void> {
  const customer = w.customers.find((c) => c.id === conv.customer);
  if (!customer) throw new Error(`demo conversation ${conv.id}: unknown customer ${conv.customer}`);
  const rows: (typeof s.messages.$inferInsert)[] = conv.texts.map((text, i) => ({
    conversationId: conv.id,
    seq: i + 1,
    sender: "customer" as const,
    senderId: customer.id,
    body: text,
    requestId: `seed-${conv.id}-${i}`,
    createdAt: at(i),
  }));
  let seq = rows.length;
  const events: (typeof s.conversationEvents.$inferInsert)[] = [];
  if (conv.collaborators.length && conv.follower) {
    const when = at(rows.length);
    rows.push({
      conversationId: conv.id,
      seq: ++seq,
      sender: "system",
      systemKind: "members_joined" satisfies SystemKind,
      subjectIds: [...conv.collaborators],
      createdAt: when,
    });
    events.push({
      conversationId: conv.id,
      seq: ++seq,
      kind: "collaborators_added" satisfies LogKind,
      actorId: conv.follower,
      targetIds: [...conv.collaborators],
      createdAt: when,
    });
  }
  if (conv.status === "closed" && conv.follower) {
    events.push({
      conversationId: conv.id,
      seq: ++seq,
      kind: "closed" satisfies LogKind,
      actorId: conv.follower,
      targetIds: [],
      createdAt: at(rows.length + 1),
    });
  }
  const last = rows[conv.texts.length - 1]!;
  await tx.insert(s.conversations).values({
    id: conv.id,
    workspaceId: w.id,
    customerId: customer.id,
    channelId: customer.channel === w.channel.type ? w.channel.id : null,
    channel: customer.channel,
    kind: conv.kind ?? "direct",
    status: conv.status,
    followerId: conv.follower,
    collaboratorIds: [...conv.collaborators],
    lastSeq: seq,
    lastMessageAt: last.createdAt,
    lastMessagePreview: last.body,
    lastCustomerMessageAt: last.createdAt,
    waitingSince: conv.status === "closed" ? null : rows[0]!.createdAt,
    closedAt: conv.status === "closed" ? last.createdAt : null,
  });
  await tx.insert(s.messages).values(rows);
  if (events.length) await tx.insert(s.conversationEvents).values(events);
  const participants = conv.follower ? [conv.follower, ...conv.collaborators] : [];
  if (participants.length && conv.status !== "closed") {
    await tx
      .insert(s.memberConversationState)
      .values(
        participants.map((memberId) => ({
          memberId,
          conversationId: conv.id,
          unreadCount: conv.texts.length,
          pinned: conv.pinned ?? false,
        })),
      );
  }
}
