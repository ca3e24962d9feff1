import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import { type JobRow, type Outcome, type PendingItem, claimJob, finishJob, jobView, nextItems, recordOutcomes, setLease } from "../db/jobs.ts";
import { type MemberRow, loadMember } from "../db/repository.ts";
import { type ParsedBulkJob, bulkAction, bulkTransferable } from "../domain/bulk.ts";
import { ErrorCode } from "../domain/errors.ts";
import { JobKind, parseJobInput } from "../domain/jobs.ts";
import { isParticipant } from "../domain/model.ts";
import { MemberStatus, assertNever } from "../domain/sets.ts";
import type { Answer } from "../rooms/protocol.ts";
import type { ServerInput } from "../rooms/ConversationRoom.ts";
import { Topic } from "../rooms/topics.ts";
import { DrainLoop } from "./drainLoop.ts";
import { callConversation } from "./roomCalls.ts";

export interface JobRunnerOptions {
  readonly db: Db;
  readonly presence: Presence;
  readonly log: Logger;
  readonly now: () => Date;
  /** A pause between items, to spread load (config `JOB_ITEM_PAUSE_MS`). */
  readonly itemPauseMs?: number;
  /** Items under way at once (config `JOB_PARALLEL`); 1 when a pause is set. */
  readonly parallel?: number;
  /** How long a claim holds a job without renewal; a dead process's jobs are taken over after it. */
  readonly leaseMs?: number;
  /** How often to look for jobs whose lease ran out. */
  readonly pollMs?: number;
}

/** Outcomes are written (and progress published) at least this often … */
const FLUSH_MS = 250;
/** … or every this many items. */
const FLUSH_ITEMS = 100;
/** Items read from storage at a time (the items under way all finish before the next page is read). */
const PAGE = 500;
/** Attempts per item when the room call fails or storage is unavailable. */
const ATTEMPTS = 3;
/**
 * Items handled at once unless `JOB_PARALLEL` says otherwise. Each goes through its own
 * conversation's room (a lane of its own), and a job names each conversation once, so items are
 * independent; most of an item's time is spent waiting on storage, and what the items under way
 * ask of it at once is read and written together: their rooms' restores in one statement
 * (db/snapshot.ts), their commits in one transaction (db/commit.ts, group commit), each with a few
 * statements in flight at most — so a wider window makes larger batches, not more connections.
 * With a pause set (`JOB_ITEM_PAUSE_MS`, to spread load) items go one at a time. 128: measured in
 * docs/benchmarks.md (P5): a bulk reopen of 5,000 took 8–10 s at 16, 5.3–5.6 s at 32–64 and
 * 3.7–4.3 s at 128 once restores were read together.
 */
const PARALLEL = 128;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs jobs (bulk actions, member deactivation) item by item; resumes unfinished ones.
 *
 * One job at a time per process, its items a few at a time (`JOB_PARALLEL`), each through its conversation's
 * room (`callConversation`), so every rule, log line and notice is the room's own. A job is
 * claimed with a lease (renewed while working); a job whose process died is claimed again by
 * any runner once its lease ran out, and carries on with the items that have no outcome yet.
 * An item that was applied but whose outcome was not yet written is sent again: bulk items
 * carry the request id `job:<jobId>`, which the room's lane finds already processed (it answers
 * `duplicate`: the one idempotency check of the bulk path), departures find the member gone
 * (`skipped`) — so nothing applies twice.
 */
export class JobRunner {
  private readonly loop = new DrainLoop(
    () => this.drain(),
    (err) => this.deps.log.error({ err }, "job runner failed; will retry"),
  );
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly itemPauseMs: number;
  private readonly parallel: number;

  constructor(readonly deps: JobRunnerOptions) {
    this.leaseMs = deps.leaseMs ?? 15_000;
    this.pollMs = deps.pollMs ?? 5_000;
    this.itemPauseMs = deps.itemPauseMs ?? 0;
    this.parallel = this.itemPauseMs > 0 ? 1 : Math.max(1, deps.parallel ?? PARALLEL);
  }

  start(): void {
    this.loop.start(this.pollMs);
  }

  /** Looks for work now (or right after the job under way). */
  kick(): void {
    this.loop.kick();
  }

