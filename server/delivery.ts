import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import {
  type ClaimedDelivery,
  type DeliveryRecord,
  type StoredDelivery,
  advanceByProviderId,
  claimDueDeliveries,
  loadDeliveryTarget,
  recordDelivery,
} from "../db/delivery.ts";
import { assertNever } from "../domain/sets.ts";
import { DeliveryCode, type RetryPolicy, gate, stepAfterSend } from "../domain/delivery.ts";
import type { ChannelAccount, ChannelSender, InboundStatus, OutboundMessage, SendResult } from "./channels/types.ts";
import type { SenderRegistry } from "./channels/senders.ts";
import { services } from "../rooms/ports.ts";
import { Topic } from "../rooms/topics.ts";
import { DrainLoop } from "./drainLoop.ts";
import { withServiceDeadline } from "./serviceDeadline.ts";

/**
 * The delivery worker (issue 9, item 5): sends committed staff replies through their channel's
 * provider and records what came of it. Several processes may run it: a delivery is claimed with
 * `FOR UPDATE SKIP LOCKED` and a lease (db/delivery.ts). Per conversation, replies leave in `seq`
 * order: only the first pending one of a conversation is ever claimed, so a reply waiting for a
 * retry holds back the ones after it.
 *
 * At least once: a process that dies after the provider accepted a send but before the outcome is
 * committed leaves the claim to run out, and the next claim sends again. The retry key
 * (`OutboundMessage.retryKey`, stable per message) lets a provider that honours one drop the
 * second copy (LINE `X-Line-Retry-Key`: LINE answers 409 and sends nothing); others may show the
 * customer the reply twice.
 */

export interface DeliveryWorkerOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly now: () => Date;
  readonly senders: SenderRegistry;
  /** The channel account, credentials decrypted (server/channels/accounts.ts `loadAccount`), enabled or not. */
  readonly loadAccount: (db: Db, channelId: string) => Promise<ChannelAccount | null>;
  readonly policy: RetryPolicy;
  /** How long a claim lasts: longer than a send may take (the senders' own timeouts). */
  readonly leaseMs: number;
  readonly pollMs: number;
  /** In [0, 1): the backoff's jitter. */
  readonly random?: () => number;
  /** Tells the conversation's room that a message's delivery changed, and to what (default: the live room, if any). */
  readonly tell?: (conversationId: string, seq: number, delivery: StoredDelivery) => Promise<void>;
}

/** How many conversations' first replies go out at once. */
const BATCH = 16;

export class DeliveryWorker {
  private readonly loop = new DrainLoop(
    () => this.drainAll(),
    (err) => this.opts.log.error({ err }, "delivery drain failed"),
  );
  private readonly tell: (conversationId: string, seq: number, delivery: StoredDelivery) => Promise<void>;

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.tell = opts.tell ?? ((id, seq, delivery) => tellLiveRoom(id, seq, opts.log, delivery));
  }

  get senders(): SenderRegistry {
    return this.opts.senders;
  }

  start(): void {
    this.loop.start(this.opts.pollMs);
  }

  /** Stops the timer and ignores kicks from now on; resolves once the drain under way is over. */
  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Runs a drain now, or right after the one under way. */
  kick(): void {
    this.loop.kick();
  }

  /** Delivers until nothing is due; resolves with how many deliveries were handled. */
  async drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const claims = await claimDueDeliveries(this.opts.db, { now: this.opts.now(), leaseMs: this.opts.leaseMs, limit: BATCH });
      if (claims.length === 0) return total;
      // One claim per conversation: different conversations go out side by side. A channel
      // account is read once per batch, whatever the number of its claims in it.
      const accounts = new Map<string, Promise<ChannelAccount | null>>();
      await Promise.all(claims.map((c) => this.deliverOne(c, accounts)));
      total += claims.length;
    }
  }

  private async deliverOne(claim: ClaimedDelivery, accounts: Map<string, Promise<ChannelAccount | null>>): Promise<void> {
    const { db, log, now } = this.opts;
    let record: DeliveryRecord;
    try {
      record = await this.attempt(claim, accounts);
    } catch (err) {
      // Storage failed while reading what to send: the claim runs out and is taken again.
      log.warn({ err, conversationId: claim.conversationId, seq: claim.seq }, "delivery not attempted; will retry after the lease");
      return;
    }
    const after = await recordDelivery(db, claim, record, now());
    if (record.kind === "failed") log.warn({ conversationId: claim.conversationId, seq: claim.seq, code: record.code }, "delivery failed");
    if (after.changed) await this.tell(claim.conversationId, claim.seq, after);
  }

  /** Decides what becomes of one claim: sends it if it should be sent, and maps the answer to a record. */
  private async attempt(claim: ClaimedDelivery, accounts: Map<string, Promise<ChannelAccount | null>>): Promise<DeliveryRecord> {
    const { db, now, policy } = this.opts;
    // Read by the claim's statement; a claim made without it reads it here.
    const target = claim.target !== undefined ? claim.target : await loadDeliveryTarget(db, claim.conversationId, claim.seq);
    // Not a delivery (a conversation without a channel account), or past `queued` already (a
    // crash after the outcome was committed but before the row was done cannot happen: one
    // transaction; this guards hand-edited rows).
    if (!target || (target.status !== "queued" && target.status !== "held")) return { kind: "skip" };
    if (!target.channelId) return { kind: "failed", code: DeliveryCode.channelMissing, reason: "the conversation has no channel account" };
    const channelId = target.channelId;
    let reading = accounts.get(channelId);
    if (!reading) {
      reading = this.opts.loadAccount(db, channelId);
      accounts.set(channelId, reading);
    }
    const account = await reading;
    if (!account) return { kind: "failed", code: DeliveryCode.channelMissing, reason: `channel ${target.channelId} not found` };
    if (gate(account.status) === "held") return { kind: "held", at: new Date(now().getTime() + this.opts.pollMs) };
    const sender = this.opts.senders.get(account.type);
    if (!sender) return { kind: "failed", code: DeliveryCode.channelUnsupported, reason: `no sender for ${account.type} channels` };
    if (!target.recipient) return { kind: "failed", code: DeliveryCode.noRecipient, reason: "the customer has no id on the channel" };
    const message: OutboundMessage = {
      conversationId: claim.conversationId,
      seq: claim.seq,
      retryKey: retryKeyOf(claim.conversationId, claim.seq),
      recipient: target.recipient,
      ...(target.groupId ? { groupId: target.groupId } : {}),
      text: target.text,
      ...(target.parts ? { parts: target.parts } : {}),
    };
    const result = await sendSafely(sender, account, message);
    const step = stepAfterSend(result, claim.attempts, now().getTime(), policy, this.opts.random ?? Math.random);
    switch (step.next) {
      case "sent":
        return { kind: "sent", providerMessageId: step.providerMessageId };
      case "retry":
        return { kind: "retry", at: new Date(step.atMs), error: `${step.code}: ${step.reason}` };
      case "failed":
        return { kind: "failed", code: step.code, reason: step.reason };
      default:
        return assertNever(step);
    }
  }
}

