import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import { type ChannelAccountRow, intakeCustomer, selectChannelAccount } from "../../db/channels.ts";
import type { Db } from "../../db/client.ts";
import {
  claimInboundEvents,
  deleteProcessedInboundEvents,
  type InboundEventRow,
  insertInboundEvents,
  markInboundFailed,
  markInboundProcessed,
  releaseInboundEvents,
} from "../../db/inbound.ts";
import { textLength } from "../../domain/actions.ts";
import { fallbackText, type MessagePart } from "../../domain/channels.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { MAX_TEXT_LENGTH } from "../../domain/sets.ts";
import { listSummary, publishChange } from "../../rooms/feed.ts";
import { applyDeliveryReport } from "../delivery.ts";
import { DrainLoop } from "../drainLoop.ts";
import { callConversation } from "../roomCalls.ts";
import { toChannelAccount } from "./accounts.ts";
import type { ChannelAccount, InboundEvent, InboundMessage, InboundStatus, Receive } from "./types.ts";

/**
 * Durable, idempotent intake of provider events (issue 9). `receive` commits a webhook's events
 * (one row per channel and provider event id, in one statement) and returns once they are durable,
 * so the webhook may be answered; it then processes the newly stored ones into their
 * conversations through the rooms. The events are stored already claimed by this process (a
 * lease, as the processor's claim gives), so processing them costs no claim statement, and the
 * room marks a customer message's event processed in the statement that commits the message. A
 * process killed in between leaves rows unprocessed: once their lease runs out, the processor
 * started with the app claims them (`FOR UPDATE SKIP LOCKED`) and applies them — at least once,
 * and the room's check of the provider event id (the message's request id) makes the second
 * application a duplicate, so each event lands once.
 */

export interface IntakeOptions {
  readonly db: Db;
  readonly presence: Presence;
  readonly log: Logger;
  readonly now: () => Date;
  /** How long a claim on an event lasts: a process that dies while processing gives it up after this. */
  readonly leaseMs?: number;
  /** How often the processor looks for events left unprocessed (a crash, a failure to retry). */
  readonly pollMs?: number;
  /** Processed events are deleted this many days after processing (default 30). */
  readonly retentionDays?: number;
}

/** What processing one message event came to (the Webchat endpoint answers with it). */
export interface Processed {
  readonly conversationId: string;
  readonly seq: number | null;
  readonly duplicate: boolean;
}

/** A processed message, and whether the room's commit marked its stored event processed. */
interface Applied extends Processed {
  readonly marked: boolean;
}

/** Room answers that mean "try again later": storage or presence down, an unexpected failure. */
const TRANSIENT: ReadonlySet<string> = new Set([ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.INTERNAL]);
/** A status report for a message whose send has not been recorded yet is retried this many times. */
const UNMATCHED_STATUS_ATTEMPTS = 5;

/** A failure to process an event now; it is tried again later. */
class Retry extends Error {}

/** The room refused a customer message: `code` says why (transient codes are retried). */
class RoomRefusal extends Error {
  constructor(readonly code: ErrorCode) {
    super(`room answered ${code}`);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Replaces what PostgreSQL cannot store in text or jsonb (NUL, lone surrogates), everywhere in a value. */
function storable(value: unknown): unknown {
  if (typeof value === "string") return value.replace(LONE_SURROGATE, "\uFFFD").replaceAll(String.fromCharCode(0), "\uFFFD");
  if (Array.isArray(value)) return value.map(storable);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, storable(v)]));
  return value;
}

/**
 * The body of a customer message and the parts stored with it: plain text is the body alone;
 * anything else (media, stickers, locations, text over the length limit) keeps its parts and
 * stores their text fallback, cut to MAX_TEXT_LENGTH code points, as the body.
 */
export function bodyOf(parts: readonly MessagePart[]): { text: string; parts?: readonly MessagePart[] } {
  const text = parts.map(fallbackText).join("\n").trim() || "[message]";
  const plain = parts.every((p) => p.type === "text");
  if (plain && textLength(text) <= MAX_TEXT_LENGTH) return { text };
  return {
    text:
      textLength(text) <= MAX_TEXT_LENGTH
        ? text
        : `${Array.from(text)
            .slice(0, MAX_TEXT_LENGTH - 1)
            .join("")}…`,
    parts,
  };
}

export class Intake {
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Per contact or group: the tail of the processing queued for it. */
  private readonly lanes = new Map<string, Promise<void>>();
  private lastCleanUp = Number.NEGATIVE_INFINITY;
  private readonly loop = new DrainLoop(
    () => this.drain(),
    (err) => this.deps.log.error({ err }, "inbound processor failed; will retry"),
  );

  constructor(private readonly deps: IntakeOptions) {
    this.leaseMs = deps.leaseMs ?? 30_000;
    this.pollMs = deps.pollMs ?? 5_000;
  }

