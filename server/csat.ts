import { randomBytes, randomUUID } from "node:crypto";
import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import { type ClaimedCsat, claimCsatRows, finishCsatRow, retryCsatRow, surveyForClose } from "../db/surveys.ts";
import { SURVEY_LIFETIME_MS, closeKeyOf } from "../domain/csat.ts";
import { ErrorCode } from "../domain/errors.ts";
import { renderSurveyInvite } from "../domain/texts.ts";
import { csatTopic } from "../rooms/csat.ts";
import type { Answer } from "../rooms/protocol.ts";
import type { ServerInput } from "../rooms/ConversationRoom.ts";
import { DrainLoop } from "./drainLoop.ts";
import { retryDelayMs } from "./outbox.ts";
import { callConversation } from "./roomCalls.ts";

/**
 * The survey worker (R8.2, R13.1): handles the `send_csat` outbox rows a close with `csatOnClose`
 * queues (domain/decide.ts). For each close it creates the survey once (keyed by the close:
 * conversation id and the close's seq, so a retried row finds the same survey) and sends its link
 * `<PUBLIC_URL>/survey/<token>` to the customer through the conversation's room as an automatic
 * message (sender `auto`, sender id `csat`, request id `csat:<surveyId>`: the room stores it once,
 * a retry is answered `duplicate`), which the delivery worker then sends through the channel.
 * Rows are claimed with `FOR UPDATE SKIP LOCKED` and a lease; the room is called outside any
 * transaction. Exactly once per close from the customer's view: one survey, one message.
 */
export interface CsatWorkerOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly now: () => Date;
  readonly presence: Presence;
  /** The server's public base URL, without a trailing slash (`PUBLIC_URL`). */
  readonly publicUrl: () => string;
  readonly leaseMs?: number;
  readonly pollMs?: number;
  /** How the room is reached (default: `callConversation`, any process). */
  readonly call?: (conversationId: string, input: ServerInput) => Promise<Answer>;
}

/** Refusals that no retry changes: the row is done (logged). */
const FINAL: ReadonlySet<string> = new Set([ErrorCode.NOT_FOUND, ErrorCode.TRIGGERED_NOT_SUPPORTED]);

export class CsatWorker {
  private readonly loop = new DrainLoop(
    () => this.drainAll(),
    (err) => this.opts.log.error({ err }, "survey drain failed"),
  );

  constructor(private readonly opts: CsatWorkerOptions) {}

  start(): void {
    this.loop.start(this.opts.pollMs ?? 1000);
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  kick(): void {
    this.loop.kick();
  }

  /** Handles rows until none is due; resolves with how many were claimed. */
  async drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const claims = await claimCsatRows(this.opts.db, { now: this.opts.now(), leaseMs: this.opts.leaseMs ?? 60_000, limit: 16 });
      if (claims.length === 0) return total;
      for (const c of claims) await this.handle(c);
      total += claims.length;
    }
  }

  private async handle(claim: ClaimedCsat): Promise<void> {
    const { db, log, now } = this.opts;
    const attempts = claim.attempts + 1;
    try {
      const at = now();
      const survey = await surveyForClose(db, {
        id: randomUUID(),
        token: randomBytes(32).toString("base64url"),
        closeKey: closeKeyOf(claim.conversationId, claim.seq),
        conversationId: claim.conversationId,
        createdAt: at,
        expiresAt: new Date(at.getTime() + SURVEY_LIFETIME_MS),
      });
      if (!survey) {
        log.warn({ conversationId: claim.conversationId }, "survey not sent: no such conversation");
        return await finishCsatRow(db, claim.outboxId, now(), attempts);
      }
      const url = `${this.opts.publicUrl()}/survey/${survey.token}`;
      const call = this.opts.call ?? callConversation;
      const answer = await call(claim.conversationId, { type: "send_csat", requestId: `csat:${survey.id}`, text: renderSurveyInvite(url) });
      if (!answer.ok && !FINAL.has(answer.code)) throw new Error(`room refused the survey message: ${answer.code}`);
      if (!answer.ok) log.warn({ conversationId: claim.conversationId, code: answer.code }, "survey message refused");
      await finishCsatRow(db, claim.outboxId, now(), attempts);
      // The room shows the survey (its `csat` state) from storage.
      await Promise.resolve(this.opts.presence.publish(csatTopic(claim.conversationId), { surveyId: survey.id })).catch((err: unknown) =>
        log.warn({ err, conversationId: claim.conversationId }, "survey not announced to the room"),
      );
    } catch (err) {
      log.warn({ err, conversationId: claim.conversationId, outboxId: claim.outboxId }, "survey not sent; will retry");
      await retryCsatRow(db, claim.outboxId, new Date(now().getTime() + retryDelayMs(attempts)), attempts, String(err)).catch((e: unknown) =>
        log.warn({ err: e }, "survey retry not recorded (the lease runs out instead)"),
      );
    }
  }
}
