import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { countUnreadNotifications, listNotifications, markNotificationsRead } from "../../db/notifications.ts";
import { notificationJson } from "../notices.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  before: z.coerce.number().int().positive().optional().describe("Cursor: `nextBefore` of the previous page"),
  unread: z.enum(["true", "false"]).optional(),
});
const MarkRead = z
  .union([z.object({ ids: z.array(z.number().int().positive()).min(1).max(500) }), z.object({ all: z.literal(true) })])
  .meta({ id: "MarkNotificationsRead" });
const Notice = z
  .object({
    id: z.number().int(),
    kind: z.string(),
    conversationId: z.string().nullable(),
    actorId: z.string().nullable(),
    actorName: z.string().nullable(),
    actorRole: z.string().nullable(),
    customerName: z.string().nullable(),
    text: z.string().describe("Rendered in the caller's locale"),
    createdAt: z.string(),
    readAt: z.string().nullable(),
  })
  .meta({ id: "Notification" });

const list = createRoute({
  method: "get",
  path: "/",
  operationId: "listNotifications",
  tags: ["notifications"],
  summary: "The caller's notifications, newest first",
  security: bearer,
  request: { query: ListQuery },
  responses: {
    200: json(z.object({ items: z.array(Notice), unread: z.number().int(), nextBefore: z.number().int().nullable() }), "A page"),
    ...errors(400, 401),
  },
});
const markRead = createRoute({
  method: "post",
  path: "/read",
  operationId: "markNotificationsRead",
  tags: ["notifications"],
  summary: "Mark notifications read (some, or all)",
  security: bearer,
  request: { body: jsonBody(MarkRead) },
  responses: { 200: json(z.object({ changed: z.number().int(), unread: z.number().int() }), "Marked"), ...errors(400, 401) },
});

/** `GET /api/v2/notifications`, `POST /api/v2/notifications/read`. */
export function notificationRoutes(deps: AppDeps) {
  const app = router();
  app.openapi(list, async (c) => {
    const member = c.get("member")!;
    const q = c.req.valid("query");
    const stored = await listNotifications(deps.database.db, member.id, {
      limit: q.limit,
      beforeId: q.before,
      unreadOnly: q.unread === "true",
    });
    const items = stored.map(notificationJson);
    const unread = await countUnreadNotifications(deps.database.db, member.id);
    const last = items.at(-1);
    return c.json({ items, unread, nextBefore: items.length === q.limit && last ? last.id : null }, 200);
  });
  app.openapi(markRead, async (c) => {
    const member = c.get("member")!;
    const body = c.req.valid("json");
    const changed = await markNotificationsRead(deps.database.db, member.id, "all" in body ? "all" : body.ids, deps.now());
    const unread = await countUnreadNotifications(deps.database.db, member.id);
    deps.publishInbox(member.id, { type: "read", unread });
    return c.json({ changed, unread }, 200);
  });
  return app;
}
