import { createHash, timingSafeEqual } from "node:crypto";
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { findChannel, intakeCustomer } from "../../db/channels.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { isTextTooLong } from "../../domain/actions.ts";
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
    params: z.object({ channelId: z.string().min(1).max(200) }),
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
    const channel = await findChannel(db, c.req.param("channelId"), "webchat");
    const secret = c.req.header("x-channel-secret") ?? "";
    if (!channel?.secretHash || !sameSecret(secret, channel.secretHash)) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const body = c.req.valid("json");
    if (isTextTooLong(body.text)) throw new DomainError(ErrorCode.TEXT_TOO_LONG, { max: MAX_TEXT_LENGTH }); // code points, as in rooms

    const { conversationId, customerId, created } = await intakeCustomer(db, channel, { channelUserId: body.customer.id, displayName: body.customer.name });
    if (created) {
      // A new conversation appears in the lists (after its commit, like every change).
      await publishChange(deps.presence, {
        type: "conversation",
        workspaceId: created.conversation.workspaceId,
        conversationId,
        version: created.conversation.version,
        before: null,
        after: listSummary(created.conversation, created.times),
        memberStates: [],
      });
    }

    const answer = await callConversation(conversationId, { type: "customer_message", requestId: body.messageId, text: body.text, customerId });
    if (!answer.ok) throw new DomainError(answer.code);
    return c.json({ conversationId, seq: answer.seq ?? null, duplicate: answer.duplicate ?? false }, 202);
  });
  return app;
}
