import type { Presence } from "@colyseus/core";
import { RedisPresence } from "@colyseus/redis-presence";
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { ping } from "../../db/client.ts";
import { ErrorCode } from "../../domain/errors.ts";
import { boundedPresence, withServiceDeadline } from "../serviceDeadline.ts";
import { authRoutes, requireMember } from "./auth.ts";
import { bulkRoutes } from "./bulk.ts";
import { candidateRoutes } from "./candidates.ts";
import { channelRoutes } from "./channels.ts";
import { mountConsole } from "./console.ts";
import { conversationRoutes } from "./conversations.ts";
import { deviceRoutes, pushPreferenceRoutes } from "./devices.ts";
import { mountDocs } from "./docs.ts";
import { limitBody, storableTextOnly } from "./edge.ts";
import type { AppDeps } from "./env.ts";
import { errorBody, localeOf, onError } from "./errors.ts";
import { legacyRoutes } from "./legacy.ts";
import { memberRoutes } from "./members.ts";
import { metricsRoutes } from "./metricsRoute.ts";
import { notificationRoutes } from "./notifications.ts";
import { omoRoutes } from "./omo.ts";
import { bearer, documentEdgeErrors, errors, json, router } from "./openapi.ts";
import { requestLog } from "./requestLog.ts";
import { mountSurveyPage, surveyRoutes } from "./surveys.ts";
import { triggeredRoutes } from "./triggered.ts";
import { webchatRoutes } from "./webchat.ts";
import { webhookRoutes } from "./webhooks.ts";
import { mountWidget } from "./widget.ts";
import { workspaceRoutes } from "./workspace.ts";

const Me = z
  .object({ id: z.string(), name: z.string(), email: z.string(), role: z.string(), locale: z.string(), workspaceId: z.string() })
  .meta({ id: "Me" });

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  operationId: "healthz",
  tags: ["health"],
  summary: "The process is up",
  responses: { 200: json(z.object({ ok: z.boolean() }), "Up") },
});
/** `/readyz`'s own deadline for the database's and Redis's answers (both asked at once). */
const READY_DEADLINE_MS = 2000;
const Check = z.enum(["up", "down"]);
const Readiness = z
  .object({
    ok: z.boolean(),
    database: z.string().describe("`postgres` or `pglite`: which database the process uses"),
    checks: z
      .object({
        database: Check.describe("the database answered a query on our schema (migrations applied)"),
        redis: Check.optional().describe("present when `REDIS_URL` is set: Redis answered"),
      })
      .describe("each dependency checked, `down` when it failed or did not answer in time"),
  })
  .meta({ id: "Readiness" });
const readyz = createRoute({
  method: "get",
  path: "/readyz",
  operationId: "readyz",
  tags: ["health"],
  summary: "The database (and Redis, when configured) answer",
  description:
    `200 when PostgreSQL (or PGlite) answers a query on the migrated schema and, when \`REDIS_URL\` is set, Redis answers; ` +
    `otherwise 503, \`checks\` naming what is down. Answers within ${READY_DEADLINE_MS / 1000} s: a dependency that has not answered by then is down.`,
  responses: {
    200: json(Readiness, "Ready"),
    503: json(Readiness, "Not ready: see `checks`"),
  },
});

/** True when Redis answers within the deadline (the presence's connection: what rooms and routes use). */
async function redisAnswers(presence: Presence): Promise<boolean> {
  try {
    await withServiceDeadline(presence.exists("readyz"), "readyz redis", READY_DEADLINE_MS);
    return true;
  } catch {
    return false;
  }
}

