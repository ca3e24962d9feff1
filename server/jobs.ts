import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import { type JobRow, type Outcome, type PendingItem, claimJob, finishJob, jobView, nextItems, recordOutcomes, setLease } from "../db/jobs.ts";
import { loadMember, wasProcessed } from "../db/repository.ts";
import type { MemberAction } from "../domain/actions.ts";
import { ErrorCode } from "../domain/errors.ts";
import { isParticipant } from "../domain/model.ts";
import type { View } from "../domain/sets.ts";
import type { Answer } from "../rooms/protocol.ts";
import type { ServerInput } from "../rooms/ConversationRoom.ts";
import { Topic } from "../rooms/topics.ts";
import { callConversation } from "./roomCalls.ts";

/** What a bulk job's `input` holds besides its items (the conversations, in `job_items`). */
export interface BulkInput {
  readonly view: View;
  /** bulk_transfer: the new follower. */
  readonly memberId?: string;
}

/** What a member job's `input` holds. */
export interface MemberJobInput {
  readonly memberId: string;
}

export interface JobRunnerOptions {
  readonly db: Db;
  readonly presence: Presence;
  readonly log: Logger;
  readonly now: () => Date;
  /** A pause between items, to spread load (config `JOB_ITEM_PAUSE_MS`). */
  readonly itemPauseMs?: number;
  /** How long a claim holds a job without renewal; a dead process's jobs are taken over after it. */
  readonly leaseMs?: number;
  /** How often to look for jobs whose lease ran out. */
  readonly pollMs?: number;
}

/** Outcomes are written (and progress published) at least this often … */
const FLUSH_MS = 250;
/** … or every this many items. */
const FLUSH_ITEMS = 100;
/** Items read from storage at a time. */
const PAGE = 200;
/** Attempts per item when the room call fails or storage is unavailable. */
const ATTEMPTS = 3;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs jobs (bulk actions, member deactivation) item by item; resumes unfinished ones.
 *
 * One job at a time per process, its items one after another, each through its conversation's
 * room (`callConversation`), so every rule, log line and notice is the room's own. A job is
 * claimed with a lease (renewed while working); a job whose process died is claimed again by
 * any runner once its lease ran out, and carries on with the items that have no outcome yet.
 * An item that was applied but whose outcome was not yet written is sent again: bulk items
 * carry the request id `job:<jobId>` (the room answers `duplicate`), departures find the member
 * gone (`skipped`) — so nothing applies twice.
 */
export class JobRunner {
  private running: Promise<void> | null = null;
  private again = false;
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly itemPauseMs: number;

  constructor(readonly deps: JobRunnerOptions) {
    this.leaseMs = deps.leaseMs ?? 15_000;
    this.pollMs = deps.pollMs ?? 5_000;
    this.itemPauseMs = deps.itemPauseMs ?? 0;
  }

