import type { Logger } from "pino";
import type { Db } from "../../db/client.ts";
import { type DeviceRow, forgetDevice, touchDevices } from "../../db/devices.ts";
import { type ClaimedBatch, type BatchOutcome, claimDueBatches, collectPushEffects, finishBatch, loadPushTarget } from "../../db/push.ts";
import { type DeviceKind, pushPayload } from "../../domain/push.ts";
import { DrainLoop } from "../drainLoop.ts";
import type { PushSender } from "./sender.ts";

/**
 * The push worker (issue 11, R12.1). Customer messages' `push` effects are committed with the
 * message (db/commit.ts) and reach devices from here, so nothing is pushed for an action that was
 * refused or not committed. Per member and conversation, messages are coalesced: the first opens a
 * window of `windowMs`, and when it is over ONE push says how many came (db/push.ts).
 *
 * When the push leaves, it is skipped for a member who:
 * - has the conversation open in a connected client now (any process: `viewers`);
 * - has read the messages meanwhile (their unread count there is 0);
 * - muted every push, or this conversation; is no longer a participant, or no longer active.
 *
 * At least once: a process that dies while sending leaves the batch's lease to run out and another
 * sends it again; devices already reached in an earlier attempt are not sent to again. A device the
 * service reports gone (404 / 410) is removed. Several processes may run the worker.
 */

export interface PushWorkerOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly now: () => Date;
  readonly senders: ReadonlyMap<DeviceKind, PushSender>;
  /** `PUSH_COALESCE_SECONDS`, in ms. */
  readonly windowMs: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  /** The members who have the conversation open now (server/push/viewers.ts). */
  readonly viewers: (conversationId: string) => Promise<Set<string>>;
}

/** Sends of one batch in all: after this many rounds with transient failures, the rest are dropped. */
export const MAX_PUSH_ATTEMPTS = 5;
/** Transient failures are tried again after 5 s, 10 s, 20 s, 40 s. */
const RETRY_BASE_MS = 5000;
const BATCH = 16;
/** Push outbox rows folded per statement. */
const FOLD_LIMIT = 100;

export class PushWorker {
  private readonly loop = new DrainLoop(
    () => this.drain(),
    (err) => this.opts.log.error({ err }, "push drain failed"),
  );

  constructor(readonly opts: PushWorkerOptions) {}

  start(): void {
    this.loop.start(this.opts.pollMs);
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    for (const sender of this.opts.senders.values()) sender.close?.();
  }

  /**
   * Runs the loop now. The rooms fold a customer message's push into its batch in the commit
   * (db/commit.ts), due a window later, so they kick only when there is no window
   * (PUSH_COALESCE_SECONDS=0): the batch is due at once.
   */
  kick(): void {
    this.loop.kick();
  }

  /** Folds queued push effects into batches, then sends every batch due. Resolves with the batches handled. */
  drainAll(): Promise<number> {
    return this.drain();
  }

  private async drain(): Promise<number> {
    const { db, now, windowMs, leaseMs } = this.opts;
    // Effects queued in the outbox (a commit given no window — a process of an earlier version
    // during a rolling restart); a fold of fewer rows than the limit took all there were.
    while ((await collectPushEffects(db, { now: now(), windowMs, limit: FOLD_LIMIT })) === FOLD_LIMIT) {
      if (this.loop.stopped) return 0;
    }
    let total = 0;
    for (;;) {
      const claims = await claimDueBatches(db, { now: now(), leaseMs, limit: BATCH });
      if (claims.length === 0) return total;
      await Promise.all(claims.map((c) => this.sendBatch(c)));
      total += claims.length;
    }
  }

  private async sendBatch(claim: ClaimedBatch): Promise<void> {
    const { db, log, now, windowMs } = this.opts;
    let outcome: BatchOutcome;
    try {
      outcome = await this.attempt(claim);
    } catch (err) {
      // Storage failed while reading: the lease runs out and the batch is taken again.
      log.warn({ err, memberId: claim.memberId, conversationId: claim.conversationId }, "push not attempted; will retry after the lease");
      return;
    }
    await finishBatch(db, claim, outcome, { now: now(), windowMs });
  }

  private async attempt(claim: ClaimedBatch): Promise<BatchOutcome> {
    const { db, log, now } = this.opts;
    const target = await loadPushTarget(db, claim.memberId, claim.conversationId);
    if (!target?.member.active || target.muted || !target.participant || target.unread === 0) return { kind: "done" };
    const devices = target.devices.filter((d) => !claim.sentDeviceIds.includes(d.id) && this.opts.senders.has(d.kind));
    if (devices.length === 0) return { kind: "done" };
    if (await this.isViewing(claim)) return { kind: "done" };
    const payload = pushPayload({
      conversationId: claim.conversationId,
      customerName: target.customerName,
      count: claim.count,
      latestText: target.latestText,
      unread: target.unread,
      totalUnread: target.totalUnread,
      locale: target.member.locale,
    });
    const sent: string[] = [...claim.sentDeviceIds];
    const failures: string[] = [];
    await Promise.all(
      devices.map(async (device: DeviceRow) => {
        const result = await this.opts.senders.get(device.kind)!.send(device, payload);
        if (result.ok) {
          sent.push(device.id);
          return;
        }
        const where = { memberId: claim.memberId, deviceId: device.id, kind: device.kind, status: result.status, reason: result.reason };
        if (result.gone) {
          await forgetDevice(db, device.id);
          log.info(where, "push device gone; removed");
        } else if (result.transient) {
          failures.push(`${device.id}: ${result.status} ${result.reason}`);
        } else {
          log.warn(where, "push refused");
        }
      }),
    );
    await touchDevices(db, sent.filter((id) => !claim.sentDeviceIds.includes(id)), now());
    if (failures.length > 0 && claim.attempts + 1 < MAX_PUSH_ATTEMPTS) {
      const at = new Date(now().getTime() + RETRY_BASE_MS * 2 ** claim.attempts);
      return { kind: "retry", at, sentDeviceIds: sent, error: failures.join("; ").slice(0, 500) };
    }
    if (failures.length > 0) log.warn({ memberId: claim.memberId, conversationId: claim.conversationId, failures }, "push given up");
    return { kind: "done" };
  }

  /** Whether the member has the conversation open now. When that cannot be known, push (better twice than never). */
  private async isViewing(claim: ClaimedBatch): Promise<boolean> {
    try {
      return (await this.opts.viewers(claim.conversationId)).has(claim.memberId);
    } catch (err) {
      this.opts.log.warn({ err, conversationId: claim.conversationId }, "push: who views the conversation is unknown; pushing");
      return false;
    }
  }
}
