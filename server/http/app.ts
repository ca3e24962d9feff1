import { Hono } from "hono";
import { ping } from "../../db/client.ts";
import { authRoutes, requireMember } from "./auth.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { errorBody, localeOf, onError } from "./errors.ts";
import { notificationRoutes } from "./notifications.ts";
import { webchatRoutes } from "./webchat.ts";
import { ErrorCode } from "../../domain/errors.ts";

/** The HTTP API. Colyseus serves `/matchmake/*` itself; everything else comes here. */
export function createHttpApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("log", deps.log);
    await next();
  });
  app.onError(onError);
  app.notFound((c) => c.json(errorBody(ErrorCode.NOT_FOUND, localeOf(c)), 404));

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", async (c) => {
    const ready = deps.database.migrated && (await ping(deps.database.db));
    return c.json({ ok: ready, database: deps.database.kind }, ready ? 200 : 503);
  });

  app.route("/auth", authRoutes(deps));
  app.route("/channels/webchat", webchatRoutes(deps));

  const api = new Hono<AppEnv>();
  api.use(requireMember(deps));
  api.get("/me", (c) => {
    const m = c.get("member")!;
    return c.json({ id: m.id, name: m.name, email: m.email, role: m.role, locale: m.locale, workspaceId: m.workspaceId });
  });
  api.route("/notifications", notificationRoutes(deps));
  app.route("/api/v2", api);
  return app;
}
