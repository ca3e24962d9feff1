import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ChannelType } from "../../domain/channels.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { UNSTORABLE_TEXT_ISSUE, unstorablePaths } from "../../domain/text.ts";
import { loadActiveAccount } from "../channels/accounts.ts";
import { isLineSignatureValid, LineWebhook, parseLineWebhook, toInboundMessage } from "../channels/line/inbound.ts";
import { lineProfiles } from "../channels/line/profile.ts";
import type { Receive } from "../channels/types.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { documentMetaMessaging, mountMetaMessaging } from "./metaWebhooks.ts";
import { errors, json, router } from "./openapi.ts";

/**
 * The providers' webhooks, `/webhooks/*`: each checks its provider's signature on the RAW body
 * before anything is parsed or stored, hands the normalized events to intake (`receive`), and
 * answers 200 only once they are committed. The edge (server/http/edge.ts) has run first: the
 * 64 KiB body limit and, on a JSON content type, the storable-text check — which reads the body
 * through hono's cache as TEXT (`c.req.json()` parses the cached text), so `c.req.text()` here
 * gives the exact string the provider signed, not a re-serialization.
 */

export const Params = z.object({
  channelId: z.string().min(1).max(200).describe("The channel account's id (the webhook URL the account's API answer gives)"),
});
export const Ack = z
  .object({ ok: z.literal(true), stored: z.number().int(), duplicates: z.number().int(), ignored: z.number().int() })
  .meta({ id: "WebhookAck" });

/** The OpenAPI description of `POST /webhooks/line/{channelId}`; the handler reads the raw body itself (no validator may parse it first). */
function documentLine(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/line/{channelId}",
    tags: ["webhooks"],
    summary: "LINE Messaging API webhook (signed with the channel secret: `x-line-signature`)",
    description:
      "Called by LINE. `x-line-signature` must be the base64 HMAC-SHA256 of the raw body with the account's channel secret, " +
      "else 401 and nothing is stored. Every message event of the batch is stored once per `webhookEventId` (a re-delivery stores nothing new); " +
      "other event types are acknowledged and ignored. 200 only after the events are committed; 5xx makes LINE retry (with redelivery on).",
    request: {
      params: Params,
      headers: z.object({ "x-line-signature": z.string().describe("base64 HMAC-SHA256 of the raw body, keyed with the channel secret") }),
      body: { required: true, content: { "application/json": { schema: LineWebhook.meta({ id: "LineWebhook" }) } } },
    },
    responses: { 200: json(Ack, "Committed (or nothing to store)"), ...errors(400, 401, 404, 413, 503) },
  });
}

/** 400 INVALID_PAYLOAD when the body is not JSON or holds text that cannot be stored (whatever its content type said). */
export function parseJsonBody(raw: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: ["body: not JSON"] });
  }
  const bad = unstorablePaths(body);
  if (bad.length > 0)
    throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: bad.slice(0, 10).map((p) => `body.${p}: ${UNSTORABLE_TEXT_ISSUE}`) });
  return body;
}

/**
 * The `/webhooks` router. Events go to intake (`deps.intake.receive`, server/channels/intake.ts),
 * which commits them and returns once they are durable; `receive` replaces it (tests).
 */
export function webhookRoutes(deps: AppDeps, receive: Receive = (account, events) => deps.intake.receive(account, events)) {
  const app = router();
  documentLine(app);
  documentMetaMessaging(app);

  app.post("/line/:channelId", async (c) => {
    // Unknown, disabled or not a LINE account: 404 before the body is even read.
    const account = await loadActiveAccount(deps.database.db, c.req.param("channelId"), ChannelType.line);
    if (!account) throw new DomainError(ErrorCode.NOT_FOUND);
    const raw = await c.req.text();
    if (!isLineSignatureValid(raw, account.secrets.channelSecret, c.req.header("x-line-signature")))
      throw new DomainError(ErrorCode.UNAUTHENTICATED);

    const parsed = parseLineWebhook(parseJsonBody(raw));
    if (!parsed.ok) throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: parsed.issues });
    const { messages, ignored, redeliveries } = parsed.value;
    if (messages.length === 0) return c.json({ ok: true as const, stored: 0, duplicates: 0, ignored }, 200);

    const profiles = await lineProfiles(account, messages);
    const events = messages.map((m) => toInboundMessage(m, m.source.userId ? profiles.get(m.source.userId) : undefined));
    const { stored, duplicates } = await receive(account, events);
    if (redeliveries > 0 || duplicates > 0)
      deps.log.debug({ channelId: account.id, redeliveries, duplicates }, "LINE webhook re-delivered events");
    return c.json({ ok: true as const, stored, duplicates, ignored }, 200);
  });

  // Messenger and Instagram (server/http/metaWebhooks.ts): the hub.* handshake and signed POSTs.
  mountMetaMessaging(app, deps, receive);

  return app;
}
