import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { and, desc, eq } from "drizzle-orm";
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import * as s from "../../db/schema.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { MAX_TEXT_LENGTH } from "../../domain/sets.ts";
import { callConversation } from "../roomCalls.ts";
import type { AppDeps } from "./env.ts";
import { errors, json, jsonBody, router } from "./openapi.ts";
import { listSummary, publishChange } from "../../rooms/feed.ts";

const InboundMessage = z
  .object({
    messageId: z.string().min(1).max(200).describe("The channel's id of the message: a re-delivery applies once"),
    customer: z.object({ id: z.string().min(1).max(200), name: z.string().trim().min(1).max(200) }),
    text: z.string().trim().min(1),
  })
  .meta({ id: "WebchatMessage" });

const inbound = createRoute({
  method: "post",
  path: "/{channelId}/messages",
  tags: ["channels"],
  summary: "A Webchat customer's message (server to server, `X-Channel-Secret`)",
  request: {
    params: z.object({ channelId: z.string() }),
    headers: z.object({ "x-channel-secret": z.string().optional() }),
    body: jsonBody(InboundMessage),
  },
  responses: {
    202: json(z.object({ conversationId: z.string(), seq: z.number().int().nullable(), duplicate: z.boolean() }), "Accepted and committed"),
    ...errors(400, 401, 409, 413, 503),
  },
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
  const app = router();
  app.openapi(inbound, async (c) => {
    const db = deps.database.db;
    const channel = (await db.select().from(s.channels).where(and(eq(s.channels.id, c.req.param("channelId")), eq(s.channels.type, "webchat"))))[0];
    const secret = c.req.header("x-channel-secret") ?? "";
    if (!channel || !sameSecret(secret, channel.secretHash)) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const body = c.req.valid("json");
    if (body.text.length > MAX_TEXT_LENGTH) throw new DomainError(ErrorCode.TEXT_TOO_LONG, { max: MAX_TEXT_LENGTH });

    const { conversationId, customerId, created } = await db.transaction(async (tx) => {
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
      if (latest[0]) return { conversationId: latest[0].id, customerId: customer.id, created: null };
      const id = randomUUID();
      const [row] = await tx.insert(s.conversations).values({
        id,
        workspaceId: channel.workspaceId,
        customerId: customer.id,
        channelId: channel.id,
        channel: "webchat",
        kind: "direct",
        status: "pending",
      }).returning();
      return { conversationId: id, customerId: customer.id, created: row ?? null };
    });
    if (created) {
      // A new conversation appears in the lists (after its commit, like every change).
      await publishChange(deps.presence, {
        type: "conversation",
        workspaceId: created.workspaceId,
        conversationId,
        version: created.version,
        before: null,
        after: listSummary(created, created),
        memberStates: [],
      });
    }

    const answer = await callConversation(conversationId, { type: "customer_message", requestId: body.messageId, text: body.text, customerId });
    if (!answer.ok) throw new DomainError(answer.code);
    return c.json({ conversationId, seq: answer.seq ?? null, duplicate: answer.duplicate ?? false }, 202);
  });
  return app;
}
