import { createHash, randomUUID } from "node:crypto";
import { createRoute } from "@hono/zod-openapi";
import { and, eq, or, sql } from "drizzle-orm";
import type { Context } from "hono";
import { z } from "zod";
import { type JobRow, findJobByKey, insertItemsFromIds, insertJob, jobView, loadItems, loadJob } from "../../db/jobs.ts";
import { loadMembers } from "../../db/repository.ts";
import * as s from "../../db/schema.ts";
import type { JobKind } from "../../db/schema.ts";
import { DomainError, ERROR_CODES, ErrorCode } from "../../domain/errors.ts";
import { MemberStatus, TEAM_VIEWERS, View } from "../../domain/sets.ts";
import { renderError } from "../../domain/texts.ts";
import type { BulkInput } from "../jobs.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { bearer, errors, json, jsonBody, router } from "./openapi.ts";

/** The most conversations one bulk call may name (R9.5: no practical limit on a batch). */
export const MAX_BULK_IDS = 10_000;

const ConversationIds = z
  .array(z.string().min(1).max(100))
  .min(1)
  .max(MAX_BULK_IDS)
  .describe("Conversations to act on, 1–10000; repeated ids count once, in the order of their first appearance");
const ViewField = z
  .enum([View.mine, View.team])
  .default(View.mine)
  .describe("The list the selection was made in: `team` (TEAM_VIEWERS only) acts as from the team view (R9.3)");

const BulkBody = z.object({ conversationIds: ConversationIds, view: ViewField }).meta({ id: "BulkRequest" });
const TransferBody = z
  .object({ conversationIds: ConversationIds, memberId: z.string().min(1).max(100).describe("The new follower"), view: ViewField })
  .meta({ id: "BulkTransferRequest" });

const Headers = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("A retry with the same key and body returns the same job and applies nothing again; another body → 422"),
});

export const Job = z
  .object({
    id: z.string(),
    kind: z.enum(["bulk_close", "bulk_reopen", "bulk_transfer", "member_deactivate", "member_delete"]),
    status: z.enum(["running", "done", "failed"]),
    total: z.number().int().describe("Items (conversations) in the job"),
    processed: z.number().int().describe("Items that have their outcome"),
    createdAt: z.string().describe("ISO 8601"),
    finishedAt: z.string().nullable().describe("ISO 8601; null while running"),
  })
  .meta({ id: "Job" });

const JobItem = z
  .object({
    conversationId: z.string(),
    outcome: z
      .enum(["ok", "duplicate", "refused", "skipped"])
      .nullable()
      .describe("null: not done yet; duplicate: applied before (a retry); refused: see code; skipped: nothing to do"),
    code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]).optional().describe("Why it was refused"),
    message: z.string().optional().describe("The refusal in the caller's locale"),
  })
  .meta({ id: "JobItem" });

const JobWithItems = Job.extend({ items: z.array(JobItem).describe("In the order of the request") }).meta({ id: "JobWithItems" });
const JobAnswer = z.object({ job: Job });

const bulkRoute = (action: "close" | "reopen" | "transfer", summary: string, description: string) =>
  createRoute({
    method: "post",
    path: `/bulk/${action}`,
    tags: ["bulk"],
    summary,
    description,
    security: bearer,
    request: { headers: Headers, body: jsonBody(action === "transfer" ? TransferBody : BulkBody) },
    responses: {
      202: json(JobAnswer, "Accepted: the job (or, for a retried Idempotency-Key, the job it created)"),
      ...errors(400, 401, 403, 409, 422),
    },
  });

const close = bulkRoute(
  "close",
  "Close many conversations (R8.5)",
  "Each conversation is closed through its room as a single close would be (log, notices, pins). " +
    "Per-item results: where the caller is only a collaborator the item is refused with COLLABORATOR_CANNOT_CLOSE.",
);
const reopen = bulkRoute(
  "reopen",
  "Reopen many conversations (R9.5, R9.3)",
  "Followers and collaborators from `mine`; TEAM_VIEWERS from `team`, without becoming participants. No batch limit beyond 10000 ids per call.",
);
const transfer = bulkRoute(
  "transfer",
  "Transfer many 1-on-1 conversations (R7.5)",
  "A selection holding any collaborative or group conversation is refused whole with 409 BULK_TRANSFER_COLLABORATIVE and no job. " +
    "The target must be an active member of the workspace (409 TARGET_NOT_FOUND / TARGET_INACTIVE).",
);

const getJob = createRoute({
  method: "get",
  path: "/jobs/{id}",
  tags: ["bulk"],
  summary: "A job with its per-conversation results",
  description: "Only the job's actor or an admin of its workspace may read it; others get 404.",
  security: bearer,
  request: { params: z.object({ id: z.string().min(1).max(100) }) },
  responses: { 200: json(z.object({ job: JobWithItems }), "The job"), ...errors(401, 404) },
});

