import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import {
  conversationInWorkspace,
  type DeviceRow,
  listDevices,
  loadPreferences,
  registerDevice,
  removeDevice,
  setConversationMuted,
  setMutedAll,
} from "../../db/devices.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { DeviceKind } from "../../domain/push.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

/** A base64url string that decodes to exactly `bytes` bytes. */
const b64url = (bytes: number, what: string) =>
  z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, `${what} must be base64url`)
    .refine((v) => Buffer.from(v, "base64url").length === bytes, `${what} must be ${bytes} bytes`);

const Label = z.string().trim().min(1).max(100).optional().describe("Your name for the device, shown in the list");

const WebDevice = z
  .object({
    kind: z.literal(DeviceKind.web),
    subscription: z
      .object({
        endpoint: z.string().max(2048).url(),
        expirationTime: z.number().nullable().optional(),
        keys: z.object({
          p256dh: b64url(65, "keys.p256dh").refine(
            (v) => Buffer.from(v, "base64url")[0] === 4,
            "keys.p256dh must be an uncompressed P-256 point",
          ),
          auth: b64url(16, "keys.auth"),
        }),
      })
      .describe("`PushSubscription.toJSON()` from the browser, subscribed with the VAPID public key"),
    label: Label,
  })
  .strict();
const FcmDevice = z
  .object({
    kind: z.literal(DeviceKind.fcm),
    token: z
      .string()
      .min(1)
      .max(4096)
      .regex(/^[A-Za-z0-9_:.-]+$/, "not an FCM registration token")
      .describe("The app's FCM registration token (Android, or iOS through FCM)"),
    label: Label,
  })
  .strict();
const ApnsDevice = z
  .object({
    kind: z.literal(DeviceKind.apns),
    token: z
      .string()
      .min(64)
      .max(200)
      .regex(/^[0-9A-Fa-f]+$/, "not an APNs device token (hex)")
      .describe(
        "The iOS app's APNs device token, hex (the `deviceToken` bytes of `didRegisterForRemoteNotificationsWithDeviceToken`); stored lower-case",
      ),
    label: Label,
  })
  .strict();
export const DeviceRegistration = z.discriminatedUnion("kind", [WebDevice, FcmDevice, ApnsDevice]).meta({ id: "DeviceRegistration" });

const Device = z
  .object({
    id: z.string(),
    kind: z.enum([DeviceKind.web, DeviceKind.fcm, DeviceKind.apns]),
    label: z.string().nullable(),
    createdAt: z.string().describe("ISO 8601"),
    lastPushAt: z.string().nullable().describe("ISO 8601: when a push last reached it"),
  })
  .meta({ id: "Device" });
const Preferences = z.object({ mutedAll: z.boolean(), mutedConversationIds: z.array(z.string()) }).meta({ id: "PushPreferences" });
const IdParam = z.object({ id: z.string().min(1).max(200) });
const ConversationParam = z.object({ conversationId: z.string().min(1).max(200) });

const tags = ["push"];
const own = "The caller's own devices only: another member's device is 404 NOT_FOUND.";

const list = createRoute({
  method: "get",
  path: "/",
  operationId: "listDevices",
  tags,
  summary: "The caller's push devices",
  security: bearer,
  responses: { 200: json(z.object({ items: z.array(Device) }), "Oldest first"), ...errors(401) },
});
const register = createRoute({
  method: "post",
  path: "/",
  operationId: "registerDevice",
  tags,
  summary: "Register a browser's Web Push subscription, an app's FCM token or an iOS app's APNs device token",
  description:
    "201 when new to the caller, 200 when already theirs (updated). A token another member had moves to the caller. " +
    "A kind this server has no sender for is 409 PUSH_NOT_CONFIGURED. A member keeps at most 20 devices: the oldest is forgotten.",
  security: bearer,
  request: { body: jsonBody(DeviceRegistration) },
  responses: { 200: json(Device, "Updated"), 201: json(Device, "Registered"), ...errors(400, 401, 409) },
});
const remove = createRoute({
  method: "delete",
  path: "/{id}",
  operationId: "removeDevice",
  tags,
  summary: "Remove one of the caller's devices (at sign-out)",
  description: own,
  security: bearer,
  request: { params: IdParam },
  responses: { 204: { description: "Removed" }, ...errors(401, 404) },
});
const vapidKey = createRoute({
  method: "get",
  path: "/vapid-public-key",
  operationId: "vapidPublicKey",
  tags,
  summary: "The server's VAPID public key, for `PushManager.subscribe({ applicationServerKey })`",
  description: "409 PUSH_NOT_CONFIGURED when Web Push is off.",
  security: bearer,
  responses: { 200: json(z.object({ publicKey: z.string().describe("base64url, uncompressed P-256") }), "The key"), ...errors(401, 409) },
});
const getPrefs = createRoute({
  method: "get",
  path: "/preferences",
  operationId: "getPushPreferences",
  tags,
  summary: "The caller's push preferences",
  security: bearer,
  responses: { 200: json(Preferences, "Preferences"), ...errors(401) },
});
const putPrefs = createRoute({
  method: "put",
  path: "/preferences",
  operationId: "setPushPreferences",
  tags,
  summary: "Mute or unmute every push to the caller",
  security: bearer,
  request: { body: jsonBody(z.object({ mutedAll: z.boolean() }).strict().meta({ id: "PushPreferencesChange" })) },
  responses: { 200: json(Preferences, "Preferences"), ...errors(400, 401) },
});
const mute = createRoute({
  method: "put",
  path: "/mutes/{conversationId}",
  operationId: "muteConversation",
  tags,
  summary: "Mute pushes of one conversation for the caller (idempotent)",
  description: "A conversation of another workspace, or none, is 404 NOT_FOUND.",
  security: bearer,
  request: { params: ConversationParam },
  responses: { 200: json(Preferences, "Preferences"), ...errors(401, 404) },
});
const unmute = createRoute({
  method: "delete",
  path: "/mutes/{conversationId}",
  operationId: "unmuteConversation",
  tags,
  summary: "Unmute one conversation for the caller (idempotent)",
  security: bearer,
  request: { params: ConversationParam },
  responses: { 200: json(Preferences, "Preferences"), ...errors(401, 404) },
});