  /**
   * The `Receive` of server/channels/types.ts: stores the events (idempotent on the provider event
   * id) and returns once committed; the newly stored ones are then processed in the background,
   * in their batch's order. Throws when the events could not be stored (answer the webhook 5xx:
   * the provider retries).
   */
  readonly receive: Receive = async (account, events) => {
    const rows = await this.store(account, events, !this.stopping);
    if (rows.length > 0) {
      if (this.stopping) {
        // Stored claimed, but not processed here: due at once for the next start's processor.
        await releaseInboundEvents(
          this.deps.db,
          rows.map((r) => r.id),
          this.deps.now(),
        ).catch((err: unknown) => this.deps.log.warn({ err }, "inbound events not released; their lease runs out instead"));
      } else {
        // In the order the webhooks were committed, per conversation: a contact's quick successive
        // messages (one webhook each) land in the order they were sent.
        const keys = [
          ...new Set(
            events.map((e) => (e.kind === "message" ? `${account.id}\u0000${e.groupId ?? e.channelUserId}` : `${account.id}\u0000status`)),
          ),
        ];
        // Stored claimed by this process: applied as they are, with the account the webhook was checked with.
        this.track(this.inOrder(keys, () => this.processRows(rows, account)));
      }
    }
    return { stored: rows.length, duplicates: events.length - rows.length };
  };

  /**
   * Stores one customer message and processes it now, answering where it landed (the Webchat
   * endpoint, whose caller waits for the conversation and seq). A re-delivery is processed again
   * and the room answers it `duplicate`, so the answer is the same either way.
   */
  async receiveNow(account: ChannelAccount, event: InboundMessage): Promise<Processed> {
    const [stored] = await this.store(account, [event], true);
    try {
      const { marked, ...processed } = await this.applyMessage(account, storable(event) as InboundMessage, stored?.id);
      if (stored && !marked) await markInboundProcessed(this.deps.db, stored.id, this.deps.now());
      return processed;
    } catch (err) {
      // Left unprocessed and due at once: the processor applies it later unless the caller's retry does first.
      if (stored) await releaseInboundEvents(this.deps.db, [stored.id], this.deps.now()).catch(() => {});
      if (err instanceof RoomRefusal) throw new DomainError(err.code);
      throw err;
    }
  }

  /** Starts the processor of events left unprocessed (after a crash, or failed and due again). */
  start(): void {
    this.loop.start(this.pollMs);
  }

  /** Looks for unprocessed events now. */
  kick(): void {
    this.loop.kick();
  }

  /** Resolves once the processing under way has ended (tests; a graceful stop). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || this.loop.current) {
      await Promise.allSettled([...this.inFlight, this.loop.current]);
    }
  }

  /** Stops the processor after the work under way; what is left is picked up at the next start. */
  async stop(): Promise<void> {
    await this.loop.stop();
    await this.idle();
  }

  /** True once stopping: new work is not started, long drains end between steps. */
  private get stopping(): boolean {
    return this.loop.stopped;
  }

  /** Runs `fn` after everything queued before on any of `keys` (in this process), and queues it there. */
  private inOrder(keys: readonly string[], fn: () => Promise<void>): Promise<void> {
    const before = Promise.allSettled(keys.map((k) => this.lanes.get(k)));
    const run = before.then(fn);
    const tail = run.catch(() => {});
    for (const k of keys) this.lanes.set(k, tail);
    void tail.then(() => {
      for (const k of keys) if (this.lanes.get(k) === tail) this.lanes.delete(k);
    });
    return run;
  }

