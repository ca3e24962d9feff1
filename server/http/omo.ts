import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { loadParticipants } from "../../db/conversations.ts";
import { MAX_TEXT_LENGTH, textLength } from "../../domain/actions.ts";
import { OMO_BINDING_KINDS } from "../../domain/automatic.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { callConversation } from "../roomCalls.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

/**
 * R13.2: OMO binding success / additional messages. Sent to the customer as an automatic message
 * through the conversation's room (the same lane, commit and delivery as every message); refused
 * on a collaborative conversation with 409 `NOT_FOR_COLLABORATIVE`.
 */

const Body = z
  .object({
    kind: z.enum(OMO_BINDING_KINDS).describe("`success`: the binding succeeded; `additional`: a message that follows it"),
    text: z
      .string()
      .trim()
      .min(1)
      .max(MAX_TEXT_LENGTH * 2)
      .refine((t) => textLength(t) <= MAX_TEXT_LENGTH, { message: `at most ${MAX_TEXT_LENGTH} characters` })
      .describe(`The message to the customer, at most ${MAX_TEXT_LENGTH} characters (code points)`),
    requestId: z
      .string()
      .min(1)
      .max(100)
      .describe("The caller's id for this send: a retry with the same id is sent once (`duplicate: true`)"),
  })
  .strict()
  .meta({ id: "OmoBindingRequest" });

const Sent = z
  .object({
    requestId: z.string(),
    seq: z.number().int().nullable().describe("The message's seq in the timeline (null on a duplicate)"),
    duplicate: z.boolean(),
  })
  .meta({ id: "OmoBindingSent" });

const send = createRoute({
  method: "post",
  path: "/{id}/omo-binding",
  operationId: "sendOmoBindingMessage",
  tags: ["conversations"],
  summary: "Send an OMO binding success / additional message (R13.2)",
  description:
    'An automatic message (`sender: "auto"`, `senderId` `omo_binding_success` or `omo_binding_additional`) to the customer, delivered like a staff reply. ' +
    "The caller must be allowed to open the conversation (a participant, or admin / supervisor / cs_manager: 403 `VIEW_NOT_ALLOWED`). " +
    "Not supported for collaborative conversations (R13.2): 409 `NOT_FOR_COLLABORATIVE`, nothing sent. Any status; WhatsApp group conversations without collaborators too.",
  security: bearer,
  request: { params: z.object({ id: z.string().min(1).max(100) }), body: jsonBody(Body) },
  responses: {
    200: json(Sent, "Committed; the delivery follows (the message's `delivery`)"),
    ...errors(400, 401, 403, 404, 409),
  },
});

/** `POST /api/v2/conversations/{id}/omo-binding` (R13.2). */
export function omoRoutes(deps: AppDeps) {
  const app = router();
  app.openapi(send, async (c) => {
    const member = c.get("member")!;
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    // Another workspace's conversation is not found (no room is started for it).
    if (!(await loadParticipants(deps.database.db, member.workspaceId, id))) throw new DomainError(ErrorCode.NOT_FOUND);
    const answer = await callConversation(id, {
      type: "omo_binding",
      requestId: body.requestId,
      kind: body.kind,
      text: body.text,
      member: { id: member.id, role: member.role, locale: member.locale, status: member.status, workspaceId: member.workspaceId },
    });
    if (!answer.ok) throw new DomainError(answer.code);
    return c.json({ requestId: body.requestId, seq: answer.seq ?? null, duplicate: answer.duplicate ?? false }, 200);
  });
  return app;
}
