import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import * as s from "../../db/schema.ts";
import { DEFAULT_SETTINGS } from "../../domain/model.ts";
import type { App } from "../support/server.ts";

/**
 * Another workspace with one member (an admin), one customer and one conversation it follows,
 * written straight to the database: what the demo workspace's members must never see.
 */
export async function otherWorkspaceConversation(app: App): Promise<{ workspaceId: string; memberId: string; conversationId: string }> {
  const db = app.database.db;
  const key = randomUUID().slice(0, 8);
  const workspaceId = `ws-${key}`;
  const memberId = `other-${key}`;
  const conversationId = `other-conv-${key}`;
  await db.insert(s.workspaces).values({ id: workspaceId, name: `Other ${key}`, settings: DEFAULT_SETTINGS });
  await db.insert(s.members).values({
    id: memberId,
    workspaceId,
    name: `Other ${key}`,
    email: `${memberId}@other.test`,
    role: "admin",
    passwordHash: "not-a-login",
  });
  await db.insert(s.customers).values({ id: `other-cust-${key}`, workspaceId, displayName: "Other customer", channel: "line", channelUserId: `u-${key}` });
  await db.insert(s.conversations).values({
    id: conversationId,
    workspaceId,
    customerId: `other-cust-${key}`,
    channel: "line",
    status: "in_progress",
    followerId: memberId,
  });
  return { workspaceId, memberId, conversationId };
}

/** Sets fields of a member row (phone, email, status …) after `createMember`. */
export async function updateMember(app: App, id: string, set: Partial<typeof s.members.$inferInsert>): Promise<void> {
  await app.database.db.update(s.members).set(set).where(eq(s.members.id, id));
}
