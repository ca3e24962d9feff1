import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv } from "./env.ts";

/**
 * Request ids and request logs, the first thing every HTTP request passes:
 * - its id: the caller's `X-Request-Id` when well-formed (`isSafeRequestId`), else a new UUID;
 *   answered in the `X-Request-Id` header and, on every JSON error body (`{ code, message }`), as
 *   `requestId`; every log line of the request carries it (the context's `log` is a child logger);
 * - one log line when it is answered: method, path (never the query: it may hold tokens or
 *   signatures), status, duration, id, client address;
 * - the HTTP duration histogram of `/metrics`.
 */

export const REQUEST_ID_HEADER = "X-Request-Id";
/** The longest request id taken from a caller. */
export const MAX_REQUEST_ID_LENGTH = 128;
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:+=/-]+$/;
/** The longest path written to a log line. */
const MAX_LOGGED_PATH = 300;

/** True when a caller's request id may be echoed and logged as is: 1–128 characters of `A-Z a-z 0-9 . _ : + = / -`. */
export function isSafeRequestId(value: string): boolean {
  return value.length >= 1 && value.length <= MAX_REQUEST_ID_LENGTH && SAFE_REQUEST_ID.test(value);
}

/** The request's id: the caller's header when safe, else a fresh UUID. */
export function requestIdFrom(header: string | undefined | null): string {
  return header !== undefined && header !== null && isSafeRequestId(header) ? header : randomUUID();
}

/**
 * The client's address: with `trustedProxies` = n > 0, the n-th `X-Forwarded-For` entry from its
 * end (the one our nearest trusted proxy saw), else the socket's address; undefined for in-process
 * calls (`app.request`, tests), which have no socket.
 */
export function clientAddress(c: Context<AppEnv>, trustedProxies: number): string | undefined {
  const socket = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress;
  if (trustedProxies > 0) {
    const hops = (c.req.header("x-forwarded-for") ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    const entry = hops[hops.length - trustedProxies];
    if (entry && entry.length <= 100) return entry;
  }
  return socket;
}

/** The middleware; mount it before every other. */
export function requestLog(deps: Pick<AppDeps, "log" | "metrics" | "trustedProxies">): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
    const address = clientAddress(c, deps.trustedProxies);
    c.set("requestId", requestId);
    c.set("address", address);
    c.set("log", deps.log.child({ requestId }));
    // On a socket the header goes on Node's response at once (writeHead merges it): a header set on
    // the answer after the route made @hono/node-server turn its light response into a full web
    // Response, a sixth of a small request's CPU (npx tsx bench/http-floor.ts). In-process calls
    // (app.request) have no socket: the answer takes it.
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    outgoing?.setHeader(REQUEST_ID_HEADER, requestId);
    await next();
    if (!outgoing) c.header(REQUEST_ID_HEADER, requestId);
    if (c.res.status >= 400) await addRequestIdToErrorBody(c, requestId);
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.httpRequest(c.req.method, c.res.status, seconds);
    const path = c.req.path.length > MAX_LOGGED_PATH ? `${c.req.path.slice(0, MAX_LOGGED_PATH)}…` : c.req.path;
    deps.log.info(
      { requestId, method: c.req.method, path, status: c.res.status, durationMs: Math.round(seconds * 10_000) / 10, address },
      "%s %s %d",
      c.req.method,
      path,
      c.res.status,
    );
  };
}

/**
 * Every error body of the API is `{ code, message, … }` (errors.ts); whichever part answered it
 * (a route, `onError`, the body limit, not found), the id is added here, in one place.
 */
async function addRequestIdToErrorBody(c: Context<AppEnv>, requestId: string): Promise<void> {
  if (!/^application\/json/i.test(c.res.headers.get("content-type") ?? "")) return;
  let body: unknown;
  try {
    body = await c.res.clone().json();
  } catch {
    return;
  }
  if (!body || typeof body !== "object" || Array.isArray(body) || typeof (body as { code?: unknown }).code !== "string") return;
  const headers = new Headers(c.res.headers);
  headers.delete("content-length");
  c.res = new Response(JSON.stringify({ ...body, requestId }), { status: c.res.status, headers });
}
