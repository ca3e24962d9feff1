import type { MemberAction } from "./actions.ts";
import { requireActiveMembers } from "./decide.ts";
import { DomainError, ErrorCode } from "./errors.ts";
import { type BulkJobKind, JobKind, type ParsedJob } from "./jobs.ts";
import { type Conversation, type MemberInfo, isCollaborative } from "./model.ts";
import { ConversationKind, assertNever } from "./sets.ts";

/** The shape R7.5 looks at. */
export type TransferShape = Pick<Conversation, "id" | "kind" | "collaboratorIds">;

/** At most this many offending ids are named in a refusal's detail. */
export const MAX_NAMED_OFFENDERS = 100;

/**
 * R7.5: a collaborative or a group conversation cannot be transferred in bulk. True for a
 * conversation that may be part of a bulk transfer (a 1-on-1 that is not a group).
 */
export function bulkTransferable(c: Pick<Conversation, "kind" | "collaboratorIds">): boolean {
  return c.kind !== ConversationKind.group && !isCollaborative(c);
}

/**
 * R7.5, refused whole: throws BULK_TRANSFER_COLLABORATIVE (naming up to `MAX_NAMED_OFFENDERS` of
 * them) when any conversation of the selection is collaborative or a group.
 */
export function requireBulkTransferable(selection: readonly TransferShape[]): void {
  const offending = selection.filter((c) => !bulkTransferable(c)).map((c) => c.id);
  if (offending.length > 0) {
    throw new DomainError(ErrorCode.BULK_TRANSFER_COLLABORATIVE, { conversationIds: offending.slice(0, MAX_NAMED_OFFENDERS) });
  }
}

/**
 * The target of a bulk transfer: an active member of the workspace (TARGET_NOT_FOUND,
 * TARGET_INACTIVE) — the same check a single transfer makes, before any job is created.
 */
export function requireTransferTarget(memberId: string, members: ReadonlyMap<string, MemberInfo>): void {
  requireActiveMembers([memberId], { members });
}

/** A parsed bulk job (kind and input). */
export type ParsedBulkJob = Extract<ParsedJob, { kind: BulkJobKind }>;

/** The member action one item of a bulk job sends to its conversation's room. */
export function bulkAction(job: ParsedBulkJob, requestId: string): MemberAction {
  switch (job.kind) {
    case JobKind.bulk_close:
      return { type: "close", requestId };
    case JobKind.bulk_reopen:
      return { type: "reopen", requestId };
    case JobKind.bulk_transfer:
      return { type: "transfer", requestId, memberId: job.input.memberId };
    default:
      return assertNever(job);
  }
}
