import { type Conversation, participantIds } from "./model.ts";
import { MemberStatus, Role } from "./sets.ts";

/**
 * R2.3: who may be added as a collaborator. Candidates are active members of the workspace who are
 * not yet participants; the picker filters by role (all, admin, supervisor, cs_manager) and
 * searches by name, email or phone. `candidateCriteria` turns a request into the parameters the
 * query runs with; `isCandidate` is the same rule as a predicate (the query must agree with it).
 */

export const CandidateRole = { all: "all", admin: Role.admin, supervisor: Role.supervisor, cs_manager: Role.cs_manager } as const;
export type CandidateRole = (typeof CandidateRole)[keyof typeof CandidateRole];
export const CANDIDATE_ROLES = Object.values(CandidateRole) as [CandidateRole, ...CandidateRole[]];

export interface CandidateCriteria {
  readonly workspaceId: string;
  /** Always `active`: deactivated and deleted members are never candidates. */
  readonly status: typeof MemberStatus.active;
  /** The conversation's participants (follower and collaborators). */
  readonly excludeIds: readonly string[];
  /** The one role asked for, or null for every role. */
  readonly role: Role | null;
  /** A case-insensitive substring of the name, email or phone (taken literally), or null. */
  readonly search: string | null;
}

export function candidateCriteria(
  workspaceId: string,
  conversation: Pick<Conversation, "followerId" | "collaboratorIds">,
  filter: { readonly role: CandidateRole; readonly q?: string | null },
): CandidateCriteria {
  return {
    workspaceId,
    status: MemberStatus.active,
    excludeIds: participantIds(conversation),
    role: filter.role === CandidateRole.all ? null : filter.role,
    search: filter.q ? filter.q : null,
  };
}

export interface CandidateFields {
  readonly id: string;
  readonly workspaceId: string;
  readonly status: MemberStatus;
  readonly role: Role;
  readonly name: string;
  readonly email: string;
  readonly phone: string | null;
}

/** The rule as a predicate: whether `m` is a candidate under `criteria`. */
export function isCandidate(m: CandidateFields, criteria: CandidateCriteria): boolean {
  if (m.workspaceId !== criteria.workspaceId || m.status !== criteria.status) return false;
  if (criteria.excludeIds.includes(m.id)) return false;
  if (criteria.role !== null && m.role !== criteria.role) return false;
  if (criteria.search === null) return true;
  const needle = criteria.search.toLowerCase();
  return [m.name, m.email, m.phone ?? ""].some((field) => field.toLowerCase().includes(needle));
}
