import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import { listNotifications } from "../db/notifications.ts";
import { drainOutboxBatch } from "../db/outbox.ts";
import { Topic } from "../rooms/topics.ts";
import { DrainLoop } from "./drainLoop.ts";
import { notificationJson } from "./notices.ts";

/** Retry delay after `attempts` failures: 1 s, 2 s, 4 s … capped at 5 minutes. Pure. */
export function retryDelayMs(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

/**
 * Topics this dispatcher delivers. `deliver_reply` is the delivery worker's (server/delivery.ts),
 * `push` the push worker's (server/push/worker.ts), `send_csat` the survey worker's (server/csat.ts).
 */
export const DELIVERED_TOPICS = ["notice"] as const;

/**
 * Delivers committed side effects. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several
 * processes can run it; delivery is at least once (a notice carries its id for de-duplication).
 */
export class OutboxDispatcher {
  private readonly loop = new DrainLoop(
    () => this.drainAll(),
    (err) => this.log.error({ err }, "outbox drain failed"),
  );

  constructor(
    private readonly db: Db,
    private readonly presence: Presence,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  start(intervalMs = 1000): void {
    this.loop.start(intervalMs);
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Runs a drain now, or right after the one under way. */
  kick(): void {
    this.loop.kick();
  }

  /**
   * Runs a drain when rows of `topics` were queued and this dispatcher delivers one of them;
   * otherwise (a `push`, `deliver_reply` or `send_csat` row, delivered by another worker) does nothing.
   */
  kickFor(topics: readonly string[]): void {
    if (topics.some((t) => (DELIVERED_TOPICS as readonly string[]).includes(t))) this.loop.kick();
  }

  /** Drains until nothing is due. Resolves with the number of rows delivered. */
  async drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.drainBatch(100);
      total += n;
      if (n < 100) return total;
    }
  }

  private async drainBatch(limit: number): Promise<number> {
    return drainOutboxBatch(
      this.db,
      { topics: DELIVERED_TOPICS, limit, now: this.now, retryDelayMs },
      async (row, tx) => {
        if (row.payload.kind !== "notice") throw new Error(`unexpected payload on ${row.topic}`);
        const [notice] = await listNotifications(tx, row.payload.memberId, { limit: 1, ids: [row.payload.notificationId] });
        if (notice) await this.presence.publish(Topic.inbox(row.payload.memberId), { type: "notice", notice: notificationJson(notice) });
      },
      (err, row) => this.log.warn({ err, outboxId: row.id }, "outbox delivery failed; will retry"),
    );
  }
}
