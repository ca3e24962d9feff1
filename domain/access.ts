import { type Conversation, isParticipant } from "./model.ts";
import { type Role, TEAM_VIEWERS, View } from "./sets.ts";

/**
 * Who may open a conversation, and from which view: participants from `mine`; TEAM_VIEWERS from
 * `team`, read-only until they join (R4.1) except replies to 1-on-1 conversations (R1.4).
 */
export function mayOpen(c: Pick<Conversation, "followerId" | "collaboratorIds">, member: { id: string; role: Role }, view: View): boolean {
  return view === View.mine ? isParticipant(c, member.id) : TEAM_VIEWERS.has(member.role);
}