function deviceJson(d: DeviceRow) {
  return { id: d.id, kind: d.kind, label: d.label, createdAt: d.createdAt.toISOString(), lastPushAt: d.lastPushAt?.toISOString() ?? null };
}

/** `/api/v2/devices` (register, list, remove, the VAPID key) and `/api/v2/push` (preferences, mutes): the caller's own. */
export function deviceRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;
  app.openapi(list, async (c) => c.json({ items: (await listDevices(db, c.get("member")!.id)).map(deviceJson) }, 200));
  app.openapi(vapidKey, (c) => {
    const key = deps.push?.vapidPublicKey;
    if (!key) throw new DomainError(ErrorCode.PUSH_NOT_CONFIGURED, { kind: DeviceKind.web });
    return c.json({ publicKey: key }, 200);
  });
  app.openapi(register, async (c) => {
    const member = c.get("member")!;
    const body = c.req.valid("json");
    if (!deps.push?.senders.has(body.kind)) throw new DomainError(ErrorCode.PUSH_NOT_CONFIGURED, { kind: body.kind });
    const fields =
      body.kind === DeviceKind.web
        ? {
            token: webEndpoint(body.subscription.endpoint, deps.push.allowHttpEndpoints),
            p256dh: body.subscription.keys.p256dh,
            auth: body.subscription.keys.auth,
          }
        : { token: body.kind === DeviceKind.apns ? body.token.toLowerCase() : body.token, p256dh: null, auth: null };
    const { device, created } = await registerDevice(db, {
      memberId: member.id,
      kind: body.kind,
      ...fields,
      label: body.label ?? null,
      now: deps.now(),
    });
    return created ? c.json(deviceJson(device), 201) : c.json(deviceJson(device), 200);
  });
  app.openapi(remove, async (c) => {
    if (!(await removeDevice(db, c.get("member")!.id, c.req.valid("param").id))) throw new DomainError(ErrorCode.NOT_FOUND);
    return c.body(null, 204);
  });
  return app;
}

/** `/api/v2/push`: the caller's preferences and muted conversations. */
export function pushPreferenceRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;
  app.openapi(getPrefs, async (c) => c.json(await loadPreferences(db, c.get("member")!.id), 200));
  app.openapi(putPrefs, async (c) => {
    const member = c.get("member")!;
    await setMutedAll(db, member.id, c.req.valid("json").mutedAll, deps.now());
    return c.json(await loadPreferences(db, member.id), 200);
  });
  const setMuted = (muted: boolean) => async (c: Parameters<Parameters<typeof app.openapi<typeof mute>>[1]>[0]) => {
    const member = c.get("member")!;
    const { conversationId } = c.req.valid("param");
    if (!(await conversationInWorkspace(db, conversationId, member.workspaceId))) throw new DomainError(ErrorCode.NOT_FOUND);
    await setConversationMuted(db, member.id, conversationId, muted, deps.now());
    return c.json(await loadPreferences(db, member.id), 200);
  };
  app.openapi(mute, setMuted(true));
  app.openapi(unmute, setMuted(false));
  return app;
}

/** A Web Push endpoint must be https:// (http:// only when `WEB_PUSH_ALLOW_HTTP`, for tests). */
function webEndpoint(endpoint: string, allowHttp: boolean): string {
  const scheme = new URL(endpoint).protocol;
  if (scheme === "https:" || (allowHttp && scheme === "http:")) return endpoint;
  throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: ["subscription.endpoint: must be an https:// URL"] });
}
