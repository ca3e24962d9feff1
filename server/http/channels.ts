import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { CHANNEL_TYPES, ChannelStatus, type ChannelType } from "../../domain/channels.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { CHANNEL_SCHEMAS, createAccount, getAccount, listAccounts, setAccountStatus, updateAccount } from "../channels/accounts.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

const TypeField = z.enum(CHANNEL_TYPES as [ChannelType, ...ChannelType[]]);
const Name = z.string().trim().min(1).max(100);

const ChannelAccount = z
  .object({
    id: z.string(),
    type: TypeField,
    name: z.string(),
    status: z.enum([ChannelStatus.active, ChannelStatus.disabled]),
    settings: z.record(z.string(), z.unknown()).describe("Non-secret settings (a Meta page id, a WhatsApp phone number id)"),
    hasCredentials: z.boolean(),
    credentialKeys: z.array(z.string()).describe("Which credentials are set; their values are write-only and never answered"),
    webhookUrl: z.string().describe("Register this URL with the provider (Webchat: the server-to-server message endpoint)"),
    createdAt: z.string().describe("ISO 8601"),
    updatedAt: z.string().describe("ISO 8601"),
  })
  .meta({ id: "ChannelAccount" });

/** Settings are required where the type has required settings (Meta page id, WhatsApp phone number id). */
const NEEDS_SETTINGS: ReadonlySet<ChannelType> = new Set(["messenger", "instagram", "whatsapp"]);

const variants = CHANNEL_TYPES.map((type) => {
  const { credentials, settings } = CHANNEL_SCHEMAS[type];
  return z.object({
    type: z.literal(type),
    name: Name,
    settings: NEEDS_SETTINGS.has(type) ? settings : settings.optional(),
    credentials,
  });
});
const CreateBody = z
  .discriminatedUnion("type", variants as unknown as [(typeof variants)[number], ...(typeof variants)[number][]])
  .meta({ id: "NewChannelAccount" });

const PatchBody = z
  .object({
    name: Name.optional(),
    settings: z.record(z.string(), z.unknown()).optional().describe("Replaced whole; validated for the account's type"),
    credentials: z
      .record(z.string(), z.string())
      .optional()
      .describe("Replaced whole (every credential of the type); validated for the account's type"),
  })
  .strict()
  .meta({ id: "ChannelAccountPatch" });

const IdParam = z.object({ id: z.string().min(1).max(100) });
const tags = ["channels"];
const adminOnly = "Admin only: other roles get 403 ROLE_NOT_ALLOWED. Another workspace's account is 404 NOT_FOUND.";

const list = createRoute({
  method: "get",
  path: "/",
  operationId: "listChannelAccounts",
  tags,
  summary: "The workspace's channel accounts (admin only)",
  description: adminOnly,
  security: bearer,
  responses: { 200: json(z.object({ items: z.array(ChannelAccount) }), "Oldest first"), ...errors(401, 403) },
});
const create = createRoute({
  method: "post",
  path: "/",
  operationId: "createChannelAccount",
  tags,
  summary: "Connect a channel account (admin only)",
  description:
    `${adminOnly} Credentials per type: line {channelSecret, channelAccessToken}; messenger and instagram {appSecret, pageAccessToken, verifyToken} with settings.pageId; ` +
    "whatsapp {appSecret, accessToken, verifyToken} with settings.phoneNumberId; wechat {appId, appSecret, token, encodingAESKey?}; webchat {secret} (kept only as its SHA-256) with optional settings.allowedOrigins (the origins whose pages may embed the widget). " +
    "They are encrypted at rest and never answered. The answer's webhookUrl is what to register with the provider.",
  security: bearer,
  request: { body: jsonBody(CreateBody) },
  responses: { 201: json(ChannelAccount, "Connected, active"), ...errors(400, 401, 403) },
});
const get = createRoute({
  method: "get",
  path: "/{id}",
  operationId: "getChannelAccount",
  tags,
  summary: "One channel account (admin only)",
  description: adminOnly,
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(ChannelAccount, "The account"), ...errors(400, 401, 403, 404) },
});
const patch = createRoute({
  method: "patch",
  path: "/{id}",
  operationId: "updateChannelAccount",
  tags,
  summary: "Rename an account, replace its settings or its credentials (admin only)",
  description: `${adminOnly} Credentials are replaced whole and validated for the account's type (400 INVALID_PAYLOAD naming the fields).`,
  security: bearer,
  request: { params: IdParam, body: jsonBody(PatchBody) },
  responses: { 200: json(ChannelAccount, "Changed"), ...errors(400, 401, 403, 404) },
});
const disable = createRoute({
  method: "post",
  path: "/{id}/disable",
  operationId: "disableChannelAccount",
  tags,
  summary: "Disable an account (admin only)",
  description: `${adminOnly} Its webhooks answer 404 and its outbound messages are held (delivery \`held\`) until it is enabled again.`,
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(ChannelAccount, "Disabled"), ...errors(400, 401, 403, 404) },
});
const enable = createRoute({
  method: "post",
  path: "/{id}/enable",
  operationId: "enableChannelAccount",
  tags,
  summary: "Enable a disabled account (admin only)",
  description: `${adminOnly} Its webhooks are accepted again and its held messages go out.`,
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(ChannelAccount, "Active"), ...errors(400, 401, 403, 404) },
});

/** `/api/v2/channels`: channel account administration, admin only, in the admin's workspace. */
export function channelRoutes(deps: AppDeps) {
  const app = router();
  const svc = { db: deps.database.db, now: deps.now, publicUrl: deps.publicUrl };
  // Before the routes' own validation: a non-admin learns nothing but 403.
  app.use(async (c, next) => {
    if (c.get("member")?.role !== "admin") throw new DomainError(ErrorCode.ROLE_NOT_ALLOWED);
    await next();
  });
  const ws = (c: { get(key: "member"): { workspaceId: string } | undefined }) => c.get("member")!.workspaceId;

  app.openapi(list, async (c) => c.json({ items: await listAccounts(svc, ws(c)) }, 200));
  app.openapi(create, async (c) => c.json(await createAccount(svc, ws(c), c.req.valid("json")), 201));
  app.openapi(get, async (c) => c.json(await getAccount(svc, ws(c), c.req.valid("param").id), 200));
  app.openapi(patch, async (c) => c.json(await updateAccount(svc, ws(c), c.req.valid("param").id, c.req.valid("json")), 200));
  app.openapi(disable, async (c) => c.json(await setAccountStatus(svc, ws(c), c.req.valid("param").id, ChannelStatus.disabled), 200));
  app.openapi(enable, async (c) => c.json(await setAccountStatus(svc, ws(c), c.req.valid("param").id, ChannelStatus.active), 200));
  return app;
}
