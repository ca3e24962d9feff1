import type { IncomingMessage, ServerResponse } from "node:http";
import type { ExpressMiddleware } from "@colyseus/core";
import { monitor } from "@colyseus/monitor";
import type { Logger } from "pino";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import { Role } from "../domain/sets.ts";
import { renderError } from "../domain/texts.ts";
import type { AuthPort } from "../rooms/ports.ts";
import { requestIdFrom } from "./http/requestLog.ts";

/**
 * Colyseus's monitor panel (`@colyseus/monitor`) at `/monitor`, for admins only. It is an Express
 * middleware (Colyseus's own HTTP side, beside our Hono app), so it gets a gate of its own here:
 * - an admin's access token, as `Authorization: Bearer <token>` (scripts) or as the password of
 *   HTTP Basic auth, any user name (a browser prompts for it and sends it with the panel's calls);
 *   none or a bad one → 401 with a Basic challenge, a member who is not an admin → 403;
 * - its "call a method of a room" endpoint (`/monitor/api/room/call`) is refused (403) even to
 *   admins: it calls any room method with any arguments (a conversation room's server actions
 *   included), past every rule. Listing rooms and inspecting one stay available.
 */

export const MONITOR_PATH = "/monitor";
const ROOM_CALL = /^\/api\/room\/call(\?|$)/;

function tokenOf(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer?.[1]) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!basic?.[1]) return null;
  const decoded = Buffer.from(basic[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : null;
}

function refuse(res: ServerResponse, req: IncomingMessage, status: number, code: ErrorCode): void {
  const requestId = requestIdFrom(req.headers["x-request-id"] as string | undefined);
  const headers: Record<string, string> = { "content-type": "application/json", "x-request-id": requestId };
  if (status === 401) headers["www-authenticate"] = 'Basic realm="monitor", charset="UTF-8"';
  res.writeHead(status, headers).end(JSON.stringify({ code, message: renderError(code, "en"), requestId }));
}

/** The admin gate in front of the panel. */
export function monitorGate(auth: AuthPort, log: Logger): ExpressMiddleware {
  return (req, res, next) => {
    const token = tokenOf(req.headers.authorization);
    if (!token) return refuse(res, req, 401, ErrorCode.UNAUTHENTICATED);
    auth.verifyAccess(token).then(
      (member) => {
        if (member.role !== Role.admin) return refuse(res, req, 403, ErrorCode.ROLE_NOT_ALLOWED);
        if (ROOM_CALL.test(req.url ?? "")) return refuse(res, req, 403, ErrorCode.ROLE_NOT_ALLOWED);
        next();
      },
      (err: unknown) => {
        if (err instanceof DomainError) return refuse(res, req, 401, err.code);
        log.warn({ err }, "monitor: token not checked");
        refuse(res, req, 503, ErrorCode.SERVICE_UNAVAILABLE);
      },
    );
  };
}

/** The panel itself (mounted under `MONITOR_PATH`, after the gate). */
export function monitorPanel(): ExpressMiddleware {
  return monitor();
}
