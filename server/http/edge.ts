import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { isStorableText, UNSTORABLE_TEXT_ISSUE, unstorablePaths } from "../../domain/text.ts";
import type { AppEnv } from "./env.ts";
import { errorBody, localeOf } from "./errors.ts";

/**
 * What every HTTP request passes before a route sees it: a size limit on its body, and the
 * storable-text check on its JSON body, query string and path (ids in paths included).
 */

/** The body limit of every route but the bulk ones. Webchat's 4,000-character text fits many times. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** The bulk routes' limit: 10,000 conversation ids of up to 100 ASCII characters fit. */
export const BULK_BODY_LIMIT = 1024 * 1024;
/** Paths whose body may be as large as `BULK_BODY_LIMIT`. */
const BULK_PATH = /^\/api\/v2\/bulk\//;

/** The body limit of the route at `path`. */
export function bodyLimitOf(path: string): number {
  return BULK_PATH.test(path) ? BULK_BODY_LIMIT : DEFAULT_BODY_LIMIT;
}

/** The 413 answer for a body over `maxSize`. */
function tooLarge(c: Context<AppEnv>, maxSize: number): Response {
  return c.json(errorBody(ErrorCode.PAYLOAD_TOO_LARGE, localeOf(c as never), { detail: { maxBytes: maxSize } }), 413);
}

function limited(maxSize: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({ maxSize, onError: (c) => tooLarge(c as Context<AppEnv>, maxSize) }) as MiddlewareHandler<AppEnv>;
}

const small = limited(DEFAULT_BODY_LIMIT);
const large = limited(BULK_BODY_LIMIT);

/**
 * 413 PAYLOAD_TOO_LARGE for a body over the route's limit: at once from `Content-Length`, or, for
 * a body sent without one, as soon as the bytes read pass the limit. The body is never read whole.
 */
export const limitBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  // What needs no look at the body stream: no body (GET, HEAD) or a Content-Length to compare. Asking
  // for the stream (as hono's bodyLimit does first) makes @hono/node-server build a full web
  // Request with its AbortSignal and ReadableStream for every request — a third of a trivial
  // request's CPU (npx tsx bench/http-floor.ts); the body itself is read the fast way by the route.
  if (!hasBody(c)) return next();
  const maxSize = bodyLimitOf(c.req.path);
  const length = c.req.header("content-length");
  if (length !== undefined && c.req.header("transfer-encoding") === undefined && /^\d+$/.test(length)) {
    return Number(length) <= maxSize ? next() : tooLarge(c, maxSize);
  }
  return (maxSize === BULK_BODY_LIMIT ? large : small)(c, next); // streamed: counted as it is read
};

/**
 * Whether a request carries a body (RFC 9112 §6.3): a Transfer-Encoding, or a Content-Length
 * other than 0 — for a GET or HEAD without either, none; for other methods, possibly one.
 */
function hasBody(c: Context<AppEnv>): boolean {
  if (c.req.header("transfer-encoding") !== undefined) return true;
  const length = c.req.header("content-length");
  if (length === undefined) return c.req.method !== "GET" && c.req.method !== "HEAD";
  return length !== "0";
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed escapes stay as they are, as the router leaves them
  }
}

const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json/i;

/**
 * 400 INVALID_PAYLOAD when a path segment, a query key or value, or any string (or key) of a
 * JSON body cannot be stored (NUL, lone surrogates: `domain/text.ts`). One place for every route.
 * A body that is not JSON is left to the route, which refuses it with its own issue.
 */
export const storableTextOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  const issues: string[] = [];
  const url = new URL(c.req.url);
  for (const segment of url.pathname.split("/")) {
    if (!isStorableText(decodeSegment(segment))) issues.push(`path: ${UNSTORABLE_TEXT_ISSUE}`);
  }
  for (const [key, value] of url.searchParams) {
    if (!isStorableText(key) || !isStorableText(value))
      issues.push(`query.${isStorableText(key) ? key : "(key)"}: ${UNSTORABLE_TEXT_ISSUE}`);
  }
  if (hasBody(c) && JSON_TYPE.test(c.req.header("content-type") ?? "")) {
    let body: unknown;
    let parsed = true;
    try {
      body = await c.req.json(); // cached: the route's validator reads the same body
    } catch {
      parsed = false;
    }
    if (parsed) for (const path of unstorablePaths(body)) issues.push(`body.${path}: ${UNSTORABLE_TEXT_ISSUE}`);
  }
  if (issues.length > 0) throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: issues.slice(0, 10) });
  await next();
};
