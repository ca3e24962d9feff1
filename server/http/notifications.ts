import { Hono } from "hono";
import { z } from "zod";
import { countUnreadNotifications, listNotifications, markNotificationsRead } from "../../db/notifications.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { parseJson, parseWith } from "./errors.ts";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  before: z.coerce.number().int().positive().optional(),
  unread: z.enum(["true", "false"]).optional(),
});
const MarkRead = z.union([z.object({ ids: z.array(z.number().int().positive()).min(1).max(500) }), z.object({ all: z.literal(true) })]);

/** `GET /api/v2/notifications`, `POST /api/v2/notifications/read`. */
export function notificationRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const member = c.get("member")!;
    const q = parseWith(ListQuery, c.req.query());
    const items = await listNotifications(deps.database.db, member.id, { limit: q.limit, beforeId: q.before, unreadOnly: q.unread === "true" });
    const unread = await countUnreadNotifications(deps.database.db, member.id);
    const last = items.at(-1);
    return c.json({ items, unread, nextBefore: items.length === q.limit && last ? last.id : null });
  });
  app.post("/read", async (c) => {
    const member = c.get("member")!;
    const body = await parseJson(c, MarkRead);
    const changed = await markNotificationsRead(deps.database.db, member.id, "all" in body ? "all" : body.ids, deps.now());
    const unread = await countUnreadNotifications(deps.database.db, member.id);
    deps.publishInbox(member.id, { type: "read", unread });
    return c.json({ changed, unread });
  });
  return app;
}
