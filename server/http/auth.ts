import { createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { limitLogin } from "./limits.ts";
import { errors, json, jsonBody, router } from "./openapi.ts";

const Login = z.object({ email: z.string().email().max(200), password: z.string().min(1).max(200) }).meta({ id: "LoginRequest" });
const Refresh = z.object({ refreshToken: z.string().min(10).max(200) }).meta({ id: "RefreshRequest" });
const Tokens = z
  .object({
    accessToken: z.string().describe("JWT (HS256); send as `Authorization: Bearer` and as the rooms' auth token"),
    refreshToken: z.string().describe("Single use: each refresh returns a new one"),
    expiresIn: z.number().int().describe("Seconds the access token lives"),
    member: z.object({ id: z.string(), name: z.string(), role: z.string(), locale: z.string(), workspaceId: z.string() }),
  })
  .meta({ id: "Tokens" });

const login = createRoute({
  method: "post",
  path: "/login",
  operationId: "login",
  tags: ["auth"],
  summary: "Sign in with email and password",
  request: { body: jsonBody(Login) },
  responses: { 200: json(Tokens, "Signed in"), ...errors(400, 401, 429) },
});
const refresh = createRoute({
  method: "post",
  path: "/refresh",
  operationId: "refreshTokens",
  tags: ["auth"],
  summary: "Trade a refresh token for new tokens (rotation)",
  request: { body: jsonBody(Refresh) },
  responses: { 200: json(Tokens, "Refreshed"), ...errors(400, 401) },
});

/** `POST /auth/login`, `POST /auth/refresh`. */
export function authRoutes(deps: AppDeps) {
  const app = router();
  app.openapi(login, async (c) => {
    const body = c.req.valid("json");
    // Failed sign-ins are limited per account and per address (limits.ts): 429 RATE_LIMITED.
    const wrongPassword = (e: unknown) => e instanceof DomainError && e.code === ErrorCode.INVALID_CREDENTIALS;
    return c.json(await limitLogin(deps, c, body.email, () => deps.auth.login(body.email, body.password), wrongPassword), 200);
  });
  app.openapi(refresh, async (c) => {
    const body = c.req.valid("json");
    return c.json(await deps.auth.refresh(body.refreshToken), 200);
  });
  return app;
}

/** Requires `Authorization: Bearer <access token>` and puts the member on the context. */
export function requireMember(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1]) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    c.set("member", await deps.auth.verifyAccess(match[1]));
    await next();
  };
}
