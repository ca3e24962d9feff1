import { createRoute } from "@hono/zod-openapi";
import { and, asc, eq, ilike, notInArray, or } from "drizzle-orm";
import { z } from "zod";
import * as s from "../../db/schema.ts";
import { likeSubstring } from "../../db/sql.ts";
import { mayOpen } from "../../domain/access.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { isParticipant, participantIds } from "../../domain/model.ts";
import { ROLES, Role, View } from "../../domain/sets.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, router } from "./openapi.ts";

/** The roles the candidate picker filters by (R2.3). */
const ROLE_FILTERS = ["all", Role.admin, Role.supervisor, Role.cs_manager] as const;

const Query = z.object({
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .describe("Case-insensitive substring of the name, email or phone (trimmed; `%` and `_` match themselves)"),
  role: z.enum(ROLE_FILTERS).default("all"),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

const Candidate = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string(),
    phone: z.string().nullable(),
    role: z.enum(ROLES as [Role, ...Role[]]),
  })
  .meta({ id: "Candidate" });

const candidates = createRoute({
  method: "get",
  path: "/{id}/candidates",
  tags: ["conversations"],
  summary: "Members who may be added as collaborators (R2.3)",
  description:
    "Active members of the caller's workspace who are not participants of the conversation, ordered by name. " +
    "The caller must be allowed to open the conversation: a participant, or a TEAM_VIEWER (admin, supervisor, cs_manager).",
  security: bearer,
  request: { params: z.object({ id: z.string().min(1).max(100) }), query: Query },
  responses: {
    200: json(z.object({ items: z.array(Candidate) }), "Candidates, by name"),
    ...errors(400, 401, 403, 404),
  },
});

/** `GET /api/v2/conversations/{id}/candidates` (R2.3). */
export function candidateRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;
  app.openapi(candidates, async (c) => {
    const member = c.get("member")!;
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const conv = (
      await db
        .select({ followerId: s.conversations.followerId, collaboratorIds: s.conversations.collaboratorIds })
        .from(s.conversations)
        .where(and(eq(s.conversations.id, id), eq(s.conversations.workspaceId, member.workspaceId)))
    )[0];
    if (!conv) throw new DomainError(ErrorCode.NOT_FOUND);
    const view = isParticipant(conv, member.id) ? View.mine : View.team;
    if (!mayOpen(conv, member, view)) throw new DomainError(ErrorCode.VIEW_NOT_ALLOWED);

    const m = s.members;
    const participants = participantIds(conv);
    const pattern = q.q ? likeSubstring(q.q) : null;
    const items = await db
      .select({ id: m.id, name: m.name, email: m.email, phone: m.phone, role: m.role })
      .from(m)
      .where(
        and(
          eq(m.workspaceId, member.workspaceId),
          eq(m.status, "active"),
          participants.length ? notInArray(m.id, participants) : undefined,
          q.role === "all" ? undefined : eq(m.role, q.role),
          pattern ? or(ilike(m.name, pattern), ilike(m.email, pattern), ilike(m.phone, pattern)) : undefined,
        ),
      )
      .orderBy(asc(m.name), asc(m.id))
      .limit(q.limit);
    return c.json({ items }, 200);
  });
  return app;
}
