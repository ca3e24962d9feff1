import { z } from "zod";
import { View } from "./sets.ts";

/**
 * Jobs: long work over many conversations (bulk actions, a member's departure), done item by item
 * through each conversation's room. The closed sets below are the one list of kinds, statuses and
 * outcomes: the database column types, the HTTP schema and the runner's switch all derive from them.
 */

export const JobKind = {
  bulk_close: "bulk_close",
  bulk_reopen: "bulk_reopen",
  bulk_transfer: "bulk_transfer",
  member_deactivate: "member_deactivate",
  member_delete: "member_delete",
} as const;
export type JobKind = (typeof JobKind)[keyof typeof JobKind];
export const JOB_KINDS = Object.values(JobKind) as [JobKind, ...JobKind[]];

/** The kinds a member starts over HTTP (`POST /api/v2/bulk/...`). */
export const BulkJobKind = {
  bulk_close: JobKind.bulk_close,
  bulk_reopen: JobKind.bulk_reopen,
  bulk_transfer: JobKind.bulk_transfer,
} as const;
export type BulkJobKind = (typeof BulkJobKind)[keyof typeof BulkJobKind];

export const JobStatus = { running: "running", done: "done", failed: "failed" } as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];
export const JOB_STATUSES = Object.values(JobStatus) as [JobStatus, ...JobStatus[]];

/** What happened to one item: applied, applied before (a retry), refused (with a code), or nothing to do. */
export const JobOutcome = { ok: "ok", duplicate: "duplicate", refused: "refused", skipped: "skipped" } as const;
export type JobOutcome = (typeof JobOutcome)[keyof typeof JobOutcome];
export const JOB_OUTCOMES = Object.values(JobOutcome) as [JobOutcome, ...JobOutcome[]];

const memberId = z.string().min(1).max(100);
const view = z.enum([View.mine, View.team]);

/**
 * What each kind's `input` holds besides its items (the conversations are the job's items). Stored
 * as JSON and parsed again when the job runs: a row written by another version, or edited by hand,
 * fails the job with a reason instead of running on a guess.
 */
export const JobInputSchema = {
  bulk_close: z.object({ view }),
  bulk_reopen: z.object({ view }),
  bulk_transfer: z.object({ view, memberId }),
  member_deactivate: z.object({ memberId }),
  member_delete: z.object({ memberId }),
} as const satisfies Record<JobKind, z.ZodType>;

export type JobInput<K extends JobKind> = z.infer<(typeof JobInputSchema)[K]>;

/** A job's kind with its parsed input, as one discriminated union. */
export type ParsedJob = { [K in JobKind]: { readonly kind: K; readonly input: JobInput<K> } }[JobKind];

/** Parses a stored job's input for its kind: the job, or why it cannot run. */
export function parseJobInput(kind: string, input: unknown): { ok: true; job: ParsedJob } | { ok: false; reason: string } {
  if (!(JOB_KINDS as readonly string[]).includes(kind)) return { ok: false, reason: `unknown job kind ${JSON.stringify(kind)}` };
  const k = kind as JobKind;
  const parsed = JobInputSchema[k].safeParse(input);
  if (!parsed.success)
    return {
      ok: false,
      reason: `${k} input: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ")}`,
    };
  return { ok: true, job: { kind: k, input: parsed.data } as ParsedJob };
}