function requestHash(kind: JobKind, body: unknown): string {
  return createHash("sha256").update(JSON.stringify({ kind, body })).digest("hex");
}

/** The job an earlier call with this key created, or 422 when that call's request was another. */
function sameRequest(existing: JobRow, hash: string): JobRow {
  if (existing.requestHash !== hash) throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED);
  return existing;
}

/** `POST /api/v2/bulk/{close,reopen,transfer}`, `GET /api/v2/jobs/{id}`. */
export function bulkRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;

  async function submit(
    c: Context<AppEnv>,
    kind: "bulk_close" | "bulk_reopen" | "bulk_transfer",
    body: { conversationIds: string[]; view: View; memberId?: string },
    key: string | undefined,
  ) {
    const member = c.get("member")!;
    if (body.view === View.team && !TEAM_VIEWERS.has(member.role)) throw new DomainError(ErrorCode.VIEW_NOT_ALLOWED);
    const hash = requestHash(kind, body);
    if (key) {
      const existing = await findJobByKey(db, member.id, key);
      if (existing) return c.json({ job: jobView(sameRequest(existing, hash)) }, 202);
    }
    const ids = [...new Set(body.conversationIds)];

    if (kind === "bulk_transfer") {
      const target = (await loadMembers(db, member.workspaceId, [body.memberId!])).get(body.memberId!);
      if (!target) throw new DomainError(ErrorCode.TARGET_NOT_FOUND, { memberId: body.memberId });
      if (target.status !== MemberStatus.active) throw new DomainError(ErrorCode.TARGET_INACTIVE, { memberId: body.memberId });
      // R7.5, in one query: any collaborative or group conversation refuses the whole selection.
      const cv = s.conversations;
      const offending = await db
        .select({ id: cv.id })
        .from(cv)
        .where(and(eq(cv.workspaceId, member.workspaceId), sql`${cv.id} = any(${sql.param(ids)}::text[])`, or(eq(cv.collaborative, true), eq(cv.kind, "group"))))
        .limit(100);
      if (offending.length > 0) {
        throw new DomainError(ErrorCode.BULK_TRANSFER_COLLABORATIVE, { conversationIds: offending.map((r) => r.id) });
      }
    }

    const input: BulkInput = { view: body.view, ...(body.memberId ? { memberId: body.memberId } : {}) };
    const jobId = randomUUID();
    const created = await db.transaction(async (tx) => {
      const inserted = await insertJob(tx, {
        id: jobId,
        workspaceId: member.workspaceId,
        actorId: member.id,
        kind,
        // The conversations live in the items; the input keeps what the runner needs besides.
        input: { ...input },
        idempotencyKey: key ?? null,
        requestHash: hash,
        now: deps.now(),
      });
      if (!inserted) return null;
      await insertItemsFromIds(tx, jobId, ids);
      return loadJob(tx, jobId);
    });
    if (!created) {
      // A concurrent call with the same key won the race: answer with its job.
      const existing = key ? await findJobByKey(db, member.id, key) : null;
      if (!existing) throw new DomainError(ErrorCode.INTERNAL);
      return c.json({ job: jobView(sameRequest(existing, hash)) }, 202);
    }
    deps.kickJobs();
    return c.json({ job: jobView(created) }, 202);
  }

  app.openapi(close, async (c) => submit(c, "bulk_close", c.req.valid("json"), c.req.valid("header")["idempotency-key"]));
  app.openapi(reopen, async (c) => submit(c, "bulk_reopen", c.req.valid("json"), c.req.valid("header")["idempotency-key"]));
  app.openapi(transfer, async (c) => submit(c, "bulk_transfer", c.req.valid("json"), c.req.valid("header")["idempotency-key"]));

  app.openapi(getJob, async (c) => {
    const member = c.get("member")!;
    const job = await loadJob(db, c.req.valid("param").id);
    if (!job || job.workspaceId !== member.workspaceId || (job.actorId !== member.id && member.role !== "admin")) {
      throw new DomainError(ErrorCode.NOT_FOUND);
    }
    const items = (await loadItems(db, job.id)).map((i) => {
      const code = i.code && (ERROR_CODES as readonly string[]).includes(i.code) ? (i.code as ErrorCode) : null;
      return {
        conversationId: i.conversationId,
        outcome: i.outcome,
        ...(code ? { code, message: renderError(code, member.locale) } : {}),
      };
    });
    return c.json({ job: { ...jobView(job), items } }, 200);
  });
  return app;
}