/** A sender that throws (a bug, a socket error it did not map) is a transient failure, never a lost message. */
async function sendSafely(sender: ChannelSender, account: ChannelAccount, message: OutboundMessage): Promise<SendResult> {
  try {
    return await sender.send(account, message);
  } catch (err) {
    return { ok: false, transient: true, code: "DELIVERY_SEND_ERROR", reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The message's retry key: the same for every attempt of this message, a UUID as LINE requires
 * (`X-Line-Retry-Key`), derived from the conversation id and seq so another process computes the same.
 */
export function retryKeyOf(conversationId: string, seq: number): string {
  const h = createHash("sha256").update(`${conversationId}\u0000${seq}`).digest("hex");
  // A version-5-shaped UUID (name-based): variant and version bits set.
  const variant = ((Number.parseInt(h[16] ?? "0", 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Tells the conversation's room, wherever it lives, to show a message's stored delivery: a
 * presence message (`Topic.delivery`) the room handles in its lane (committed before told),
 * carrying the delivery as the commit left it, so the room need not read it back
 * (`ConversationRoom.onDelivery` decides when it still must). A room being created subscribes
 * before it restores, so the change is not lost in between; a room not live restores the stored
 * value when created. Failures are logged: the next restore shows the truth.
 */
export async function tellLiveRoom(conversationId: string, seq: number, log: Logger, delivery: StoredDelivery): Promise<void> {
  const event = { seq, status: delivery.status, code: delivery.code, reason: delivery.reason };
  try {
    await withServiceDeadline(services().presence.publish(Topic.delivery(conversationId), event), "presence.publish");
  } catch (err) {
    log.warn({ err, conversationId, seq }, "room not told of a delivery change");
  }
}

/**
 * A provider's status report (Meta, WhatsApp: delivered / read / failed) on a message we sent
 * through `account`: moves it forward by its provider message id, never back (a late `delivered`
 * after `read` changes nothing), then tells the room. Intake calls it for `status` events.
 */
export async function applyDeliveryReport(
  db: Db,
  account: ChannelAccount,
  report: InboundStatus,
  tell: (conversationId: string, seq: number, delivery: StoredDelivery) => Promise<void> = (id, seq, delivery) => tellLiveRoom(id, seq, services().log, delivery),
): Promise<{ matched: boolean; changed: boolean }> {
  const failure = report.status === "failed" ? { code: report.code ?? DeliveryCode.reportedFailed, reason: report.reason ?? "" } : {};
  const after = await advanceByProviderId(db, account.id, report.providerMessageId, report.status, failure);
  if (!after) return { matched: false, changed: false };
  if (after.changed) await tell(after.conversationId, after.seq, after);
  return { matched: true, changed: after.changed };
}
