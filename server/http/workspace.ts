import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { loadMembers } from "../../db/repository.ts";
import { loadWorkspace, updateSettings } from "../../db/workspaces.ts";
import { textLength } from "../../domain/actions.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { isTimeZone, minutesOf, WEEKDAYS } from "../../domain/hours.ts";
import { MemberStatus } from "../../domain/sets.ts";
import type { AppDeps } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

/** A text sent to customers: trimmed, at most 1000 characters (code points: an emoji counts once). */
const customerText = (what: string) =>
  z
    .string()
    .trim()
    .max(2000)
    .refine((t) => textLength(t) <= 1000, { message: "at most 1000 characters" })
    .describe(what);

const time = z.string().regex(/^([01]\d|2[0-4]):[0-5]\d$/, "HH:MM, 00:00–24:00");
const OpenInterval = z
  .object({
    day: z.enum(WEEKDAYS),
    start: time.describe("HH:MM, inclusive"),
    end: time.describe("HH:MM, exclusive; 24:00 = the end of the day"),
  })
  .strict()
  .refine(
    (i) => {
      const start = minutesOf(i.start);
      const end = minutesOf(i.end);
      return start !== null && end !== null && start < end && start < 24 * 60;
    },
    { message: "start must be before end, both within the day (00:00–24:00)" },
  )
  .meta({ id: "OpenInterval" });
const BusinessHours = z
  .object({
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .refine(isTimeZone, { message: "not an IANA time zone" })
      .describe("IANA time zone, e.g. `Asia/Taipei`"),
    open: z.array(OpenInterval).max(70).describe("Weekly open intervals in that zone's wall-clock time; empty = always open"),
  })
  .strict()
  .meta({ id: "BusinessHours" });
const KeywordRule = z
  .object({
    keyword: z.string().trim().min(1).max(100).describe("Matched case-insensitively (NFKC, lower case) anywhere in the customer's text"),
    memberId: z.string().min(1).max(100).describe("An active member of the workspace (checked when saved; skipped when no longer active)"),
  })
  .strict()
  .meta({ id: "KeywordRule" });

const Settings = z
  .object({
    csatOnClose: z.boolean().describe("Send a satisfaction survey when a conversation is closed (R8.2)"),
    overdueAfterMinutes: z.number().int().min(1).max(10_080).describe("Minutes unanswered before a conversation is overdue (R13.3)"),
    autoCloseAfterMinutes: z.number().int().min(0).max(525_600).describe("Auto-close after the last staff reply (R13.4); 0 = off"),
    autoCloseReminderText: z
      .string()
      .trim()
      .max(1000)
      .describe(
        "On LINE, Facebook, WhatsApp and Instagram (R13.1): sent to the customer when the auto-close duration has passed; the close follows after `autoCloseGraceMinutes`. Empty: no reminder, the close comes at the due time",
      ),
    autoCloseGraceMinutes: z.number().int().min(0).max(10_080).describe("Minutes between the auto-close reminder and the close"),
    businessHours: BusinessHours.nullable().describe(
      "R13.1: when the workspace is open; null (or no intervals) = always open, no away message",
    ),
    awayText: customerText(
      "R13.1, every channel: sent to a customer writing outside business hours, at most once per closed period; empty = off",
    ),
    welcomeText: customerText("R13.2, 1-on-1 only: sent on the first customer message of a new conversation; empty = off"),
    keywordRules: z
      .array(KeywordRule)
      .max(100)
      .describe(
        "R13.2, 1-on-1 only: a customer message in a pending conversation without follower containing a keyword assigns it to the member of the first matching rule",
      ),
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
  description:
    "`keywordRules` naming a member who is not in the workspace answers 409 `TARGET_NOT_FOUND`, one not active 409 `TARGET_INACTIVE` (`detail.memberId`); nothing is changed.",
  responses: { 200: json(Workspace, "Changed"), ...errors(400, 401, 403, 409) },
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
    const body = c.req.valid("json");
    if (body.keywordRules?.length)
      await requireActive(
        deps,
        member.workspaceId,
        body.keywordRules.map((r) => r.memberId),
      );
    const workspace = await updateSettings(db, member.workspaceId, body);
    if (!workspace) throw new DomainError(ErrorCode.NOT_FOUND);
    return c.json(workspace, 200);
  });
  return app;
}

/** R13.2: every member a keyword rule names is an active member of the workspace when saved (TARGET_NOT_FOUND, TARGET_INACTIVE). */
async function requireActive(deps: AppDeps, workspaceId: string, ids: readonly string[]): Promise<void> {
  const rows = await loadMembers(deps.database.db, workspaceId, ids);
  for (const id of ids) {
    const row = rows.get(id);
    if (!row) throw new DomainError(ErrorCode.TARGET_NOT_FOUND, { memberId: id });
    if (row.status !== MemberStatus.active) throw new DomainError(ErrorCode.TARGET_INACTIVE, { memberId: id });
  }
}
