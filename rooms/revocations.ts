import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import { Topic } from "./topics.ts";

/**
 * Revoked members (`Topic.revoked`, published by member administration) fanned out to the rooms
 * of this process: one presence subscription per process instead of one per room, so thousands of
 * open rooms cost one channel and one listener, not thousands.
 */
export class RevocationHub {
  private readonly listeners = new Set<(memberId: string) => void>();
  private readonly onMessage = (data: { memberId?: unknown }) => {
    if (typeof data?.memberId !== "string") return;
    for (const listener of this.listeners) {
      try {
        listener(data.memberId);
      } catch (err) {
        this.log.warn({ err, memberId: data.memberId }, "a room failed to close a revoked member's connections");
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

  /** Calls `listener` with each revoked member id until the returned function is called. */
  listen(listener: (memberId: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
