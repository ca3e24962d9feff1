import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { countConversations, LIST_SORTS, LIST_TYPES, type ListSort, type ListType, listConversations } from "../../db/lists.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { CHANNELS, type Channel, ROLES, type Role, STATUSES, type Status, TEAM_VIEWERS, View } from "../../domain/sets.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, router } from "./openapi.ts";

/**
 * The inbox lists (SPEC §10): one page of a view × status × type, sorted by last message or by
 * overdue waiting (R13.3), with search and keyset pagination; and the tab counts.
 */

const TAG = "conversations";

const ListQuery = z.object({
  view: z
    .enum([View.mine, View.team])
    .default(View.mine)
    .describe("`mine`: the caller takes part; `team`: the whole workspace (admin, supervisor, cs_manager)"),
  status: z
    .enum(STATUSES as [Status, ...Status[]])
    .optional()
    .describe("Omitted: every status"),
  type: z
    .enum(LIST_TYPES as [ListType, ...ListType[]])
    .default("all")
    .describe("`regular`: no collaborator; `collaborative`: at least one (R10.2)"),
  sort: z
    .enum(LIST_SORTS as [ListSort, ...ListSort[]])
    .default("last_message")
    .describe("`last_message`: newest first; `overdue`: longest waiting first, only with status pending or in_progress (R10.3)"),
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .describe(
      "Case-insensitive substring of the customer's name or of a customer or staff message (trimmed; `%` and `_` match themselves)",
    ),
  cursor: z.string().min(1).max(1000).optional().describe("`nextCursor` of the previous page of the same query"),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

const Brief = z.object({ id: z.string(), name: z.string(), role: z.enum(ROLES as [Role, ...Role[]]) }).meta({ id: "MemberBrief" });

const ListItem = z
  .object({
    id: z.string(),
    status: z.enum(STATUSES as [Status, ...Status[]]),
    kind: z.enum(["direct", "group"]),
    collaborative: z.boolean().describe("At least one collaborator"),
    channel: z.enum(CHANNELS as [Channel, ...Channel[]]),
    customer: z.object({ id: z.string(), name: z.string() }),
    // A union, not `Brief.nullable()`: the latter makes the shared `MemberBrief` schema itself nullable,
    // and with it every collaborator in the generated types.
    follower: z.union([Brief, z.null()]).describe("Null when nobody follows the conversation"),
    collaborators: z.array(Brief).readonly().describe("In list order (R10.4, R14.5)"),
    lastMessageAt: z.string().describe("ISO 8601"),
    lastMessagePreview: z.string().nullable(),
    waitingSince: z.string().nullable().describe("ISO 8601: the oldest customer message not answered yet (R13.3)"),
    overdue: z.boolean().describe("Open and waiting longer than the workspace's overdueAfterMinutes (R13.3)"),
    unreadCount: z.number().int().describe("The caller's own (R11.6)"),
    pinned: z.boolean().describe("The caller's own (R12.2)"),
    version: z.number().int(),
  })
  .meta({ id: "ListItem" });

const TypeCounts = z.object({ regular: z.number().int(), collaborative: z.number().int() });
const Counts = z.object({ pending: TypeCounts, in_progress: TypeCounts, closed: TypeCounts }).meta({ id: "Counts" });

const list = createRoute({
  method: "get",
  path: "/",
  operationId: "listConversations",
  tags: [TAG],
  summary: "One page of an inbox list (R10.1–R10.5, R13.3)",
  description:
    "In `mine`, the caller's pinned conversations come first. Then `last_message` (newest first, id descending) or `overdue` " +
    "(oldest waitingSince first, not waiting last, id ascending). Follow `nextCursor` for the next page; a cursor only works with the query it came from.",
  security: bearer,
  request: { query: ListQuery },
  responses: {
    200: json(z.object({ items: z.array(ListItem), nextCursor: z.string().nullable().describe("Null on the last page") }), "A page"),
    ...errors(400, 401, 403),
  },
});

const counts = createRoute({
  method: "get",
  path: "/counts",
  operationId: "getConversationCounts",
  tags: [TAG],
  summary: "Tab counts per status and type",
  description: "`team` is null for members who do not see the team view (only admin, supervisor and cs_manager do).",
  security: bearer,
  responses: {
    200: json(z.object({ mine: Counts, team: Counts.nullable() }), "Counts"),
    ...errors(401),
  },
});

/** `GET /api/v2/conversations` (lists, search) and `GET /api/v2/conversations/counts`. */
export function conversationRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;
  app.openapi(list, async (c) => {
    const member = c.get("member")!;
    const query = c.req.valid("query");
    if (query.view === View.team && !TEAM_VIEWERS.has(member.role)) throw new DomainError(ErrorCode.VIEW_NOT_ALLOWED);
    const page = await listConversations(db, { id: member.id, workspaceId: member.workspaceId }, query, deps.now());
    return c.json(page, 200);
  });
  app.openapi(counts, async (c) => {
    const member = c.get("member")!;
    const viewer = { id: member.id, workspaceId: member.workspaceId };
    const mine = await countConversations(db, viewer, View.mine);
    const team = TEAM_VIEWERS.has(member.role) ? await countConversations(db, viewer, View.team) : null;
    return c.json({ mine, team }, 200);
  });
  return app;
}
