import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { parseJson } from "./errors.ts";

const Login = z.object({ email: z.string().email().max(200), password: z.string().min(1).max(200) });
const Refresh = z.object({ refreshToken: z.string().min(10).max(200) });

/** `POST /auth/login`, `POST /auth/refresh`. */
export function authRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.post("/login", async (c) => {
    const body = await parseJson(c, Login);
    return c.json(await deps.auth.login(body.email, body.password));
  });
  app.post("/refresh", async (c) => {
    const body = await parseJson(c, Refresh);
    return c.json(await deps.auth.refresh(body.refreshToken));
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
