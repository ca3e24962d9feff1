import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import { ROLES, type Role } from "../domain/sets.ts";
import { Topic } from "./topics.ts";

/**
 * A change of what a member may do, published on `Topic.revoked` by member administration right
 * after it commits, and delivered to every process (Redis across processes):
 * - `revoked`: deactivated or deleted; every connection of the member closes (4104).
 * - `role`: a new role; open rooms decide the member's next action with it and close the views it
 *   no longer opens (4105).
 */
export type MemberChange =
  | { readonly memberId: string; readonly kind: "revoked" }
  | { readonly memberId: string; readonly kind: "role"; readonly role: Role };

/** Parses what arrives on the topic; null for anything else (another publisher's message, a future kind). */
export function parseMemberChange(data: unknown): MemberChange | null {
  if (typeof data !== "object" || data === null) return null;
  const d = data as { memberId?: unknown; kind?: unknown; role?: unknown };
  if (typeof d.memberId !== "string") return null;
  // No kind: a process from before role changes were published, which only published revocations.
  if (d.kind === "revoked" || d.kind === undefined) return { memberId: d.memberId, kind: "revoked" };
  if (d.kind === "role" && typeof d.role === "string" && (ROLES as readonly string[]).includes(d.role)) {
    return { memberId: d.memberId, kind: "role", role: d.role as Role };
  }
  return null;
}

/** Publishes a member's change to every process's rooms. Call after the change is committed, never before. */
export async function publishMemberChange(presence: Presence, change: MemberChange): Promise<void> {
  await presence.publish(Topic.revoked, change);
}

/**
 * Member changes (`Topic.revoked`) fanned out to the rooms of this process: one presence
 * subscription per process instead of one per room, so thousands of open rooms cost one channel
 * and one listener, not thousands.
 */
export class RevocationHub {
  private readonly listeners = new Set<(change: MemberChange) => void>();
  private readonly onMessage = (data: unknown) => {
    const change = parseMemberChange(data);
    if (!change) return;
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.log.warn({ err, memberId: change.memberId, kind: change.kind }, "a room failed to apply a member change");
      }
    }
  };

  constructor(
    private readonly presence: Presence,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.presence.subscribe(Topic.revoked, this.onMessage);
  }

  async stop(): Promise<void> {
    await this.presence.unsubscribe(Topic.revoked, this.onMessage);
    this.listeners.clear();
  }

  /** Calls `listener` with each member change until the returned function is called. */
  listen(listener: (change: MemberChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
