import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ChannelType } from "../../domain/channels.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { loadActiveAccount } from "../channels/accounts.ts";
import { MetaMessagingWebhook, parseMetaMessagingWebhook } from "../channels/meta/inbound.ts";
import { withMetaProfiles } from "../channels/meta/profile.ts";
import { isMetaSignatureValid, verifyHandshake } from "../channels/meta/signature.ts";
import type { Receive } from "../channels/types.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { errorBody, localeOf } from "./errors.ts";
import { errors, json } from "./openapi.ts";
import { Ack, Params, parseJsonBody } from "./webhooks.ts";

/**
 * Messenger's and Instagram's webhooks, `/webhooks/messenger/:channelId` and
 * `/webhooks/instagram/:channelId` (mounted by `webhookRoutes`): Meta's GET verification
 * handshake, and signed POSTs whose signature (`X-Hub-Signature-256`, app secret) is checked on
 * the RAW body before it is parsed or stored.
 */

const PROVIDERS = [
  { path: "messenger", type: ChannelType.messenger, object: "page", name: "Facebook Messenger" },
  { path: "instagram", type: ChannelType.instagram, object: "instagram", name: "Instagram Messaging" },
] as const;

const HubQuery = z.object({
  "hub.mode": z.string().optional().describe("`subscribe`"),
  "hub.verify_token": z.string().optional().describe("the account's verify token"),
  "hub.challenge": z.string().optional().describe("echoed back when the token matches"),
});

/** The OpenAPI description of the two providers' GET and POST routes. */
export function documentMetaMessaging(app: OpenAPIHono<AppEnv>): void {
  for (const p of PROVIDERS) {
    app.openAPIRegistry.registerPath({
      method: "get",
      path: `/${p.path}/{channelId}`,
      operationId: `${p.path}WebhookVerify`,
      tags: ["webhooks"],
      summary: `${p.name} webhook verification (Meta's \`hub.*\` handshake)`,
      description:
        "Called by Meta when the callback URL is saved: answers `hub.challenge` as text/plain when `hub.mode` is `subscribe` and " +
        "`hub.verify_token` is the account's verify token, else 403 `UNAUTHENTICATED` (JSON error body).",
      request: { params: Params, query: HubQuery },
      responses: {
        200: { description: "The challenge, echoed", content: { "text/plain": { schema: z.string() } } },
        ...errors(403, 404),
      },
    });
    app.openAPIRegistry.registerPath({
      method: "post",
      path: `/${p.path}/{channelId}`,
      operationId: `${p.path}Webhook`,
      tags: ["webhooks"],
      summary: `${p.name} webhook (signed with the app secret: \`X-Hub-Signature-256\`)`,
      description:
        `Called by Meta with \`object: "${p.object}"\`. \`X-Hub-Signature-256\` must be \`sha256=\` + the hex HMAC-SHA256 of the raw body with the account's app secret, ` +
        "else 401 and nothing is stored. Every messaging item of every entry is read: messages are stored once per `mid`; " +
        "`delivery.mids` and Instagram's `read.mid` become delivery reports; echoes, Messenger's watermark-only `read` and other kinds are acknowledged and ignored. " +
        "200 only after the events are committed.",
      request: {
        params: Params,
        headers: z.object({
          "x-hub-signature-256": z.string().describe("sha256= + hex HMAC-SHA256 of the raw body, keyed with the app secret"),
        }),
        body: { required: true, content: { "application/json": { schema: MetaMessagingWebhook.meta({ id: "MetaMessagingWebhook" }) } } },
      },
      responses: { 200: json(Ack, "Committed (or nothing to store)"), ...errors(400, 401, 404, 413, 503) },
    });
  }
}

/** Mounts the GET and POST routes of Messenger and Instagram on the `/webhooks` router. */
export function mountMetaMessaging(app: OpenAPIHono<AppEnv>, deps: AppDeps, receive: Receive): void {
  for (const p of PROVIDERS) {
    app.get(`/${p.path}/:channelId`, async (c) => {
      const account = await loadActiveAccount(deps.database.db, c.req.param("channelId"), p.type);
      if (!account) throw new DomainError(ErrorCode.NOT_FOUND);
      const challenge = verifyHandshake(c.req.query(), account.secrets.verifyToken ?? "");
      // Meta only looks at the status; 403 is what its documentation answers a wrong token with
      // (the body is our usual error body, code UNAUTHENTICATED).
      if (challenge === null) return c.json(errorBody(ErrorCode.UNAUTHENTICATED, localeOf(c)), 403);
      return c.text(challenge, 200);
    });

    app.post(`/${p.path}/:channelId`, async (c) => {
      const account = await loadActiveAccount(deps.database.db, c.req.param("channelId"), p.type);
      if (!account) throw new DomainError(ErrorCode.NOT_FOUND);
      const raw = await c.req.text();
      if (!isMetaSignatureValid(raw, c.req.header("x-hub-signature-256"), account.secrets.appSecret ?? ""))
        throw new DomainError(ErrorCode.UNAUTHENTICATED);
      const parsed = parseMetaMessagingWebhook(parseJsonBody(raw), p.object);
      if (!parsed.ok) throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: parsed.issues });
      const { events, ignored } = parsed;
      if (events.length === 0) return c.json({ ok: true as const, stored: 0, duplicates: 0, ignored }, 200);
      const { stored, duplicates } = await receive(account, await withMetaProfiles(account, p.type, events));
      return c.json({ ok: true as const, stored, duplicates, ignored }, 200);
    });
  }
}
