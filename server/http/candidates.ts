import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { findCandidates } from "../../db/candidates.ts";
import { loadParticipants } from "../../db/conversations.ts";
import { mayOpen } from "../../domain/access.ts";
import { CANDIDATE_ROLES, candidateCriteria } from "../../domain/candidates.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { isParticipant } from "../../domain/model.ts";
import { ROLES, type Role, View } from "../../domain/sets.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, router } from "./openapi.ts";

const Query = z.object({
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .describe("Case-insensitive substring of the name, email or phone (trimmed; `%` and `_` match themselves)"),
  role: z.enum(CANDIDATE_ROLES).default("all"),
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
  operationId: "listCandidates",
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
    const conv = await loadParticipants(db, member.workspaceId, id);
    if (!conv) throw new DomainError(ErrorCode.NOT_FOUND);
    const view = isParticipant(conv, member.id) ? View.mine : View.team;
    if (!mayOpen(conv, member, view)) throw new DomainError(ErrorCode.VIEW_NOT_ALLOWED);
    const items = await findCandidates(db, candidateCriteria(member.workspaceId, conv, { role: q.role, q: q.q }), q.limit);
    return c.json({ items }, 200);
  });
  return app;
}
