import { createHash, timingSafeEqual } from "node:crypto";
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { findChannel, selectChannelAccount } from "../../db/channels.ts";
import { isTextTooLong } from "../../domain/actions.ts";
import { ChannelStatus } from "../../domain/channels.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { MAX_TEXT_LENGTH } from "../../domain/sets.ts";
import { newVisitorId } from "../channels/webchat/visitors.ts";
import type { AppDeps } from "./env.ts";
import { webhookLimit } from "./limits.ts";
import { errors, json, jsonBody, router } from "./openapi.ts";

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
  operationId: "postWebchatMessage",
  tags: ["channels"],
  summary: "A Webchat customer's message (server to server, `X-Channel-Secret`)",
  request: {
    params: z.object({ channelId: z.string().min(1).max(200) }),
    headers: z.object({ "x-channel-secret": z.string().optional() }),
    body: jsonBody(InboundMessage),
  },
  responses: {
    202: json(z.object({ conversationId: z.string(), seq: z.number().int().nullable(), duplicate: z.boolean() }), "Accepted and committed"),
    ...errors(400, 401, 404, 409, 413, 503),
  },
});

const NewVisitor = z
  .object({
    name: z.string().trim().min(1).max(80).optional().describe("The name staff see; default `Visitor <4 characters of the id>`"),
  })
  .meta({ id: "WebchatNewVisitor" });

const Visitor = z
  .object({
    visitorId: z.string().describe("Join option of the `webchat` room"),
    token: z.string().describe("The visitor token: the `webchat` room's auth token (`client.auth.token`)"),
    expiresIn: z.number().int().describe("Seconds until the token expires (then get a new visitor)"),
    name: z.string(),
    room: z.literal("webchat"),
  })
  .meta({ id: "WebchatVisitor" });

const visitors = createRoute({
  method: "post",
  path: "/{channelId}/visitors",
  operationId: "createWebchatVisitor",
  tags: ["channels"],
  summary: "A new Webchat visitor and their token (called by the widget in the visitor's browser; no secret)",
  description:
    "Answers a visitor id and a visitor token for the `webchat` room (docs/protocol.md §7.15). When the channel's `settings.allowedOrigins` is set, " +
    "only a browser whose `Origin` is one of them (or this server's own) gets one: 403 `VIEW_NOT_ALLOWED` otherwise. A disabled or unknown channel: 404.",
  request: {
    params: z.object({ channelId: z.string().min(1).max(200) }),
    body: { content: { "application/json": { schema: NewVisitor } }, required: false },
  },
  responses: {
    201: json(Visitor, "A new visitor"),
    ...errors(400, 403, 404, 413, 503),
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
  app.openapi(visitors, async (c) => {
    const channel = await selectChannelAccount(deps.database.db, c.req.param("channelId"), "webchat");
    if (!channel || channel.status === ChannelStatus.disabled) throw new DomainError(ErrorCode.NOT_FOUND);
    const allowed = channel.settings.allowedOrigins;
    if (Array.isArray(allowed)) {
      const origin = c.req.header("origin");
      const own = new URL(deps.publicUrl()).origin;
      if (!origin || (origin !== own && !allowed.includes(origin))) throw new DomainError(ErrorCode.VIEW_NOT_ALLOWED);
    }
    // An empty body is a visitor with the default name.
    const raw = (await c.req.text()).trim();
    let body: unknown = {};
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: ["(root): not JSON"] });
      }
    }
    const parsed = NewVisitor.safeParse(body);
    if (!parsed.success)
      throw new DomainError(ErrorCode.INVALID_PAYLOAD, {
        issues: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
      });
    const visitorId = newVisitorId();
    const name = parsed.data.name ?? `Visitor ${visitorId.slice(-4)}`;
    const token = await deps.visitorTokens.sign({ visitorId, channelId: channel.id, workspaceId: channel.workspaceId, name });
    return c.json({ visitorId, token, expiresIn: deps.visitorTokens.ttl, name, room: "webchat" as const }, 201);
  });
  app.use("/:channelId/messages", webhookLimit(deps, "webchat")); // per channel account: 429 past RATE_LIMIT_WEBHOOKS
  app.openapi(inbound, async (c) => {
    const db = deps.database.db;
    const channel = await findChannel(db, c.req.param("channelId"), "webchat");
    // A disabled channel refuses its messages like any channel's webhooks.
    if (channel?.status === ChannelStatus.disabled) throw new DomainError(ErrorCode.NOT_FOUND);
    const secret = c.req.header("x-channel-secret") ?? "";
    if (!channel?.secretHash || !sameSecret(secret, channel.secretHash)) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const body = c.req.valid("json");
    if (isTextTooLong(body.text)) throw new DomainError(ErrorCode.TEXT_TOO_LONG, { max: MAX_TEXT_LENGTH }); // code points, as in rooms

    // The same intake as the providers' webhooks (stored once per messageId, then applied), answered once applied.
    const account = {
      id: channel.id,
      workspaceId: channel.workspaceId,
      type: channel.type,
      status: channel.status,
      settings: {},
      secrets: {},
    };
    const processed = await deps.intake.receiveNow(account, {
      kind: "message",
      providerEventId: body.messageId,
      channelUserId: body.customer.id,
      displayName: body.customer.name,
      parts: [{ type: "text", text: body.text }],
      sentAt: deps.now().toISOString(),
    });
    deps.metrics.webhook("webchat", processed.duplicate ? "duplicate" : "stored");
    return c.json(processed, 202);
  });
  return app;
}
