import { randomUUID } from "node:crypto";
import { and, arrayContains, eq, isNull, or, sql } from "drizzle-orm";
import type { Presence } from "@colyseus/core";
import type { Db } from "../db/client.ts";
import * as s from "../db/schema.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import type { Answer } from "../rooms/protocol.ts";
import { Topic } from "../rooms/services.ts";
import { callConversation } from "./roomCalls.ts";

/**
 * Deactivates (or deletes) a member: their tokens stop working at once (token version bumped,
 * refresh tokens revoked), every open connection of theirs closes, and every conversation they
 * take part in goes through its room's `member_departed` path (SPEC §14).
 */
export async function deactivateMember(
  deps: { db: Db; presence: Presence; now: () => Date },
  input: { actorId: string | null; memberId: string; status: "deactivated" | "deleted" },
): Promise<{ conversations: { id: string; answer: Answer }[] }> {
  const { db, now } = deps;
  await db.transaction(async (tx) => {
    const rows = await tx
      .update(s.members)
      .set({ status: input.status, tokenVersion: sql`${s.members.tokenVersion} + 1`, updatedAt: now() })
      .where(eq(s.members.id, input.memberId))
      .returning({ id: s.members.id });
    if (!rows.length) throw new DomainError(ErrorCode.TARGET_NOT_FOUND, { memberId: input.memberId });
    await tx
      .update(s.refreshTokens)
      .set({ revokedAt: now() })
      .where(and(eq(s.refreshTokens.memberId, input.memberId), isNull(s.refreshTokens.revokedAt)));
    return rows.length;
  });
  await deps.presence.publish(Topic.revoked, { memberId: input.memberId });

  const affected = await db
    .select({ id: s.conversations.id })
    .from(s.conversations)
    .where(or(eq(s.conversations.followerId, input.memberId), arrayContains(s.conversations.collaboratorIds, [input.memberId])));
  const results: { id: string; answer: Answer }[] = [];
  for (const c of affected) {
    const answer = await callConversation(c.id, {
      type: "member_departed",
      requestId: `departed:${input.memberId}:${randomUUID()}`,
      memberId: input.memberId,
      actorId: input.actorId,
    });
    results.push({ id: c.id, answer });
  }
  return { conversations: results };
}
