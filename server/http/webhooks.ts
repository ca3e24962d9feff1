import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ChannelType } from "../../domain/channels.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { UNSTORABLE_TEXT_ISSUE, unstorablePaths } from "../../domain/text.ts";
import { loadActiveAccount } from "../channels/accounts.ts";
import { isLineSignatureValid, LineWebhook, parseLineWebhook, toInboundMessage } from "../channels/line/inbound.ts";
import { lineProfiles } from "../channels/line/profile.ts";
import { isMetaSignatureValid, verifyHandshake } from "../channels/meta/signature.ts";
import type { Receive } from "../channels/types.ts";
import { wechatMessageXml } from "../channels/wechat/crypto.ts";
import { parseWechatXml, toInboundMessage as wechatInbound } from "../channels/wechat/inbound.ts";
import { isWechatSignatureValid, isWechatTimestampFresh } from "../channels/wechat/signature.ts";
import { parseWhatsAppWebhook, WhatsAppWebhook } from "../channels/whatsapp/inbound.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { errorBody, localeOf } from "./errors.ts";
import { webhookLimit } from "./limits.ts";
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
    operationId: "lineWebhook",
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

const WechatQuery = z.object({
  signature: z.string().describe("hex SHA-1 of the account's token, timestamp and nonce, sorted and joined"),
  timestamp: z.string(),
  nonce: z.string(),
});

/** The OpenAPI description of the WeChat Official Account webhook (`GET` echostr handshake, `POST` XML messages). */
function documentWechat(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/wechat/{channelId}",
    operationId: "wechatWebhookVerify",
    tags: ["webhooks"],
    summary: "WeChat Official Account server verification (the `echostr` handshake)",
    description: "Called by WeChat when the server URL is saved: answers `echostr` as text when `signature` matches, else 401.",
    request: { params: Params, query: WechatQuery.extend({ echostr: z.string() }) },
    responses: { 200: { description: "The echostr, echoed", content: { "text/plain": { schema: z.string() } } }, ...errors(401, 404) },
  });
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/wechat/{channelId}",
    operationId: "wechatWebhook",
    tags: ["webhooks"],
    summary: "WeChat Official Account messages (XML in plaintext or safe mode, signed by `signature` in the query)",
    description:
      "Called by WeChat. The query's `signature` is checked before the body is read (401 and nothing stored when wrong). " +
      "A message (text, image, voice, video, shortvideo, location, link) is stored once per `MsgId`; events are acknowledged and ignored. " +
      "Answers the text `success` only after the message is committed. Safe mode (`encrypt_type=aes`, also compatibility mode): the body's `<Encrypt>` is checked against `msg_signature` " +
      "(SHA-1 of the sorted token, timestamp, nonce and Encrypt) and decrypted with the account's `encodingAESKey` (AES-256-CBC); a bad `msg_signature` or a text that does not decrypt to this AppID is 401, an account without `encodingAESKey` 400.",
    request: {
      params: Params,
      query: WechatQuery.extend({
        openid: z.string().optional(),
        encrypt_type: z.string().optional(),
        msg_signature: z.string().optional(),
      }),
      body: { required: true, content: { "text/xml": { schema: z.string().describe("WeChat's <xml> message") } } },
    },
    responses: {
      200: { description: '`success` (WeChat\'s "no reply")', content: { "text/plain": { schema: z.string() } } },
      ...errors(400, 401, 404, 413, 503),
    },
  });
}

