import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { LOCALES, type Locale, ROLES, type Role } from "../../domain/sets.ts";
import { createMember, deactivateMember, getMember, listMembers, reactivateMember, updateMember } from "../members.ts";
import { Job } from "./bulk.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

const RoleField = z.enum(ROLES as [Role, ...Role[]]);
const LocaleField = z.enum(LOCALES as [Locale, ...Locale[]]);
const StatusField = z.enum(["active", "deactivated", "deleted"]);

const Member = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string(),
    phone: z.string().nullable(),
    role: RoleField,
    status: StatusField,
    locale: LocaleField,
    createdAt: z.string().describe("ISO 8601"),
    updatedAt: z.string().describe("ISO 8601"),
  })
  .meta({ id: "Member" });

const Name = z.string().trim().min(1).max(100);
const Phone = z.string().trim().min(1).max(50);

const ListQuery = z.object({
  status: StatusField.optional(),
  role: RoleField.optional(),
  q: z.string().trim().min(1).max(100).optional().describe("Case-insensitive substring of the name, email or phone"),
});
const CreateBody = z
  .object({
    name: Name,
    email: z.string().trim().email().max(200).describe("Unique across the service, case-insensitively; stored in lower case"),
    phone: Phone.optional(),
    role: RoleField,
    locale: LocaleField.default("zh-TW"),
    password: z.string().min(8).max(200),
  })
  .meta({ id: "NewMember" });
const PatchBody = z
  .object({
    name: Name.optional(),
    phone: Phone.nullable().optional().describe("null clears it"),
    role: RoleField.optional(),
    locale: LocaleField.optional(),
  })
  .strict()
  .meta({ id: "MemberPatch" });
const IdParam = z.object({ id: z.string().min(1).max(100) });
const JobAnswer = z.object({ job: Job });

const tags = ["members"];
const list = createRoute({
  method: "get",
  path: "/",
  operationId: "listMembers",
  tags,
  summary: "Members of the caller's workspace (admin only)",
  description: "Every status unless filtered, ordered by name.",
  security: bearer,
  request: { query: ListQuery },
  responses: { 200: json(z.object({ items: z.array(Member) }), "Members"), ...errors(400, 401, 403) },
});
const create = createRoute({
  method: "post",
  path: "/",
  operationId: "createMember",
  tags,
  summary: "Create a member (admin only)",
  security: bearer,
  request: { body: jsonBody(CreateBody) },
  responses: { 201: json(Member, "Created, active"), ...errors(400, 401, 403, 409) },
});
const patch = createRoute({
  method: "patch",
  path: "/{id}",
  operationId: "updateMember",
  tags,
  summary: "Change a member's name, phone, role or locale (admin only)",
  description:
    "A role change applies to the member's next request and to live rooms as they reload the member. " +
    "An admin cannot change their own role (409 CANNOT_CHANGE_SELF); a deleted member cannot be changed (409 MEMBER_DELETED).",
  security: bearer,
  request: { params: IdParam, body: jsonBody(PatchBody) },
  responses: { 200: json(Member, "Changed"), ...errors(400, 401, 403, 404, 409) },
});
const deactivate = createRoute({
  method: "post",
  path: "/{id}/deactivate",
  operationId: "deactivateMember",
  tags,
  summary: "Deactivate a member (admin only, SPEC §14)",
  description:
    "At once: the member's tokens stop working and their connections close with 4104. The returned job takes them out of " +
    "every conversation they follow or collaborate on (R14.1–R14.5). 409 CANNOT_CHANGE_SELF for oneself, MEMBER_DELETED if deleted.",
  security: bearer,
  request: { params: IdParam },
  responses: { 202: json(JobAnswer, "Deactivated; the departure job"), ...errors(400, 401, 403, 404, 409) },
});
const remove = createRoute({
  method: "delete",
  path: "/{id}",
  operationId: "deleteMember",
  tags,
  summary: "Delete a member (admin only, SPEC §14)",
  description: "As deactivate, and the member can never be reactivated.",
  security: bearer,
  request: { params: IdParam },
  responses: { 202: json(JobAnswer, "Deleted; the departure job"), ...errors(400, 401, 403, 404, 409) },
});
const reactivate = createRoute({
  method: "post",
  path: "/{id}/reactivate",
  operationId: "reactivateMember",
  tags,
  summary: "Reactivate a deactivated member (admin only)",
  description: "Status active again; their old tokens stay revoked (they sign in again). 409 MEMBER_DELETED for a deleted member.",
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(Member, "Active"), ...errors(400, 401, 403, 404, 409) },
});
const get = createRoute({
  method: "get",
  path: "/{id}",
  operationId: "getMember",
  tags,
  summary: "One member of the caller's workspace (admin only)",
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(Member, "The member"), ...errors(400, 401, 403, 404) },
});

/** `/api/v2/members` administration: admin only, in the admin's workspace. */
export function memberRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;
  const service = { db, presence: deps.presence, now: deps.now, kickJobs: deps.kickJobs };
  // Before the routes' own validation: a non-admin learns nothing but 403.
  app.use(async (c, next) => {
    if (c.get("member")?.role !== "admin") throw new DomainError(ErrorCode.ROLE_NOT_ALLOWED);
    await next();
  });

  app.openapi(list, async (c) => {
    const items = await listMembers(db, c.get("member")!.workspaceId, c.req.valid("query"));
    return c.json({ items }, 200);
  });
  app.openapi(create, async (c) => c.json(await createMember(service, c.get("member")!.workspaceId, c.req.valid("json")), 201));
  app.openapi(get, async (c) => c.json(await getMember(db, c.get("member")!.workspaceId, c.req.valid("param").id), 200));
  app.openapi(patch, async (c) => c.json(await updateMember(service, c.get("member")!, c.req.valid("param").id, c.req.valid("json")), 200));
  app.openapi(deactivate, async (c) => {
    const admin = c.get("member")!;
    const r = await deactivateMember(service, {
      actorId: admin.id,
      memberId: c.req.valid("param").id,
      status: "deactivated",
      workspaceId: admin.workspaceId,
    });
    return c.json(r, 202);
  });
  app.openapi(remove, async (c) => {
    const admin = c.get("member")!;
    const r = await deactivateMember(service, {
      actorId: admin.id,
      memberId: c.req.valid("param").id,
      status: "deleted",
      workspaceId: admin.workspaceId,
    });
    return c.json(r, 202);
  });
  app.openapi(reactivate, async (c) => c.json(await reactivateMember(service, c.get("member")!, c.req.valid("param").id), 200));
  return app;
}
