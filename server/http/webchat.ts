import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { and, desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import * as s from "../../db/schema.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { MAX_TEXT_LENGTH } from "../../domain/sets.ts";
import { callConversation } from "../roomCalls.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { errorBody, parseJson, statusOf } from "./errors.ts";

const InboundMessage = z.object({
  messageId: z.string().min(1).max(200),
  customer: z.object({ id: z.string().min(1).max(200), name: z.string().trim().min(1).max(200) }),
  text: z.string().trim().min(1),
});

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function sameSecret(given: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(given), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The Webchat channel's server-side endpoint: `POST /channels/webchat/:channelId/messages`,
 * authenticated with the channel's secret in `X-Channel-Secret`. Idempotent on `messageId`.
 */
export function webchatRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.post("/:channelId/messages", async (c) => {
    const db = deps.database.db;
    const channel = (await db.select().from(s.channels).where(and(eq(s.channels.id, c.req.param("channelId")), eq(s.channels.type, "webchat"))))[0];
    const secret = c.req.header("x-channel-secret") ?? "";
    if (!channel || !sameSecret(secret, channel.secretHash)) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const body = await parseJson(c, InboundMessage);
    if (body.text.length > MAX_TEXT_LENGTH) throw new DomainError(ErrorCode.TEXT_TOO_LONG, { max: MAX_TEXT_LENGTH });

    const { conversationId, customerId } = await db.transaction(async (tx) => {
      const [customer] = await tx
        .insert(s.customers)
        .values({ id: randomUUID(), workspaceId: channel.workspaceId, displayName: body.customer.name, channel: "webchat", channelUserId: body.customer.id })
        .onConflictDoUpdate({ target: [s.customers.workspaceId, s.customers.channel, s.customers.channelUserId], set: { displayName: body.customer.name } })
        .returning({ id: s.customers.id });
      if (!customer) throw new Error("customer upsert returned nothing");
      // The upsert locks the customer row: concurrent first messages create one conversation.
      const latest = await tx
        .select({ id: s.conversations.id })
        .from(s.conversations)
        .where(eq(s.conversations.customerId, customer.id))
        .orderBy(desc(s.conversations.createdAt))
        .limit(1);
      if (latest[0]) return { conversationId: latest[0].id, customerId: customer.id };
      const id = randomUUID();
      await tx.insert(s.conversations).values({
        id,
        workspaceId: channel.workspaceId,
        customerId: customer.id,
        channelId: channel.id,
        channel: "webchat",
        kind: "direct",
        status: "pending",
      });
      return { conversationId: id, customerId: customer.id };
    });

    const answer = await callConversation(conversationId, { type: "customer_message", requestId: body.messageId, text: body.text, customerId });
    if (!answer.ok) return c.json(errorBody(answer.code, "en"), statusOf(answer.code));
    return c.json({ conversationId, seq: answer.seq ?? null, duplicate: answer.duplicate ?? false }, 202);
  });
  return app;
}