const me = createRoute({
  method: "get",
  path: "/me",
  operationId: "getMe",
  tags: ["members"],
  summary: "The signed-in member",
  security: bearer,
  responses: { 200: json(Me, "The caller"), ...errors(401) },
});

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Collaborative inbox API",
    version: "2.0.0",
    description:
      "HTTP half of the contract; the rooms are described in docs/protocol.md. Errors are `{ code, message, requestId }`; every answer has an `X-Request-Id` header (the caller's own when well-formed). " +
      "Request bodies are limited to 64 KiB (1 MiB on `/api/v2/bulk/*`): a larger one is refused with 413 `PAYLOAD_TOO_LARGE` before it is read. " +
      "Text that cannot be stored (NUL, lone surrogates) anywhere in the path, query or body is 400 `INVALID_PAYLOAD`. " +
      "When the database or Redis is down or too slow the answer is 503 `STORAGE_UNAVAILABLE` or `SERVICE_UNAVAILABLE` (retry later), " +
      "within the database timeout (`DB_STATEMENT_TIMEOUT_MS`, default 5 s, plus 1 s) per statement; never a wait without end.",
  },
} as const;

/**
 * The HTTP API. Colyseus serves `/matchmake/*` itself; everything else comes here.
 * Routes reach the presence through a bounded wrapper: a Redis outage answers 503, never hangs.
 */
export function createHttpApp(given: AppDeps) {
  const deps: AppDeps = { ...given, presence: boundedPresence(given.presence) };
  const app = router();
  app.use(requestLog(deps)); // request id, request log line, HTTP metrics: first, around everything
  app.use(limitBody);
  app.use(storableTextOnly);
  app.onError(onError);
  app.notFound((c) => c.json(errorBody(ErrorCode.NOT_FOUND, localeOf(c)), 404));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });

  app.openapi(healthz, (c) => c.json({ ok: true }, 200));
  // Redis is checked only when it is configured (the presence is Redis's); the raw presence, under
  // /readyz's own deadline rather than the routes' longer one.
  const redis = given.presence instanceof RedisPresence ? given.presence : null;
  app.openapi(readyz, async (c) => {
    const [databaseUp, redisUp] = await Promise.all([
      deps.database.migrated ? ping(deps.database.db, READY_DEADLINE_MS) : Promise.resolve(false),
      redis ? redisAnswers(redis) : Promise.resolve(null),
    ]);
    const ok = databaseUp && redisUp !== false;
    const state = (up: boolean) => (up ? ("up" as const) : ("down" as const));
    const checks = { database: state(databaseUp), ...(redisUp === null ? {} : { redis: state(redisUp) }) };
    return c.json({ ok, database: deps.database.kind, checks }, ok ? 200 : 503);
  });

  app.route("/auth", authRoutes(deps));
  app.route("/channels/webchat", webchatRoutes(deps));
  app.route(
    "/webhooks",
    webhookRoutes(
      deps,
      deps.metrics.meterReceive((account, events) => deps.intake.receive(account, events)),
    ),
  );
  app.route("/", metricsRoutes(deps));
  app.route("/", surveyRoutes(deps));

  const api = router();
  api.use(requireMember(deps));
  api.openapi(me, (c) => {
    const m = c.get("member")!;
    return c.json({ id: m.id, name: m.name, email: m.email, role: m.role, locale: m.locale, workspaceId: m.workspaceId }, 200);
  });
  api.route("/notifications", notificationRoutes(deps));
  api.route("/conversations", conversationRoutes(deps));
  api.route("/conversations", candidateRoutes(deps));
  api.route("/conversations", omoRoutes(deps));
  api.route("/conversations", triggeredRoutes(deps));
  api.route("/members", memberRoutes(deps));
  api.route("/channels", channelRoutes(deps));
  api.route("/workspace", workspaceRoutes(deps));
  api.route("/", bulkRoutes(deps));
  api.route("/devices", deviceRoutes(deps));
  api.route("/push", pushPreferenceRoutes(deps));
  app.route("/api/v2", api);

  const v1 = router();
  v1.use(requireMember(deps));
  v1.route("/", legacyRoutes(deps));
  app.route("/api/v1", v1);

  documentEdgeErrors(app);
  app.doc31("/openapi.json", OPENAPI_INFO);
  mountDocs(app);
  mountWidget(app, deps);
  mountSurveyPage(app);
  mountConsole(app); // last: the web console at `/`, for paths no route above took
  return app;
}