  start(): void {
    this.stopping = false;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for work now (or right after the job under way). */
  kick(): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err) => this.deps.log.error({ err }, "job runner failed; will retry"))
      .finally(() => {
        this.running = null;
        if (this.again && !this.stopping) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops after the item under way; the job's lease is given back so another process (or the next start) resumes it at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private leaseUntil(): Date {
    return new Date(this.deps.now().getTime() + this.leaseMs);
  }

  private async drain(): Promise<void> {
    while (!this.stopping) {
      const job = await claimJob(this.deps.db, this.deps.now(), this.leaseUntil());
      if (!job) return;
      await this.run(job);
    }
  }

  private async run(job: JobRow): Promise<void> {
    const { db, log } = this.deps;
    // Renew the lease while working, even when one item takes long.
    const heartbeat = setInterval(() => {
      setLease(db, job.id, this.leaseUntil()).catch((err) => log.warn({ err, jobId: job.id }, "job lease not renewed"));
    }, Math.max(1000, Math.floor(this.leaseMs / 3)));
    heartbeat.unref();
    try {
      await this.work(job);
    } catch (err) {
      log.error({ err, jobId: job.id }, "job interrupted; it resumes when its lease runs out");
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async work(job: JobRow): Promise<void> {
    const { db, now } = this.deps;
    const handle = await this.handlerFor(job);
    if (typeof handle === "string") {
      const done = await finishJob(db, job.id, "failed", now(), handle);
      await this.publish(done);
      return;
    }
    let pending: Outcome[] = [];
    let lastFlush = Date.now();
    const flush = async () => {
      const stored = await recordOutcomes(db, job.id, pending, now(), this.leaseUntil());
      pending = [];
      lastFlush = Date.now();
      await this.publish(stored);
    };
    for (;;) {
      const items = await nextItems(db, job, PAGE);
      if (items.length === 0) break;
      for (const item of items) {
        if (this.stopping) {
          await flush();
          await setLease(db, job.id, null);
          return;
        }
        pending.push(await handle(item));
        if (pending.length >= FLUSH_ITEMS || Date.now() - lastFlush >= FLUSH_MS) await flush();
        if (this.itemPauseMs > 0) await sleep(this.itemPauseMs);
      }
      if (pending.length > 0) await flush();
    }
    const done = await finishJob(db, job.id, "done", now());
    await this.publish(done);
    this.deps.log.info({ jobId: job.id, kind: job.kind, total: done.total }, "job done");
  }

  /** How each item of this job is handled, or why the job cannot run at all. */
  private async handlerFor(job: JobRow): Promise<((item: PendingItem) => Promise<Outcome>) | string> {
    switch (job.kind) {
      case "bulk_close":
      case "bulk_reopen":
      case "bulk_transfer": {
        const input = job.input as unknown as BulkInput;
        if (!job.actorId) return "bulk job without an actor";
        if (job.kind === "bulk_transfer" && !input.memberId) return "bulk transfer without a target";
        const requestId = `job:${job.id}`;
        const action: MemberAction =
          job.kind === "bulk_close"
            ? { type: "close", requestId }
            : job.kind === "bulk_reopen"
              ? { type: "reopen", requestId }
              : { type: "transfer", requestId, memberId: input.memberId! };
        const actorId = job.actorId;
        return async (item) => {
          if (!item.conversation) return { idx: item.idx, outcome: "refused", code: ErrorCode.NOT_FOUND };
          // R7.5 was checked for the whole selection; one that became collaborative since is refused alone.
          if (job.kind === "bulk_transfer" && (item.conversation.kind === "group" || item.conversation.collaboratorIds.length > 0)) {
            return { idx: item.idx, outcome: "refused", code: ErrorCode.BULK_TRANSFER_COLLABORATIVE };
          }
          // The actor as they are now: a role change applies to the items not yet done.
          const member = await loadMember(this.deps.db, actorId);
          if (!member) return { idx: item.idx, outcome: "refused", code: ErrorCode.NOT_FOUND };
          if (member.status !== "active") return { idx: item.idx, outcome: "refused", code: ErrorCode.MEMBER_INACTIVE };
          // Applied before (a run cut short): the room would judge the access the action itself changed.
          if (await wasProcessed(this.deps.db, item.conversationId, member.id, requestId)) return { idx: item.idx, outcome: "duplicate", code: null };
          const call: ServerInput = {
            type: "member_action",
            member: { id: member.id, role: member.role, locale: member.locale, status: member.status, workspaceId: member.workspaceId },
            view: input.view ?? "mine",
            action,
          };
          return toOutcome(item.idx, await this.call(item.conversationId, call));
        };
      }
      case "member_deactivate":
      case "member_delete": {
        const { memberId } = job.input as unknown as MemberJobInput;
        if (!memberId) return "member job without a member";
        const requestId = `departed:${memberId}:${job.id}`;
        return async (item) => {
          if (!item.conversation) return { idx: item.idx, outcome: "refused", code: ErrorCode.NOT_FOUND };
          // Already gone (an earlier run, or they left): nothing to do, and nothing is done twice.
          if (!isParticipant(item.conversation, memberId)) return { idx: item.idx, outcome: "skipped", code: null };
          const call: ServerInput = { type: "member_departed", requestId, memberId, actorId: job.actorId };
          return toOutcome(item.idx, await this.call(item.conversationId, call));
        };
      }
      default:
        return `unknown job kind ${String(job.kind)}`;
    }
  }

  /** One room call, tried again a few times when the room or storage fails. */
  private async call(conversationId: string, input: ServerInput): Promise<Answer> {
    let last: Answer | null = null;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        last = await callConversation(conversationId, input);
        if (last.ok || last.code !== ErrorCode.STORAGE_UNAVAILABLE) return last;
      } catch (err) {
        this.deps.log.warn({ err, conversationId, attempt }, "job item: room call failed");
        last = { requestId: null, ok: false, code: ErrorCode.STORAGE_UNAVAILABLE, message: "" };
      }
      if (this.stopping) break;
      await sleep(200 * attempt);
    }
    return last!;
  }

  private async publish(job: JobRow): Promise<void> {
    if (!job.actorId) return;
    try {
      await this.deps.presence.publish(Topic.inbox(job.actorId), { type: "job", job: jobView(job) });
    } catch (err) {
      this.deps.log.warn({ err, jobId: job.id }, "job progress not published");
    }
  }
}

function toOutcome(idx: number, answer: Answer): Outcome {
  if (answer.ok) return { idx, outcome: answer.duplicate ? "duplicate" : "ok", code: null };
  return { idx, outcome: "refused", code: answer.code };
}
