import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { isStorageUnavailable } from "../../db/errors.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import type { Locale } from "../../domain/sets.ts";
import { renderError } from "../../domain/texts.ts";
import { ServiceTimeout } from "../serviceDeadline.ts";
import type { AppEnv } from "./env.ts";

/** One mapping from domain codes to HTTP statuses; any rule refusal not listed is 409. */
const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  INVALID_PAYLOAD: 400,
  UNKNOWN_ACTION: 400,
  TEXT_TOO_LONG: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  INVALID_CREDENTIALS: 401,
  MEMBER_INACTIVE: 403,
  VIEW_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  INVALID_CURSOR: 400,
  ROLE_NOT_ALLOWED: 403,
  IDEMPOTENCY_KEY_REUSED: 422,
  TRIGGERED_NOT_SUPPORTED: 422,
  SURVEY_EXPIRED: 410,
  VERSION_CONFLICT: 409,
  RATE_LIMITED: 429,
  STORAGE_UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
};

export function statusOf(code: ErrorCode): ContentfulStatusCode {
  return STATUS[code] ?? 409;
}

export function localeOf(c: Context<AppEnv>): Locale {
  const member = c.get("member");
  if (member) return member.locale;
  return (c.req.header("accept-language") ?? "").toLowerCase().startsWith("zh") ? "zh-TW" : "en";
}

/**
 * A rate limit refused the request (server/rateLimit.ts): 429 `RATE_LIMITED`, with `Retry-After`
 * (whole seconds) and `detail.retryAfterSeconds`.
 */
export class RateLimited extends DomainError {
  constructor(
    readonly limit: string,
    readonly retryAfterMs: number,
  ) {
    super(ErrorCode.RATE_LIMITED, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
  }

  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}

/**
 * The one error body: `{ code, message, detail? }`. Every HTTP error answer also carries the
 * request's id as `requestId`, added by the request middleware (requestLog.ts) whichever part
 * answered, so it is not passed here.
 */
export function errorBody(code: ErrorCode, locale: Locale, extra?: Record<string, unknown>) {
  return { code, message: renderError(code, locale), ...extra };
}

/**
 * The one mapping from a thrown error to an HTTP answer, always `{ code, message }` (+ `requestId`):
 * - a domain refusal: its code and status;
 * - the database unreachable, slow or shutting down (`isStorageUnavailable`): 503 STORAGE_UNAVAILABLE;
 * - Redis, the presence or a room not answering in time: 503 SERVICE_UNAVAILABLE;
 * - anything else: 500 INTERNAL, logged (no SQL or stack text reaches the client).
 */
export function onError(err: Error, c: Context<AppEnv>) {
  const log = c.get("log");
  if (err instanceof DomainError) {
    if (err instanceof RateLimited) c.header("Retry-After", String(err.retryAfterSeconds));
    if (statusOf(err.code) >= 500)
      log?.warn({ err, cause: (err as { cause?: unknown }).cause, path: c.req.path }, "HTTP request answered %s", err.code);
    return c.json(errorBody(err.code, localeOf(c), err.detail ? { detail: err.detail } : undefined), statusOf(err.code));
  }
  if (isStorageUnavailable(err)) {
    log?.warn({ err, path: c.req.path }, "storage unavailable");
    return c.json(errorBody(ErrorCode.STORAGE_UNAVAILABLE, localeOf(c)), 503);
  }
  if (err instanceof ServiceTimeout) {
    log?.warn({ err, path: c.req.path }, "service unavailable");
    return c.json(errorBody(ErrorCode.SERVICE_UNAVAILABLE, localeOf(c)), 503);
  }
  if (err instanceof HTTPException && err.status === 413) {
    return c.json(errorBody(ErrorCode.PAYLOAD_TOO_LARGE, localeOf(c)), 413);
  }
  if (err instanceof HTTPException && err.status < 500) {
    const code = err.status === 401 ? ErrorCode.UNAUTHENTICATED : err.status === 404 ? ErrorCode.NOT_FOUND : ErrorCode.INVALID_PAYLOAD;
    return c.json(errorBody(code, localeOf(c)), statusOf(code));
  }
  log?.error({ err, path: c.req.path }, "unhandled HTTP error");
  return c.json(errorBody(ErrorCode.INTERNAL, localeOf(c)), 500);
}

/** Parses a JSON body with a zod schema; a bad body is INVALID_PAYLOAD with the issues listed. */
export async function parseJson<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<z.infer<T>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: ["body must be JSON"] });
  }
  return parseWith(schema, raw);
}

export function parseWith<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    throw new DomainError(ErrorCode.INVALID_PAYLOAD, {
      issues: r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    });
  }
  return r.data;
}
