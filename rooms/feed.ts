import type { Presence } from "@colyseus/core";
import { type Conversation, participantIds } from "../domain/model.ts";
import type { ConversationKind, Status } from "../domain/sets.ts";
import { Topic } from "./topics.ts";

/** What the lists need to know to place a conversation: its tab, type and participants. */
export interface ListSummary {
  readonly status: Status;
  readonly kind: ConversationKind;
  readonly collaborative: boolean;
  readonly followerId: string | null;
  readonly collaboratorIds: readonly string[];
  /** ISO time; the lists' default sort key. */
  readonly lastMessageAt: string;
  /** ISO time of the oldest unanswered customer message, or null (R13.3). */
  readonly waitingSince: string | null;
}

/**
 * Published after every committed change of a conversation (and at its creation), so inbox and
 * team rooms keep lists and counts current. `before` is null for a new conversation.
 * Delivery: the team topic of the workspace, and the inbox topic of every participant before or after.
 */
export interface ConversationChange {
  readonly type: "conversation";
  readonly workspaceId: string;
  readonly conversationId: string;
  readonly version: number;
  readonly before: ListSummary | null;
  readonly after: ListSummary;
  /** Members whose own unread count or pin changed, or "all". */
  readonly memberStates: readonly string[] | "all";
}

export function listSummary(c: Conversation, times: { lastMessageAt: Date; waitingSince: Date | null }): ListSummary {
  return {
    status: c.status,
    kind: c.kind,
    collaborative: c.collaboratorIds.length > 0,
    followerId: c.followerId,
    collaboratorIds: [...c.collaboratorIds],
    lastMessageAt: times.lastMessageAt.toISOString(),
    waitingSince: times.waitingSince ? times.waitingSince.toISOString() : null,
  };
}

/** True when nothing a list shows could have changed. */
export function unchanged(change: ConversationChange): boolean {
  return change.memberStates !== "all" && change.memberStates.length === 0 && JSON.stringify(change.before) === JSON.stringify(change.after);
}

export async function publishChange(presence: Presence, change: ConversationChange): Promise<void> {
  if (unchanged(change)) return;
  const people = new Set<string>([
    ...(change.before ? participantIds(change.before) : []),
    ...participantIds(change.after),
    ...(change.memberStates === "all" ? [] : change.memberStates),
  ]);
  await presence.publish(Topic.team(change.workspaceId), change);
  await Promise.all([...people].map((id) => presence.publish(Topic.inbox(id), { type: "list", change })));
}
