import type { Presence } from "@colyseus/core";
import { services } from "./ports.ts";
import { Topic } from "./topics.ts";

/**
 * Who is online, for the team room: a member is online while at least one of their inbox
 * connections is open, in any process. The inbox room counts connections in one presence hash per
 * workspace (`online:<workspaceId>`, field = member id, value = open connections) and, when a
 * member's count goes 0 → 1 or 1 → 0, publishes an `OnlineEvent` on the workspace's team topic.
 *
 * Limitation: the count lives in the presence (Redis across processes). A process that dies without
 * closing its connections leaves its members counted: they show online until their devices
 * reconnect and leave again, or the hash is cleared (see docs/protocol.md §9).
 */

/** Published on `Topic.team(workspaceId)` when a member comes online or goes offline. */
export interface OnlineEvent {
  readonly type: "online";
  readonly memberId: string;
  readonly online: boolean;
}

/** The member a connection belongs to (the inbox room's `userData`). */
export interface Connected {
  readonly id: string;
  readonly workspaceId: string;
}

export function onlineKey(workspaceId: string): string {
  return `online:${workspaceId}`;
}

async function step(presence: Presence, member: Connected, by: 1 | -1): Promise<void> {
  try {
    const n = await presence.hincrby(onlineKey(member.workspaceId), member.id, by);
    // Only the transitions are told: 0 → 1 (online) and 1 → 0 (offline).
    const flipped = by === 1 ? n === 1 : n === 0;
    if (flipped) {
      const event: OnlineEvent = { type: "online", memberId: member.id, online: by === 1 };
      await presence.publish(Topic.team(member.workspaceId), event);
    }
  } catch (err) {
    // Presence is best effort here: the dashboard's online flag is informative, never a right.
    services().log.warn({ err, memberId: member.id }, "online count not updated");
  }
}

/** An inbox connection of `member` opened. Never rejects. */
export function inboxOpened(presence: Presence, member: Connected): Promise<void> {
  return step(presence, member, 1);
}

/** An inbox connection of `member` closed. Never rejects. */
export function inboxClosed(presence: Presence, member: Connected): Promise<void> {
  return step(presence, member, -1);
}

/** The ids of the workspace's members with at least one open inbox connection. */
export async function onlineMembers(presence: Presence, workspaceId: string): Promise<Set<string>> {
  const all = await presence.hgetall(onlineKey(workspaceId));
  return new Set(
    Object.entries(all ?? {})
      .filter(([, n]) => Number(n) > 0)
      .map(([id]) => id),
  );
}
