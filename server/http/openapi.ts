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
  413: "Text too long",
  422: "Idempotency-Key reused with a different request",
  503: "Storage unavailable",
};

/** Error responses of a route, all with the one error body. */
export function errors(...statuses: (keyof typeof STATUS_TEXT)[]): NonNullable<RouteConfig["responses"]> {
  return Object.fromEntries(statuses.map((s) => [s, { description: STATUS_TEXT[s] ?? "Error", content: { "application/json": { schema: ErrorBody } } }]));
}

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

/** The bearer requirement of member routes. */
export const bearer: RouteConfig["security"] = [{ bearerAuth: [] }];