  /** Stops after the item under way; the job's lease is given back so another process (or the next start) resumes it at once. */
  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** True once stopping: the drain checks it between items. */
  private get stopping(): boolean {
    return this.loop.stopped;
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
      // Taken at once: items still under way add theirs to the next flush.
      const outcomes = pending;
      pending = [];
      lastFlush = Date.now();
      const stored = await recordOutcomes(db, job.id, outcomes, now(), this.leaseUntil());
      await this.publish(stored);
    };
    // Up to `parallel` items under way; the next starts as soon as one ends (not group by group).
    const inFlight = new Set<Promise<void>>();
    let failure: { err: unknown } | null = null;
    const start = (item: PendingItem) => {
      const p: Promise<void> = handle(item).then(
        (o) => {
          pending.push(o);
        },
        (err: unknown) => {
          failure ??= { err };
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    // Every started item's outcome is kept: a stop (or a failed item) waits for the items under way.
    const settle = async () => {
      await Promise.all(inFlight);
      if (failure) throw failure.err;
    };
    try {
      for (;;) {
        const items = await nextItems(db, job, PAGE);
        if (items.length === 0) break;
        for (const item of items) {
          if (this.stopping) {
            await settle();
            await flush();
            await setLease(db, job.id, null);
            return;
          }
          start(item);
          if (inFlight.size >= this.parallel) await Promise.race(inFlight);
          if (failure) await settle();
          if (pending.length >= FLUSH_ITEMS || Date.now() - lastFlush >= FLUSH_MS) await flush();
          if (this.itemPauseMs > 0) await sleep(this.itemPauseMs);
        }
        // The next page is read once every item of this one has its outcome stored.
        await settle();
        if (pending.length > 0) await flush();
      }
    } catch (err) {
      // Storage failed (reading items, writing outcomes): nothing of this job runs on after it.
      await Promise.all(inFlight);
      throw err;
    }
    const done = await finishJob(db, job.id, "done", now());
    await this.publish(done);
    this.deps.log.info({ jobId: job.id, kind: job.kind, total: done.total }, "job done");
  }

  /** How each item of this job is handled, or why the job cannot run at all (its input is parsed, not trusted). */
  private async handlerFor(job: JobRow): Promise<((item: PendingItem) => Promise<Outcome>) | string> {
    const parsed = parseJobInput(job.kind, job.input);
    if (!parsed.ok) return parsed.reason;
    const p = parsed.job;
    switch (p.kind) {
      case JobKind.bulk_close:
      case JobKind.bulk_reopen:
      case JobKind.bulk_transfer:
        return job.actorId ? this.bulkItem(job.id, job.actorId, p) : "bulk job without an actor";
      case JobKind.member_deactivate:
      case JobKind.member_delete:
        return this.departureItem(job, p.input.memberId);
      default:
        return assertNever(p);
    }
  }

  /** One conversation of a bulk close, reopen or transfer: the actor's own action, through the room. */
  private bulkItem(jobId: string, actorId: string, job: ParsedBulkJob): (item: PendingItem) => Promise<Outcome> {
    const action = bulkAction(job, `job:${jobId}`);
    // The actor is read again at most every FLUSH_MS, shared by the items started meanwhile (not
    // once per item): a role change or deactivation applies to the items started after that read.
    let actor: { at: number; member: Promise<MemberRow | null> } | null = null;
    const currentActor = (): Promise<MemberRow | null> => {
      const at = Date.now();
      if (!actor || at - actor.at >= FLUSH_MS) {
        const member = loadMember(this.deps.db, actorId);
        actor = { at, member };
        // A failed read is not kept: the next item reads again.
        member.catch(() => {
          if (actor?.member === member) actor = null;
        });
      }
      return actor.member;
    };
    return async (item) => {
      if (!item.conversation) return { idx: item.idx, outcome: "refused", code: ErrorCode.NOT_FOUND };
      // R7.5 refused the selection whole when it was made; one that became collaborative since is refused alone.
      if (job.kind === JobKind.bulk_transfer && !bulkTransferable(item.conversation)) {
        return { idx: item.idx, outcome: "refused", code: ErrorCode.BULK_TRANSFER_COLLABORATIVE };
      }
      // The actor as they are now (read at most FLUSH_MS ago): a role change applies to the items not yet started.
      const member = await currentActor();
      if (!member) return { idx: item.idx, outcome: "refused", code: ErrorCode.NOT_FOUND };
      if (member.status !== MemberStatus.active) return { idx: item.idx, outcome: "refused", code: ErrorCode.MEMBER_INACTIVE };
      const call: ServerInput = {
        type: "member_action",
        member: { id: member.id, role: member.role, locale: member.locale, status: member.status, workspaceId: member.workspaceId },
        view: job.input.view,
        action,
        row: member,
      };
      return toOutcome(item.idx, await this.call(item.conversationId, call));
    };
  }

  /** One conversation of a departing member (R14.1–R14.5), through the room. */
  private departureItem(job: JobRow, memberId: string): (item: PendingItem) => Promise<Outcome> {
    const requestId = `departed:${memberId}:${job.id}`;
    return async (item) => {
      if (!item.conversation) return { idx: item.idx, outcome: "refused", code: ErrorCode.NOT_FOUND };
      // Already gone (an earlier run, or they left): nothing to do, and nothing is done twice.
      if (!isParticipant(item.conversation, memberId)) return { idx: item.idx, outcome: "skipped", code: null };
      const call: ServerInput = { type: "member_departed", requestId, memberId, actorId: job.actorId };
      return toOutcome(item.idx, await this.call(item.conversationId, call));
    };
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
