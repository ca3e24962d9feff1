import { mayOpen } from "./access.ts";
import { DomainError, ErrorCode } from "./errors.ts";
import { type Conversation, isCollaborative, isParticipant } from "./model.ts";
import { type Role, TEAM_VIEWERS, View } from "./sets.ts";

/**
 * The legacy v1 conversation interface (SPEC §15): the old product's API knows nothing of
 * collaboration, so it never shows a collaborative conversation (R15.1) and refuses to open one
 * (R15.2).
 */

type Shape = Pick<Conversation, "followerId" | "collaboratorIds">;
interface Caller {
  readonly id: string;
  readonly role: Role;
}

/** R15.1: whether a conversation appears in v1 lists at all. */
export function legacyVisible(c: Pick<Conversation, "collaboratorIds">): boolean {
  return !isCollaborative(c);
}

/**
 * Which conversations a caller's v1 list holds, as parameters for the query: never a
 * collaborative one (R15.1); TEAM_VIEWERS see the whole workspace, others what they follow.
 */
export interface LegacyScope {
  /** Always false: the list holds only conversations without collaborators (R15.1). */
  readonly collaborative: false;
  /** Only conversations this member follows; null for the whole workspace. */
  readonly followerId: string | null;
}

export function legacyScope(caller: Caller): LegacyScope {
  return { collaborative: false, followerId: TEAM_VIEWERS.has(caller.role) ? null : caller.id };
}

/** True when the conversation belongs in the caller's v1 list (the scope, as a predicate). */
export function inLegacyScope(c: Shape, scope: LegacyScope): boolean {
  return isCollaborative(c) === scope.collaborative && (scope.followerId === null || c.followerId === scope.followerId);
}

/**
 * Opening (or replying to) a conversation through v1: the view it is opened from, or a refusal —
 * VIEW_NOT_ALLOWED for one the caller may not open (participants from `mine`, TEAM_VIEWERS from
 * `team`), LEGACY_COLLABORATIVE for a collaborative one (R15.2).
 */
export function openLegacy(c: Shape, caller: Caller): View {
  const view = isParticipant(c, caller.id) ? View.mine : View.team;
  if (!mayOpen(c, caller, view)) throw new DomainError(ErrorCode.VIEW_NOT_ALLOWED);
  if (!legacyVisible(c)) throw new DomainError(ErrorCode.LEGACY_COLLABORATIVE);
  return view;
}