/** The OpenAPI description of the WhatsApp Cloud API webhook (`GET` handshake, `POST` events). */
function documentWhatsApp(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/whatsapp/{channelId}",
    operationId: "whatsappWebhookVerify",
    tags: ["webhooks"],
    summary: "WhatsApp Cloud API webhook verification (Meta's `hub.*` handshake)",
    description:
      "Called by Meta when the webhook URL is registered: answers `hub.challenge` as text when `hub.mode` is `subscribe` and " +
      "`hub.verify_token` is the account's verify token, else 403 (code `UNAUTHENTICATED`).",
    request: {
      params: Params,
      query: z.object({
        "hub.mode": z.string().optional(),
        "hub.verify_token": z.string().optional(),
        "hub.challenge": z.string().optional(),
      }),
    },
    responses: {
      200: { description: "The challenge, echoed", content: { "text/plain": { schema: z.string() } } },
      ...errors(403, 404),
    },
  });
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/whatsapp/{channelId}",
    operationId: "whatsappWebhook",
    tags: ["webhooks"],
    summary: "WhatsApp Cloud API webhook (signed with the app secret: `X-Hub-Signature-256`)",
    description:
      "Called by Meta. `X-Hub-Signature-256` must be `sha256=` + the hex HMAC-SHA256 of the raw body with the account's app secret, " +
      "else 401 and nothing is stored. Every message (stored once per `wamid`) and every delivered / read / failed status " +
      "(once per `wamid:status`) of every change of every entry is committed before the 200; other fields and kinds are acknowledged and ignored.",
    request: {
      params: Params,
      headers: z.object({
        "x-hub-signature-256": z.string().describe("sha256= + hex HMAC-SHA256 of the raw body, keyed with the app secret"),
      }),
      body: { required: true, content: { "application/json": { schema: WhatsAppWebhook.meta({ id: "WhatsAppWebhook" }) } } },
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
  app.use("/:provider/:channelId", webhookLimit(deps)); // per channel account: 429 past RATE_LIMIT_WEBHOOKS
  documentLine(app);
  documentWhatsApp(app);
  documentMetaMessaging(app);
  documentWechat(app);

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

  // WhatsApp Cloud API: Meta's GET handshake, then signed POSTs of messages and statuses.
  app.get("/whatsapp/:channelId", async (c) => {
    const account = await loadActiveAccount(deps.database.db, c.req.param("channelId"), ChannelType.whatsapp);
    if (!account) throw new DomainError(ErrorCode.NOT_FOUND);
    const challenge = verifyHandshake(c.req.query(), account.secrets.verifyToken ?? "");
    // Meta looks only at the status: 403 as its documentation answers a wrong token (as for Messenger),
    // with our usual error body.
    if (challenge === null) return c.json(errorBody(ErrorCode.UNAUTHENTICATED, localeOf(c)), 403);
    return c.text(challenge, 200);
  });

  app.post("/whatsapp/:channelId", async (c) => {
    const account = await loadActiveAccount(deps.database.db, c.req.param("channelId"), ChannelType.whatsapp);
    if (!account) throw new DomainError(ErrorCode.NOT_FOUND);
    const raw = await c.req.text();
    if (!isMetaSignatureValid(raw, c.req.header("x-hub-signature-256"), account.secrets.appSecret ?? ""))
      throw new DomainError(ErrorCode.UNAUTHENTICATED);

    const parsed = parseWhatsAppWebhook(parseJsonBody(raw));
    if (!parsed.ok) throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: parsed.issues });
    const { messages, statuses, ignored } = parsed.value;
    const events = [...messages, ...statuses];
    if (events.length === 0) return c.json({ ok: true as const, stored: 0, duplicates: 0, ignored }, 200);
    const { stored, duplicates } = await receive(account, events);
    return c.json({ ok: true as const, stored, duplicates, ignored }, 200);
  });

  // WeChat Official Account (plaintext mode): the echostr handshake, then signed XML messages.
  app.get("/wechat/:channelId", async (c) => {
    const account = await loadActiveAccount(deps.database.db, c.req.param("channelId"), ChannelType.wechat);
    if (!account) throw new DomainError(ErrorCode.NOT_FOUND);
    const q = c.req.query();
    if (!isWechatSignatureValid(account.secrets.token, q) || q.echostr === undefined) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    return c.text(q.echostr, 200);
  });

  app.post("/wechat/:channelId", async (c) => {
    const account = await loadActiveAccount(deps.database.db, c.req.param("channelId"), ChannelType.wechat);
    if (!account) throw new DomainError(ErrorCode.NOT_FOUND);
    const q = c.req.query();
    // WeChat signs the query (token, timestamp, nonce), not the body: checked before the body is read.
    if (!isWechatSignatureValid(account.secrets.token, q)) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    // The signature does not cover the body: an old signed query is refused rather than replayed.
    if (!isWechatTimestampFresh(q.timestamp, deps.now())) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const parsed = parseWechatXml(await wechatMessageXml(account, q, await c.req.text()));
    if (!parsed.ok) throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: parsed.issues });
    if ("message" in parsed) await receive(account, [wechatInbound(parsed.message)]);
    // WeChat's documented "no reply" answer; anything else is shown to the customer as an error.
    return c.text("success", 200);
  });

  // Messenger and Instagram (server/http/metaWebhooks.ts): the hub.* handshake and signed POSTs.
  mountMetaMessaging(app, deps, receive);

  return app;
}
