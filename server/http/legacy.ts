import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Db } from "../../db/client.ts";
import { type LegacyRow, listLegacyConversations, loadLegacyConversation } from "../../db/legacy.ts";
import { loadMembers, loadMessages, type MemberRow } from "../../db/repository.ts";
import { isTextTooLong } from "../../domain/actions.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { legacyScope, openLegacy } from "../../domain/legacy.ts";
import { CHANNELS, type Channel, MAX_TEXT_LENGTH, STATUSES, type Status, type View } from "../../domain/sets.ts";
import { idsOfMessage, messageJson } from "../../rooms/render.ts";
import { callConversation } from "../roomCalls.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

/**
 * The legacy `/api/v1` conversation interface (SPEC §15): the old product's API, for clients that
 * know nothing of collaboration. Its lists never show a collaborative conversation (R15.1); opening
 * or replying to one answers 409 LEGACY_COLLABORATIVE (R15.2). Replies go through the room like
 * every other writer.
 */

const TAG = "legacy v1";

const ConversationId = z.string().min(1).max(100);

const LegacyConversation = z
  .object({
    id: z.string(),
    status: z.enum(STATUSES as [Status, ...Status[]]),
    channel: z.enum(CHANNELS as [Channel, ...Channel[]]),
    customer: z.object({ id: z.string(), name: z.string() }),
    assigneeId: z.string().nullable().describe("The follower; null while pending"),
    lastMessageAt: z.string().describe("ISO 8601"),
    lastMessagePreview: z.string().nullable(),
  })
  .meta({ id: "LegacyConversation" });

const LegacyMessage = z
  .object({
    seq: z.number().int(),
    sender: z.enum(["customer", "staff", "system"]),
    text: z.string().describe("The message body; for system messages the text in the caller's locale"),
    createdAt: z.string().describe("ISO 8601"),
  })
  .meta({ id: "LegacyMessage" });

const ListQuery = z.object({
  status: z
    .enum(STATUSES as [Status, ...Status[]])
    .optional()
    .describe("Omitted: every status"),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const Reply = z
  .object({
    text: z.string().trim().min(1).describe(`1 to ${MAX_TEXT_LENGTH} characters after trimming; longer: 413 TEXT_TOO_LONG`),
    requestId: z.string().min(1).max(100).describe("Client-chosen: a retry with the same id applies once"),
  })
  .meta({ id: "LegacyReply" });

const list = createRoute({
  method: "get",
  path: "/conversations",
  operationId: "legacyListConversations",
  tags: [TAG],
  summary: "The caller's conversations, without any collaborative one (R15.1)",
  description:
    "Followed by the caller; for TEAM_VIEWERS (admin, supervisor, cs_manager) every conversation of the workspace. " +
    "Collaborative conversations never appear. Newest message first.",
  security: bearer,
  request: { query: ListQuery },
  responses: {
    200: json(z.object({ conversations: z.array(LegacyConversation), total: z.number().int() }), "A page"),
    ...errors(400, 401),
  },
});

const get = createRoute({
  method: "get",
  path: "/conversations/{id}",
  operationId: "legacyGetConversation",
  tags: [TAG],
  summary: "A conversation and its latest messages; a collaborative one is refused (R15.2)",
  security: bearer,
  request: {
    params: z.object({ id: ConversationId }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50).describe("How many of the newest messages") }),
  },
  responses: {
    200: json(z.object({ conversation: LegacyConversation, messages: z.array(LegacyMessage) }), "Messages oldest first"),
    ...errors(400, 401, 403, 404),
    409: json(
      z.object({ code: z.literal(ErrorCode.LEGACY_COLLABORATIVE), message: z.string() }),
      "LEGACY_COLLABORATIVE: `舊版對話不支援協作功能，請到對話 2.0 繼續使用。` (zh-TW)",
    ),
  },
});

const reply = createRoute({
  method: "post",
  path: "/conversations/{id}/messages",
  operationId: "legacyReply",
  tags: [TAG],
  summary: "Reply to the customer; a collaborative conversation is refused (R15.2)",
  security: bearer,
  request: { params: z.object({ id: ConversationId }), body: jsonBody(Reply) },
  responses: {
    200: json(z.object({ seq: z.number().int().nullable(), duplicate: z.boolean() }), "Committed (or a retry of a committed request)"),
    ...errors(400, 401, 403, 404, 409, 413),
  },
});

function toLegacy(r: LegacyRow) {
  return {
    id: r.id,
    status: r.status,
    channel: r.channel,
    customer: { id: r.customerId, name: r.customerName },
    assigneeId: r.followerId,
    lastMessageAt: r.lastMessageAt.toISOString(),
    lastMessagePreview: r.lastMessagePreview,
  };
}

/** The conversation as `member` may use it through v1 (NOT_FOUND, or `openLegacy`'s refusals: R15.2). */
async function open(db: Db, member: MemberRow, id: string): Promise<{ row: LegacyRow; view: View }> {
  const row = await loadLegacyConversation(db, member.workspaceId, id);
  if (!row) throw new DomainError(ErrorCode.NOT_FOUND);
  return { row, view: openLegacy(row, member) };
}

/** `GET /api/v1/conversations`, `GET /api/v1/conversations/{id}`, `POST /api/v1/conversations/{id}/messages`. */
export function legacyRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;

  app.openapi(list, async (ctx) => {
    const member = ctx.get("member")!;
    const q = ctx.req.valid("query");
    const { rows, total } = await listLegacyConversations(db, member.workspaceId, legacyScope(member), q);
    return ctx.json({ conversations: rows.map(toLegacy), total }, 200);
  });

  app.openapi(get, async (ctx) => {
    const member = ctx.get("member")!;
    const { row } = await open(db, member, ctx.req.valid("param").id);
    const stored = await loadMessages(db, row.id, ctx.req.valid("query").limit);
    const names = await loadMembers(db, member.workspaceId, stored.flatMap(idsOfMessage));
    const messages = stored.map((m) => {
      const j = messageJson(m, names, row.customerName, member.locale);
      // v1 knows three senders: an automatic message to the customer (v2 `auto`) reads as the staff side's.
      return { seq: j.seq, sender: j.sender === "auto" ? ("staff" as const) : j.sender, text: j.text ?? "", createdAt: j.createdAt };
    });
    return ctx.json({ conversation: toLegacy(row), messages }, 200);
  });

  app.openapi(reply, async (ctx) => {
    const member = ctx.get("member")!;
    const body = ctx.req.valid("json");
    if (isTextTooLong(body.text)) throw new DomainError(ErrorCode.TEXT_TOO_LONG, { max: MAX_TEXT_LENGTH }); // code points, as in rooms
    const { row, view } = await open(db, member, ctx.req.valid("param").id);
    const answer = await callConversation(row.id, {
      type: "member_action",
      member: { id: member.id, role: member.role, locale: member.locale, status: member.status, workspaceId: member.workspaceId },
      view,
      action: { type: "reply", requestId: body.requestId, text: body.text },
    });
    if (!answer.ok) throw new DomainError(answer.code);
    return ctx.json({ seq: answer.seq ?? null, duplicate: answer.duplicate ?? false }, 200);
  });

  return app;
}
