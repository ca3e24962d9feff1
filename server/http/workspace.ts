import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { loadWorkspace, updateSettings } from "../../db/workspaces.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

const Settings = z
  .object({
    csatOnClose: z.boolean().describe("Send a satisfaction survey when a conversation is closed (R8.2)"),
    overdueAfterMinutes: z.number().int().min(1).max(10_080).describe("Minutes unanswered before a conversation is overdue (R13.3)"),
    autoCloseAfterMinutes: z.number().int().min(0).max(525_600).describe("Auto-close after the last staff reply (R13.4); 0 = off"),
    autoCloseReminderText: z
      .string()
      .trim()
      .max(1000)
      .describe("On LINE, Facebook, WhatsApp and Instagram (R13.1): sent to the customer when the auto-close duration has passed; the close follows after `autoCloseGraceMinutes`. Empty: no reminder, the close comes at the due time"),
    autoCloseGraceMinutes: z.number().int().min(0).max(10_080).describe("Minutes between the auto-close reminder and the close"),
  })
  .meta({ id: "WorkspaceSettings" });
const Workspace = z.object({ id: z.string(), name: z.string(), settings: Settings }).meta({ id: "Workspace" });

const get = createRoute({
  method: "get",
  path: "/",
  operationId: "getWorkspace",
  tags: ["workspace"],
  summary: "The caller's workspace and its settings",
  security: bearer,
  responses: { 200: json(Workspace, "The workspace"), ...errors(401) },
});
const patch = createRoute({
  method: "patch",
  path: "/settings",
  operationId: "updateWorkspaceSettings",
  tags: ["workspace"],
  summary: "Change settings (admin only)",
  security: bearer,
  request: { body: jsonBody(Settings.partial().strict()) },
  responses: { 200: json(Workspace, "Changed"), ...errors(400, 401, 403) },
});

/** `GET /api/v2/workspace`, `PATCH /api/v2/workspace/settings`. */
export function workspaceRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;
  app.openapi(get, async (c) => {
    const workspace = await loadWorkspace(db, c.get("member")!.workspaceId);
    if (!workspace) throw new DomainError(ErrorCode.NOT_FOUND);
    return c.json(workspace, 200);
  });
  app.openapi(patch, async (c) => {
    const member = c.get("member")!;
    if (member.role !== "admin") throw new DomainError(ErrorCode.ROLE_NOT_ALLOWED);
    const workspace = await updateSettings(db, member.workspaceId, c.req.valid("json"));
    if (!workspace) throw new DomainError(ErrorCode.NOT_FOUND);
    return c.json(workspace, 200);
  });
  return app;
}
