import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { z } from "zod";
import { DomainError, ERROR_CODES, ErrorCode } from "../../domain/errors.ts";
import type { AppEnv } from "./env.ts";

/**
 * Every HTTP route is declared with `createRoute` on a router from here, so the OpenAPI document
 * (`/openapi.json`) is generated from the same zod schemas that parse the requests.
 */

export const ErrorBody = z
  .object({
    code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]).describe("Stable: clients switch on it"),
    message: z.string().describe("In the caller's locale (zh-TW or en)"),
    detail: z.record(z.string(), z.unknown()).optional(),
    requestId: z
      .string()
      .describe("The request's id, as in the `X-Request-Id` answer header (the caller's own when it sent a well-formed one)"),
  })
  .meta({ id: "Error" });

/** A router whose request validation failures answer 400 INVALID_PAYLOAD like every other refusal. */
export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new DomainError(ErrorCode.INVALID_PAYLOAD, {
          issues: result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
        });
      }
    },
  });
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad input (INVALID_PAYLOAD, INVALID_CURSOR, …)",
  401: "Missing, expired or revoked token (UNAUTHENTICATED, TOKEN_EXPIRED, MEMBER_INACTIVE)",
  403: "The caller's role or view may not do this",
  404: "Not found",
  409: "Refused by a rule, or a conflict",
  413: "Text too long (TEXT_TOO_LONG), or a body over the route's size limit (PAYLOAD_TOO_LARGE: 64 KiB; 1 MiB on /api/v2/bulk/*)",
  422: "Idempotency-Key reused with a different request",
  429: "A rate limit was reached (RATE_LIMITED): retry after `Retry-After` seconds; nothing was done",
  503: "The database (STORAGE_UNAVAILABLE) or Redis / a room (SERVICE_UNAVAILABLE) is down or did not answer in time: nothing was done that is not committed; retry later",
};

const errorResponse = (status: keyof typeof STATUS_TEXT) => ({
  description: STATUS_TEXT[status] ?? "Error",
  content: { "application/json": { schema: ErrorBody } },
});

/**
 * Adds the answers every route can give because of what runs before and around it, so no route
 * has to list them: 400 (unstorable text in the path or query, `edge.ts`), 413 on routes with a
 * body (the size limit), 503 on routes that reach the database or Redis. Call it once every
 * route is registered.
 */
export function documentEdgeErrors(app: OpenAPIHono<AppEnv>): void {
  // `definitions` is a copy of the registry's list, but its entries are the registry's own: the
  // parent's route objects (made when `route()` merged each sub-router), whose `responses` we
  // replace with a new object (the `createRoute` constants they came from stay untouched).
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== "route") continue;
    const route = def.route;
    const responses = { ...route.responses };
    responses[400] ??= errorResponse(400);
    if (route.request?.body) responses[413] ??= errorResponse(413);
    if (route.path !== "/healthz") responses[503] ??= errorResponse(503);
    if (/^\/(webhooks|channels\/webchat)\//.test(route.path)) responses[429] ??= errorResponse(429); // server/http/limits.ts
    route.responses = responses;
  }
}

/** Error responses of a route, all with the one error body. */
export function errors(...statuses: (keyof typeof STATUS_TEXT)[]): NonNullable<RouteConfig["responses"]> {
  return Object.fromEntries(statuses.map((s) => [s, errorResponse(s)]));
}

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

/** The bearer requirement of member routes. */
export const bearer: RouteConfig["security"] = [{ bearerAuth: [] }];