  private track(p: Promise<unknown>): void {
    const tracked = p
      .catch((err: unknown) => this.deps.log.error({ err }, "inbound processing failed"))
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Stores the events; `claimed`: stored with this process's lease (it processes them now). */
  private async store(account: ChannelAccount, events: readonly InboundEvent[], claimed: boolean): Promise<InboundEventRow[]> {
    return insertInboundEvents(
      this.deps.db,
      account.id,
      events.map((e) => ({ providerEventId: storable(e.providerEventId) as string, payload: storable(e) as Record<string, unknown> })),
      this.deps.now(),
      claimed ? { leaseMs: this.leaseMs } : {},
    );
  }

  private async drain(): Promise<void> {
    await this.cleanUp();
    while (!this.stopping) {
      const rows = await claimInboundEvents(this.deps.db, { now: this.deps.now(), leaseMs: this.leaseMs, limit: 20 });
      if (rows.length === 0) return;
      await this.processRows(rows);
    }
  }

  /**
   * Retention: at most once an hour, events processed more than `retentionDays` ago are deleted,
   * a batch at a time (the table would otherwise grow with every message ever received).
   */
  private async cleanUp(): Promise<void> {
    const now = this.deps.now();
    if (now.getTime() - this.lastCleanUp < 3_600_000) return;
    this.lastCleanUp = now.getTime();
    const before = new Date(now.getTime() - (this.deps.retentionDays ?? 30) * 86_400_000);
    let total = 0;
    // Until a batch finds nothing (another process may be deleting the same rows at the same time).
    while (!this.stopping) {
      const n = await deleteProcessedInboundEvents(this.deps.db, before, 1000);
      total += n;
      if (n === 0) break;
    }
    if (total > 0) this.deps.log.info({ deleted: total, before }, "inbound events past their retention deleted");
  }

  /** Claimed rows, in order; `known`: their channel account when the caller has it (the webhook just checked it). */
  private async processRows(rows: readonly InboundEventRow[], known?: ChannelAccount): Promise<void> {
    const accounts = new Map<string, ChannelAccount | null>();
    if (known) accounts.set(known.id, known);
    for (const row of rows) {
      if (!accounts.has(row.channelId)) accounts.set(row.channelId, await this.account(row.channelId));
      await this.processRow(row, accounts.get(row.channelId) ?? null);
    }
  }

  private async account(channelId: string): Promise<ChannelAccount | null> {
    const row: ChannelAccountRow | null = await selectChannelAccount(this.deps.db, channelId);
    return row ? toChannelAccount(this.deps.db, row) : null;
  }

  /** Applies one claimed event and marks it processed; a failure leaves it for a later attempt (backoff). */
  private async processRow(row: InboundEventRow, account: ChannelAccount | null): Promise<void> {
    const { db, log, now } = this.deps;
    try {
      if (!account) throw new Error("channel account not found");
      const event = row.payload as unknown as InboundEvent;
      if (event.kind === "message") {
        try {
          // Marked processed by the room's commit when the message is written; else (a duplicate) below.
          if ((await this.applyMessage(account, event, row.id)).marked) return;
        } catch (err) {
          if (!(err instanceof RoomRefusal) || TRANSIENT.has(err.code)) throw err;
          // A refusal for good (the conversation's rules): kept with the event, not retried.
          log.warn(
            { channelId: row.channelId, providerEventId: row.providerEventId, code: err.code },
            "customer message refused by the room",
          );
          await markInboundProcessed(db, row.id, now(), err.code);
          return;
        }
      } else if (event.kind === "status") {
        await this.applyStatus(account, event, row.attempts);
      } else {
        log.warn({ channelId: row.channelId, providerEventId: row.providerEventId }, "inbound event of an unknown kind: ignored");
      }
      await markInboundProcessed(db, row.id, now());
    } catch (err) {
      const delayMs = Math.min(300_000, 1000 * 2 ** Math.min(row.attempts, 10));
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof Retry))
        log.warn(
          { err, channelId: row.channelId, providerEventId: row.providerEventId, attempts: row.attempts },
          "inbound event not processed; will retry",
        );
      await markInboundFailed(db, row.id, message, new Date(now().getTime() + delayMs)).catch((e: unknown) =>
        log.warn({ err: e, eventId: row.id }, "inbound event failure not recorded; its lease runs out instead"),
      );
    }
  }

  /** A customer message: the customer (profile) and conversation it lands in, then the room applies it. */
  private async applyMessage(account: ChannelAccount, event: InboundMessage, inboundEventId?: number): Promise<Applied> {
    const { db, presence } = this.deps;
    const contact = {
      channelUserId: event.channelUserId,
      ...(event.displayName ? { displayName: event.displayName } : {}),
      ...(event.pictureUrl ? { pictureUrl: event.pictureUrl } : {}),
    };
    const { conversationId, customerId, created } = await intakeCustomer(db, account, contact, event.groupId);
    if (created) {
      // A new conversation appears in the lists (after its commit, like every change).
      await publishChange(presence, {
        type: "conversation",
        workspaceId: created.conversation.workspaceId,
        conversationId,
        version: created.conversation.version,
        before: null,
        after: listSummary(created.conversation, created.times),
        memberStates: [],
      });
    }
    const { text, parts } = bodyOf(event.parts);
    const answer = await callConversation(conversationId, {
      type: "customer_message",
      requestId: event.providerEventId,
      text,
      ...(parts ? { parts } : {}),
      customerId,
      ...(inboundEventId !== undefined ? { inboundEventId } : {}),
    });
    if (!answer.ok) throw new RoomRefusal(answer.code);
    const duplicate = answer.duplicate ?? false;
    // Written now (not a duplicate): the commit that wrote it marked the event processed.
    return {
      conversationId,
      seq: answer.seq ?? null,
      duplicate,
      marked: inboundEventId !== undefined && !duplicate && answer.seq !== undefined,
    };
  }

  /** A provider's delivery report: moves the message's status forward (server/delivery.ts). */
  private async applyStatus(account: ChannelAccount, event: InboundStatus, attempts: number): Promise<void> {
    const { matched } = await applyDeliveryReport(this.deps.db, account, event);
    // The report can overtake the commit of the send it is about: try again a few times.
    if (!matched && attempts < UNMATCHED_STATUS_ATTEMPTS) throw new Retry("no message with this provider message id (yet)");
  }
}
