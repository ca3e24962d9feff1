import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { loadParticipants } from "../../db/conversations.ts";
import { mayOpen } from "../../domain/access.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { isParticipant } from "../../domain/model.ts";
import { View } from "../../domain/sets.ts";
import { TRIGGERED_CHANNELS, TRIGGERED_PAYLOADS, type TriggeredPayload } from "../../domain/triggered.ts";
import { callConversation } from "../roomCalls.ts";
import type { AppDeps } from "./env.ts";
import { bearer, ErrorBody, errors, json, jsonBody, router } from "./openapi.ts";

/**
 * `POST /api/v2/conversations/{id}/triggered` (R13.1; docs/protocol.md §7.17): a member sends one
 * of the triggered messages of R13.1's table that do not go out by themselves. It goes through the
 * conversation's room (rules in domain/decide.ts), appears in the timeline as an automatic message
 * with its payload, and leaves through the channel's delivery.
 */

const requestId = z.string().min(1).max(100).describe("The caller's id of this send: a retry with the same id sends once");
const channels = (k: keyof typeof TRIGGERED_PAYLOADS) => TRIGGERED_CHANNELS[k].join(", ");

const TriggeredBody = z
  .discriminatedUnion("kind", [
    z
      .strictObject({ kind: z.literal("customer_journey"), requestId, ...TRIGGERED_PAYLOADS.customer_journey.shape })
      .describe(`Omnichannel customer journey: a card with 1–3 link buttons. Channels: ${channels("customer_journey")}`),
    z
      .strictObject({ kind: z.literal("cart_remarketing"), requestId, ...TRIGGERED_PAYLOADS.cart_remarketing.shape })
      .describe(`Shopping-cart remarketing card: the cart's items and a checkout button. Channels: ${channels("cart_remarketing")}`),
    z
      .strictObject({ kind: z.literal("line_lon"), requestId, ...TRIGGERED_PAYLOADS.line_lon.shape })
      .describe(`LINE LON notification quick message: a text and an optional link. Channels: ${channels("line_lon")}`),
    z
      .strictObject({ kind: z.literal("omo_live_video"), requestId, ...TRIGGERED_PAYLOADS.omo_live_video.shape })
      .describe(`OMO Live Video: an invitation to a live video, with its link. Channels: ${channels("omo_live_video")}`),
  ])
  .meta({ id: "TriggeredMessage" });

const Sent = z
  .object({
    seq: z.number().int().nullable().describe("The message's seq in the timeline; null when this was a retry of a request id already sent"),
    duplicate: z.boolean().describe("True when the request id was already sent: nothing new was sent"),
  })
  .meta({ id: "TriggeredSent" });

const unprocessable = {
  description: "The conversation's channel does not carry this kind (TRIGGERED_NOT_SUPPORTED, R13.1's table): nothing is stored or sent",
  content: { "application/json": { schema: ErrorBody } },
};

const sendTriggered = createRoute({
  method: "post",
  path: "/{id}/triggered",
  tags: ["conversations"],
  operationId: "sendTriggeredMessage",
  summary: "Send a triggered message to the customer (R13.1)",
  description:
    "`kind` is one of customer_journey, cart_remarketing, line_lon, omo_live_video (away messages, the survey and the auto-close reminder go out by themselves). " +
    "Refused with 422 `TRIGGERED_NOT_SUPPORTED` on channels R13.1's table excludes. Who may send: a participant (follower or collaborator), or an admin, " +
    "supervisor or cs_manager (who may open any conversation); others get 403 `VIEW_NOT_ALLOWED`. A closed conversation is 409 `CONVERSATION_CLOSED` (reopen first). " +
    "The message is an automatic message in the timeline (sender `auto`, sender id the kind, `parts` holding the payload, `body` its text fallback) and is delivered like a reply.",
  security: bearer,
  request: { params: z.object({ id: z.string().min(1).max(100) }), body: jsonBody(TriggeredBody) },
  responses: {
    200: json(Sent, "Committed; delivery follows (the message's `delivery` in the room)"),
    ...errors(400, 401, 403, 404, 409),
    422: unprocessable,
  },
});

/** Mounted under `/api/v2/conversations`. */
export function triggeredRoutes(deps: AppDeps) {
  const app = router();
  app.openapi(sendTriggered, async (c) => {
    const member = c.get("member")!;
    const { id } = c.req.valid("param");
    const { requestId: rid, ...payload } = c.req.valid("json");
    const conv = await loadParticipants(deps.database.db, member.workspaceId, id);
    if (!conv) throw new DomainError(ErrorCode.NOT_FOUND);
    const view = isParticipant(conv, member.id) ? View.mine : View.team;
    if (!mayOpen(conv, member, view)) throw new DomainError(ErrorCode.VIEW_NOT_ALLOWED);
    const answer = await callConversation(id, { type: "triggered", member, view, requestId: rid, payload: payload as TriggeredPayload });
    if (!answer.ok) throw new DomainError(answer.code);
    return c.json({ seq: typeof answer.seq === "number" ? answer.seq : null, duplicate: answer.duplicate === true }, 200);
  });
  return app;
}
