import { createHash, randomUUID } from "node:crypto";
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { z } from "zod";
import { loadTransferShapes } from "../../db/conversations.ts";
import { createJobWithItems, findJobByKey, type JobRow, jobView, loadItems, loadJob } from "../../db/jobs.ts";
import { loadMembers } from "../../db/repository.ts";
import { requireBulkTransferable, requireTransferTarget } from "../../domain/bulk.ts";
import { DomainError, ERROR_CODES, ErrorCode } from "../../domain/errors.ts";
import {
  type BulkJobKind,
  JOB_KINDS,
  JOB_OUTCOMES,
  JOB_STATUSES,
  JobInputSchema,
  type JobKind,
  JobKind as Kind,
} from "../../domain/jobs.ts";
import { TEAM_VIEWERS, View } from "../../domain/sets.ts";
import { renderError } from "../../domain/texts.ts";
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
    kind: z.enum(JOB_KINDS),
    status: z.enum(JOB_STATUSES),
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
      .enum(JOB_OUTCOMES)
      .nullable()
      .describe("null: not done yet; duplicate: applied before (a retry); refused: see code; skipped: nothing to do"),
    code: z
      .enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]])
      .optional()
      .describe("Why it was refused"),
    message: z.string().optional().describe("The refusal in the caller's locale"),
  })
  .meta({ id: "JobItem" });

const JobWithItems = Job.extend({
  items: z.array(JobItem).optional().describe("In the order of the request; left out when asked with `items=none`"),
}).meta({ id: "JobWithItems" });
const JobAnswer = z.object({ job: Job });

const bulkRoute = (action: "close" | "reopen" | "transfer", summary: string, description: string) =>
  createRoute({
    method: "post",
    path: `/bulk/${action}`,
    operationId: `bulk${action[0]!.toUpperCase()}${action.slice(1)}`,
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
  operationId: "getJob",
  tags: ["bulk"],
  summary: "A job with its per-conversation results",
  description:
    "Only the job's actor or an admin of its workspace may read it; others get 404. " +
    "`items=none` answers the job's progress without its items (up to 10,000 of them): what a progress poll needs.",
  security: bearer,
  request: {
    params: z.object({ id: z.string().min(1).max(100) }),
    query: z.object({
      items: z.enum(["all", "none"]).default("all").describe("`none`: the job without its items"),
    }),
  },
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
    kind: BulkJobKind,
    body: { conversationIds: string[]; view: View; memberId?: string },
    key: string | undefined,
  ) {
    const member = c.get("member")!;
    if (body.view === View.team && !TEAM_VIEWERS.has(member.role)) throw new DomainError(ErrorCode.VIEW_NOT_ALLOWED);
    const hash = requestHash(kind, body);
    // The Idempotency-Key names the job (one per call); each item's own retry is the room's to judge.
    if (key) {
      const existing = await findJobByKey(db, member.id, key);
      if (existing) return c.json({ job: jobView(sameRequest(existing, hash)) }, 202);
    }
    const ids = [...new Set(body.conversationIds)];
    if (kind === Kind.bulk_transfer) {
      const target = body.memberId!;
      requireTransferTarget(target, await loadMembers(db, member.workspaceId, [target]));
      requireBulkTransferable(await loadTransferShapes(db, member.workspaceId, ids)); // R7.5, refused whole
    }
    // The conversations live in the items; the input keeps what the runner needs besides (parsed again when it runs).
    const input = JobInputSchema[kind].parse({ view: body.view, memberId: body.memberId });
    const created = await createJobWithItems(
      db,
      {
        id: randomUUID(),
        workspaceId: member.workspaceId,
        actorId: member.id,
        kind,
        input,
        idempotencyKey: key ?? null,
        requestHash: hash,
        now: deps.now(),
      },
      ids,
    );
    if (!created) {
      // A concurrent call with the same key won the race: answer with its job.
      const existing = key ? await findJobByKey(db, member.id, key) : null;
      if (!existing) throw new DomainError(ErrorCode.INTERNAL);
      return c.json({ job: jobView(sameRequest(existing, hash)) }, 202);
    }
    deps.kickJobs();
    return c.json({ job: jobView(created) }, 202);
  }

  app.openapi(close, async (c) => submit(c, Kind.bulk_close, c.req.valid("json"), c.req.valid("header")["idempotency-key"]));
  app.openapi(reopen, async (c) => submit(c, Kind.bulk_reopen, c.req.valid("json"), c.req.valid("header")["idempotency-key"]));
  app.openapi(transfer, async (c) => submit(c, Kind.bulk_transfer, c.req.valid("json"), c.req.valid("header")["idempotency-key"]));

  app.openapi(getJob, async (c) => {
    const member = c.get("member")!;
    const job = await loadJob(db, c.req.valid("param").id);
    if (!job || job.workspaceId !== member.workspaceId || (job.actorId !== member.id && member.role !== "admin")) {
      throw new DomainError(ErrorCode.NOT_FOUND);
    }
    if (c.req.valid("query").items === "none") return c.json({ job: jobView(job) }, 200);
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
