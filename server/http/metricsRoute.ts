import { createHash, timingSafeEqual } from "node:crypto";
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import type { AppDeps } from "./env.ts";
import { errors, router } from "./openapi.ts";

const metrics = createRoute({
  method: "get",
  path: "/metrics",
  operationId: "getMetrics",
  tags: ["health"],
  summary: "Prometheus metrics (text exposition format), for the `METRICS_TOKEN` bearer",
  description:
    "Send `Authorization: Bearer <METRICS_TOKEN>`. A missing or wrong token is 401 `UNAUTHENTICATED`; when `METRICS_TOKEN` is not set " +
    "the route is not exposed: 404 `NOT_FOUND`. The metrics are listed in docs/protocol.md §10.",
  security: [{ metricsToken: [] }],
  responses: {
    200: { description: "The metrics", content: { "text/plain": { schema: z.string() } } },
    ...errors(401, 404),
  },
});

/** Equal-time comparison of two tokens (hashed first, so their lengths leak nothing either). */
function sameToken(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** `GET /metrics`. */
export function metricsRoutes(deps: AppDeps) {
  const app = router();
  app.openAPIRegistry.registerComponent("securitySchemes", "metricsToken", {
    type: "http",
    scheme: "bearer",
    description: "METRICS_TOKEN",
  });
  app.openapi(metrics, async (c) => {
    if (!deps.metricsToken) throw new DomainError(ErrorCode.NOT_FOUND);
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    if (!match?.[1] || !sameToken(match[1], deps.metricsToken)) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    return c.text(await deps.metrics.render(), 200, { "content-type": deps.metrics.contentType });
  });
  return app;
}
