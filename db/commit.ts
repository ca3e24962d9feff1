import type { Decision } from "../domain/decide.ts";
import type { MemberStateChange } from "../domain/events.ts";
import type { Conversation, MemberInfo } from "../domain/model.ts";
import { assertNever } from "../domain/sets.ts";
import type { Db } from "./client.ts";
import type { StoredNotification } from "./notifications.ts";
import { isStorageUnavailable } from "./errors.ts";
import { Params, jsonColumn, runRaw, runRawGroup, statementFlights, toDate } from "./raw.ts";
import type { ListTimes, MemberState } from "./rows.ts";
import type { StoredEvent, StoredMessage } from "./timeline.ts";

/**
 * Writing an accepted decision: ONE statement, so one transaction and one round trip. Its parts
 * (common table expressions) run on one snapshot, and every write but the first hangs off it:
 *
 * 1. `dup` / `seen` — the request id (a member's, or a customer message's channel id) already
 *    accepted? Then nothing is written (`Duplicate`).
 * 2. `fence` — the member rows and workspace settings the decision was made with are still the
 *    stored ones (the room keeps them between actions: see `CommitFence`)? Else `StaleContext`.
 * 3. `conv` — the conversation row, version-checked and moved by one when the decision changes it
 *    or adds to its timeline (else only read, for its `last_seq`); no row: `VersionConflict`.
 * 4. From `conv`'s row, so they are written only when it is: the request id, the messages and
 *    status-log events (seqs counted back from the new `last_seq`), every member's unread and pin
 *    in one upsert (and one update for "all of them") that returns the rows, the notices and
 *    their outbox rows, the effects' outbox rows (a customer message's push folded straight into
 *    its members' push batches instead), and the inbound event a customer message came from marked
 *    processed.
 *
 * 5. `t_fired`, `t_clear`, `t_set` — durable timers (domain/timers.ts), from `conv`'s row too: a
 *    firing (R13.4) commits only while its timer is still there and due (part of the guard of
 *    `conv`; else nothing is written and it is answered `Duplicate`), and removes it; cleared
 *    timers go; set ones are (re)armed relative to the commit time.
 *
 * A duplicate racing past `dup` (another statement inserting the same request id at the same
 * time) meets the unique indexes and fails as a whole; it is answered `Duplicate` too.
 */

export class VersionConflict extends Error {
  constructor() {
    super("version conflict");
  }
}
export class Duplicate extends Error {
  constructor() {
    super("duplicate request");
  }
}
/** The members or settings the decision was made with are no longer the stored ones: decide again with fresh ones. */
export class StaleContext extends Error {
  constructor() {
    super("stale members or settings");
  }
}

/**
 * What a decision was made with, checked by the commit: every listed member still has this role
 * and status in this workspace, and the workspace's stored settings are the ones whose
 * `md5(settings::text)` is `settingsHash` (read with them: db/repository.ts, db/snapshot.ts). The
 * hash, not the settings' JSON, travels with every commit: about 450 bytes less per statement.
 */
export interface CommitFence {
  readonly workspaceId: string;
  readonly members: readonly MemberInfo[];
  readonly settingsHash: string | null;
}

export interface CommitInput {
  readonly before: Conversation;
  readonly decision: Decision;
  /** The acting member (client requests) — their request id is recorded once. */
  readonly memberId: string | null;
  readonly requestId: string;
  readonly now: Date;
  /** For customer messages: the channel's message id, unique per conversation. */
  readonly externalId?: string;
  /** Checked in the same statement when given (the rooms give it); `StaleContext` when it fails. */
  readonly fence?: CommitFence;
  /**
   * For customer messages taken from `inbound_events` (server/channels/intake.ts): the stored
   * event, marked processed in the same statement when the message is written — so intake needs
   * no statement of its own for it, and the mark and the message are one transaction.
   */
  readonly inboundEventId?: number;
  /**
   * `PUSH_COALESCE_SECONDS` in ms (the rooms give it): a `push` effect is folded into its members'
   * push batches by this statement, a batch opened now being due this much later (db/push.ts). Without
   * it the effect is queued in the outbox and the push worker folds it.
   */
  readonly pushWindowMs?: number;
}

export interface CommitResult {
  readonly conversation: Conversation;
  readonly lastSeq: number;
  /** The list times after the commit, or null when the conversation row was not touched. */
  readonly times: ListTimes | null;
  readonly messages: StoredMessage[];
  readonly events: StoredEvent[];
  /**
   * The notifications this commit stored, as the outbox reads them (`listNotificationsByIds`):
   * with the actor's and the customer's names and the recipient's locale as stored at the commit,
   * read by the commit statement itself, so a room publishes them without a read of its own.
   */
  readonly notices: (StoredNotification & { readonly memberId: string })[];
  /** Every member whose unread or pin changed, with the stored values after the commit. */
  readonly memberStates: MemberState[];
  /** True when every member state of the conversation may have changed (clear all, unpin all). */
  readonly allMemberStatesChanged: boolean;
}

interface CommitRow {
  duplicate: boolean;
  /** The timer this decision fires is still there and due (true when it fires none). */
  timer_due: boolean;
  fenced: boolean;
  version: number | null;
  last_seq: number | null;
  last_message_at: unknown;
  waiting_since: unknown;
  channel_id: string | null;
  states: unknown;
  notices: unknown;
}

/**
 * Writes a decision in one statement. Throws `VersionConflict`, `Duplicate` or `StaleContext`, having written nothing.
 * Resolves only once the statement is committed — alone, or in a group transaction with other
 * conversations' commits (see `CommitQueue`).
 */
export async function commit(db: Db, input: CommitInput): Promise<CommitResult> {
  const { text, params, ops } = commitStatement(input);
  return queueOf(db).add({ input, text, params, ops });
}

/** The outcome of one commit statement's row: the result, or why nothing was written. */
function outcomeOf(input: CommitInput, row: CommitRow | undefined, ops: StateOps): CommitResult {
  // A firing whose timer was cleared or moved meanwhile: not due any more, nothing written.
  if (!row || row.duplicate || !row.timer_due) throw new Duplicate();
  if (!row.fenced) throw new StaleContext();
  if (row.last_seq === null) throw new VersionConflict();
  return resultOf(input, row, ops);
}

// ---- group commit ---------------------------------------------------------------------------------

/** At most this many commits in one group transaction. */
export const GROUP_COMMIT_MAX = 32;
/** Group transactions in flight at once on PostgreSQL (each holds a pool connection while it runs). */
const GROUP_COMMIT_FLIGHTS = 4;

interface Pending {
  readonly input: CommitInput;
  readonly text: string;
  readonly params: unknown[];
  readonly ops: StateOps;
  resolve(result: CommitResult): void;
  reject(err: unknown): void;
}

/**
 * Group commit: the commits of many rooms share one transaction. A commit that finds a flight
 * free runs at once, alone, as one statement (no wait, no transaction around it); the commits
 * that arrive while every flight is busy wait and go together in the next one: their statements
 * sent at once between one BEGIN and one COMMIT (one WAL flush, one round trip for the lot).
 *
 * Why it keeps every guarantee of a commit alone:
 * - Nothing is acknowledged before commit: each caller's promise settles only after the group's
 *   COMMIT has returned (the rooms answer and patch after their `commit` resolves).
 * - No half-applied action: each action is still ONE statement, all of whose writes hang off its
 *   own version-checked conversation row (see above); the group commits all of them or none.
 * - The version fence, the request-id check and the member/settings fence are each action's own
 *   statement's, on its own conversation; an action that fails them writes nothing and is told so
 *   (`VersionConflict`, `Duplicate`, `StaleContext`) without touching the others, which commit.
 *   A group never holds two commits of one conversation, and a conversation's commit waits while
 *   another of it is in flight (a room's lane sends one at a time anyway; the queue keeps the
 *   arrival order for any other caller), and commits of different conversations write disjoint
 *   rows, so they do not wait on each other inside a group.
 * - A failing item does not fail the others: when a statement errs (a duplicate racing in past
 *   the check and meeting the unique index, a deadlock with a stray writer), PostgreSQL rolls the
 *   whole group back — nothing of it is written — and each of its commits is run again alone, so
 *   each gets its own outcome.
 * - A failed transaction answers STORAGE_UNAVAILABLE without acknowledging: when the database is
 *   unavailable (lost connection, timeout, shutdown — `isStorageUnavailable`), every commit of the
 *   group is rejected with that error, exactly as a commit alone is; whether it got in is decided
 *   by a retry with the same request id (`Duplicate`), as for a commit alone.
 * - A process killed during a group flush acknowledged none of it; what the group wrote, if its
 *   COMMIT got in, is found by the retries' request-id checks (a webhook's event is marked
 *   processed by the same statement, so it is not applied twice).
 */
class CommitQueue {
  private readonly waiting: Pending[] = [];
  private flights = 0;
  private scheduled = false;
  /** Conversations with a commit in a group in flight: their next commit waits for it (arrival order). */
  private readonly busy = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly maxFlights: number,
  ) {}

  add(p: Omit<Pending, "resolve" | "reject">): Promise<CommitResult> {
    return new Promise<CommitResult>((resolve, reject) => {
      this.waiting.push({ ...p, resolve, reject });
      this.schedule();
    });
  }

  /** Launches on the next turn: the commits of this turn go together. */
  private schedule(): void {
    if (this.scheduled || this.flights >= this.maxFlights || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.flights < this.maxFlights && this.waiting.length > 0) {
        const group = this.take();
        if (group.length === 0) break;
        this.flights++;
        for (const p of group) this.busy.add(p.input.before.id);
        void this.flush(group).finally(() => {
          this.flights--;
          for (const p of group) this.busy.delete(p.input.before.id);
          this.schedule();
        });
      }
    });
  }

  /** Up to GROUP_COMMIT_MAX waiting commits, in order, at most one per conversation, none of a conversation already in flight. */
  private take(): Pending[] {
    const group: Pending[] = [];
    const rest: Pending[] = [];
    const conversations = new Set<string>(this.busy);
    for (const p of this.waiting) {
      if (group.length < GROUP_COMMIT_MAX && !conversations.has(p.input.before.id)) {
        conversations.add(p.input.before.id);
        group.push(p);
      } else {
        rest.push(p);
      }
    }
    this.waiting.splice(0, this.waiting.length, ...rest);
    return group;
  }

  private async flush(group: Pending[]): Promise<void> {
    if (group.length === 1) return this.alone(group[0]!);
    let rows: CommitRow[][];
    try {
      rows = await runRawGroup<CommitRow>(this.db, group);
    } catch (e) {
      if (isStorageUnavailable(e)) {
        for (const p of group) p.reject(e);
        return;
      }
      // Rolled back as a whole, nothing written: each commit again on its own.
      await Promise.all(group.map((p) => this.alone(p)));
      return;
    }
    for (const [i, p] of group.entries()) settle(p, rows[i]?.[0]);
  }

  private async alone(p: Pending): Promise<void> {
    let row: CommitRow | undefined;
    try {
      [row] = await runRaw<CommitRow>(this.db, p.text, p.params);
    } catch (e) {
      p.reject(isRequestConflict(e) ? new Duplicate() : e);
      return;
    }
    settle(p, row);
  }
}

function settle(p: Pending, row: CommitRow | undefined): void {
  try {
    p.resolve(outcomeOf(p.input, row, p.ops));
  } catch (e) {
    p.reject(e);
  }
}

const queues = new WeakMap<Db, CommitQueue>();

function queueOf(db: Db): CommitQueue {
  let q = queues.get(db);
  if (!q) {
    // PGlite runs one statement at a time in this process: one flight.
    q = new CommitQueue(db, statementFlights(db, GROUP_COMMIT_FLIGHTS));
    queues.set(db, q);
  }
  return q;
}

/** A unique index on the request ids refused a row: the same request committed meanwhile. */
function isRequestConflict(e: unknown): boolean {
  const err = e as { code?: unknown; constraint_name?: unknown; constraint?: unknown; message?: unknown };
  if (err?.code !== "23505") return false;
  const name = String(err.constraint_name ?? err.constraint ?? err.message ?? "");
  return name.includes("processed_requests") || name.includes("messages_request_uq");
}

/** How many seqs the decision hands out: the human message, system messages, log events. */
function seqCount(d: Decision): number {
  return (d.message ? 1 : 0) + d.autoMessages.length + d.system.length + d.log.length;
}

// ---- member states -----------------------------------------------------------------------------

/**
 * The decision's member-state changes folded, in order, into one operation per named member and
 * one for "all the others": reset (unread 0, read up to the new last seq), then `add` unread, then
 * set the pin. One row is written at most once, as one statement requires.
 */
interface StateOp {
  reset: boolean;
  add: number;
  pin: boolean | null;
}

interface StateOps {
  readonly named: Map<string, StateOp>;
  /** For the conversation's other rows; null when the decision does not touch them. */
  readonly all: StateOp | null;
}

function foldStates(changes: readonly MemberStateChange[]): StateOps {
  const named = new Map<string, StateOp>();
  let all: StateOp | null = null;
  const of = (id: string): StateOp => {
    let op = named.get(id);
    if (!op) {
      op = all ? { ...all } : { reset: false, add: 0, pin: null };
      named.set(id, op);
    }
    return op;
  };
  const everyone = (f: (op: StateOp) => void) => {
    all ??= { reset: false, add: 0, pin: null };
    f(all);
    for (const op of named.values()) f(op);
  };
  for (const ch of changes) {
    switch (ch.kind) {
      case "unread_increment":
        for (const id of ch.memberIds) of(id).add += 1;
        break;
      case "unread_clear":
        for (const id of ch.memberIds) Object.assign(of(id), { reset: true, add: 0 });
        break;
      case "unread_clear_all":
        everyone((op) => Object.assign(op, { reset: true, add: 0 }));
        break;
      case "pin":
        of(ch.memberId).pin = ch.pinned;
        break;
      case "unpin_all":
        everyone((op) => {
          op.pin = false;
        });
        break;
      default:
        assertNever(ch);
    }
  }
  return { named, all };
}

// ---- the statement -----------------------------------------------------------------------------

function commitStatement(input: CommitInput): { text: string; params: unknown[]; ops: StateOps } {
  const { before, decision: d, now } = input;
  const q = new Params();
  const id = q.p(before.id, "text");
  const at = q.p(now.toISOString(), "timestamptz");
  const count = seqCount(d);
  const writes = d.conversationChanged || count > 0;
  const ctes: string[] = [];

  // 1. the request id (recorded in 4., after conv)
  let claim: string | null = null;
  if (input.memberId) {
    const member = q.p(input.memberId, "text");
    const request = q.p(input.requestId, "text");
    ctes.push(
      `dup as (select 1 from processed_requests where conversation_id = ${id} and member_id = ${member} and request_id = ${request})`,
    );
    claim = `claim as (insert into processed_requests (conversation_id, member_id, request_id) select ${id}, ${member}, ${request} from conv)`;
  } else if (input.externalId) {
    ctes.push(
      `dup as (select 1 from messages where conversation_id = ${id} and sender = 'customer' and request_id = ${q.p(input.externalId, "text")})`,
    );
  } else {
    ctes.push("dup as (select 1 where false)");
  }

  // 2. the fence
  const checks: string[] = [];
  const f = input.fence;
  if (f) {
    const ws = q.p(f.workspaceId, "text");
    checks.push(
      `exists (select 1 from workspaces where id = ${ws} and md5(settings::text) is not distinct from ${q.p(f.settingsHash, "text")})`,
    );
    if (f.members.length) {
      const ids = q.p(
        f.members.map((m) => m.id),
        "text[]",
      );
      const roles = q.p(
        f.members.map((m) => m.role),
        "text[]",
      );
      const statuses = q.p(
        f.members.map((m) => m.status),
        "text[]",
      );
      checks.push(
        `(select count(*) from members m join unnest(${ids}, ${roles}, ${statuses}) as x(id, role, status) on m.id = x.id and m.role = x.role and m.status = x.status and m.workspace_id = ${ws}) = ${q.p(f.members.length, "int")}`,
      );
    }
  }
  ctes.push(`fence as (select ${checks.length ? checks.join(" and ") : "true"} as ok)`);

  // 2b. a durable timer this action is the firing of (R13.4): still there and due, or nothing is written
  const consume = d.timers.consume;
  const timerDue = consume
    ? `exists (select 1 from timers where conversation_id = ${id} and kind = ${q.p(consume, "text")} and due_at <= ${at})`
    : "true";

  // 3. the conversation row
  const guard = `not exists (select 1 from dup) and (select ok from fence) and ${timerDue}`;
  const returned = "version, last_seq, last_message_at, waiting_since, channel_id";
  if (writes) {
    ctes.push(
      `conv as (update conversations set ${rowChanges(input, count, q)} where id = ${id} and version = ${q.p(before.version, "int")} and ${guard} returning ${returned})`,
    );
  } else {
    ctes.push(`conv as (select ${returned} from conversations where id = ${id} and ${guard})`);
  }

  // 4. everything else, from conv's row
  if (claim) ctes.push(claim);
  const rows = timelineRows(input, count, q, id, at);
  if (rows.messages.length) {
    ctes.push(
      `msgs as (insert into messages (conversation_id, seq, sender, sender_id, body, system_kind, subject_ids, request_id, parts, delivery_status, created_at) ${rows.messages.join(" union all ")})`,
    );
  }
  if (rows.events.length) {
    ctes.push(
      `evts as (insert into conversation_events (conversation_id, seq, kind, actor_id, target_ids, created_at) ${rows.events.join(" union all ")})`,
    );
  }
  const ops = foldStates(d.memberState);
  const stateSets: string[] = [];
  if (ops.named.size) {
    const named = [...ops.named];
    const ids = q.p(
      named.map(([m]) => m),
      "text[]",
    );
    // Sent as text arrays: postgres.js declares an array parameter by its first element's type.
    const resets = `${q.p(
      named.map(([, op]) => String(op.reset)),
      "text[]",
    )}::boolean[]`;
    const adds = `${q.p(
      named.map(([, op]) => String(op.add)),
      "text[]",
    )}::int[]`;
    const pins = `${q.p(
      named.map(([, op]) => (op.pin === null ? null : String(op.pin))),
      "text[]",
    )}::boolean[]`;
    // The member's own reset and pin, looked up by the conflicting row's member id.
    const reset = `(select y.r from unnest(${ids}, ${resets}) as y(id, r) where y.id = s.member_id)`;
    const pin = `(select y.p from unnest(${ids}, ${pins}) as y(id, p) where y.id = s.member_id)`;
    ctes.push(
      `named as (insert into member_conversation_state as s (member_id, conversation_id, unread_count, last_read_seq, pinned, pinned_at, updated_at)
        select x.id, ${id}, x.a, case when x.r then c.last_seq else 0 end, coalesce(x.p, false), case when x.p then ${at} end, ${at}
        from conv c cross join unnest(${ids}, ${resets}, ${adds}, ${pins}) as x(id, r, a, p)
        on conflict (member_id, conversation_id) do update set
          unread_count = (case when ${reset} then 0 else s.unread_count end) + excluded.unread_count,
          last_read_seq = case when ${reset} then excluded.last_read_seq else s.last_read_seq end,
          pinned = coalesce(${pin}, s.pinned),
          pinned_at = case ${pin} when true then ${at} when false then null else s.pinned_at end,
          updated_at = ${at}
        returning member_id, unread_count, last_read_seq, pinned)`,
    );
    stateSets.push("select * from named");
  }
  if (ops.all && (ops.all.reset || ops.all.add || ops.all.pin !== null)) {
    const a = ops.all;
    const sets: string[] = [];
    if (a.reset) sets.push(`unread_count = ${a.add}`, "last_read_seq = c.last_seq");
    else if (a.add) sets.push(`unread_count = s.unread_count + ${a.add}`);
    if (a.pin !== null) sets.push(`pinned = ${a.pin}`, `pinned_at = ${a.pin ? at : "null"}`);
    const skip = ops.named.size ? ` and s.member_id <> all(${q.p([...ops.named.keys()], "text[]")})` : "";
    ctes.push(
      `others as (update member_conversation_state as s set ${sets.join(", ")}, updated_at = ${at} from conv c where s.conversation_id = ${id}${skip} returning s.member_id, s.unread_count, s.last_read_seq, s.pinned)`,
    );
    stateSets.push("select * from others");
  }
  if (d.notices.length) {
    const ws = q.p(before.workspaceId, "text");
    const notices = d.notices.map(
      (n) =>
        `select ${ws}, ${q.p(n.recipientId, "text")}, ${q.p(n.kind, "text")}, ${id}, ${q.p(n.actorId, "text")}, ${q.p(n.actorRole ?? null, "text")}, ${at} from conv`,
    );
    ctes.push(
      `notes as (insert into notifications (workspace_id, member_id, kind, conversation_id, actor_id, actor_role, created_at) ${notices.join(" union all ")} returning id, member_id, kind, actor_id, actor_role)`,
    );
    // Due at the committer's clock, the one claims compare with (not the database's now(), which can be later within a millisecond).
    ctes.push(
      `note_out as (insert into outbox (topic, payload, created_at, available_at) select 'notice', jsonb_build_object('kind', 'notice', 'notificationId', id, 'memberId', member_id), ${at}, ${at} from notes)`,
    );
  }
  // A customer message's `push` effect folded into its member's batch here, not queued for the push
  // worker's fold (db/push.ts `collectPushEffects`, which still folds rows queued without a window).
  const pushWindow = input.pushWindowMs;
  const queued = pushWindow === undefined ? d.effects : d.effects.filter((e) => e.kind !== "push");
  const pushIds = pushWindow === undefined ? [] : [...new Set(d.effects.flatMap((e) => (e.kind === "push" ? e.memberIds : [])))];
  if (pushWindow !== undefined && pushIds.length) {
    const due = q.p(new Date(now.getTime() + pushWindow).toISOString(), "timestamptz");
    ctes.push(
      `push_fold as (insert into push_batches as b (member_id, conversation_id, count, last_seq, due_at)
        select x.id, ${id}, 1, c.last_seq, ${due} from conv c cross join unnest(${q.p(pushIds, "text[]")}) as x(id)
        on conflict (member_id, conversation_id) do update set count = b.count + 1, last_seq = greatest(b.last_seq, excluded.last_seq))`,
    );
  }
  if (queued.length) {
    const effects = queued.map(
      (e) =>
        `select ${q.p(e.kind, "text")}, jsonb_build_object('kind', 'effect', 'conversationId', ${id}, 'seq', c.last_seq, 'effect', ${q.p(JSON.stringify(e), "text")}::jsonb), ${at}, ${at} from conv c`,
    );
    ctes.push(`effect_out as (insert into outbox (topic, payload, created_at, available_at) ${effects.join(" union all ")})`);
  }
  if (d.autoMessages.length) {
    // Each automatic message (R13.1, R13.2) is delivered like a staff reply: a `deliver_reply` row with its own seq.
    const first = (d.message ? 1 : 0) + 1;
    const rows = d.autoMessages.map(
      (_, i) =>
        `select 'deliver_reply', jsonb_build_object('kind', 'effect', 'conversationId', ${id}, 'seq', c.last_seq - ${count - (first + i)}, 'effect', '{"kind":"deliver_reply"}'::jsonb), ${at}, ${at} from conv c where c.channel_id is not null`,
    );
    ctes.push(`auto_out as (insert into outbox (topic, payload, created_at, available_at) ${rows.join(" union all ")})`);
  }

  // 4b. the inbound event this customer message came from: processed with it
  if (input.inboundEventId !== undefined) {
    ctes.push(
      `inbound as (update inbound_events set processed_at = ${at}, last_error = null where id = ${q.p(input.inboundEventId, "bigint")} and exists (select 1 from conv))`,
    );
  }

  // 5. durable timers, from conv's row: the one fired goes; cleared ones go; set ones are (re)armed.
  if (consume)
    ctes.push(
      `t_fired as (delete from timers where conversation_id = ${id} and kind = ${q.p(consume, "text")} and exists (select 1 from conv))`,
    );
  const setKinds = new Set(d.timers.set.map((t) => t.kind));
  const clear = d.timers.clear.filter((k) => !setKinds.has(k) && k !== consume);
  if (clear.length)
    ctes.push(
      `t_clear as (delete from timers where conversation_id = ${id} and kind = any(${q.p(clear, "text[]")}) and exists (select 1 from conv))`,
    );
  if (d.timers.set.length) {
    const armed = d.timers.set.map(
      (t) =>
        `select ${id}, ${q.p(t.kind, "text")}, ${q.p(new Date(now.getTime() + t.afterMs).toISOString(), "timestamptz")}, ${at} from conv`,
    );
    ctes.push(
      `t_set as (insert into timers (conversation_id, kind, due_at, created_at) ${armed.join(" union all ")}
        on conflict (conversation_id, kind) do update set due_at = excluded.due_at, lease_until = null, attempts = 0, last_error = null)`,
    );
  }

  const states = stateSets.length
    ? `(select coalesce(json_agg(json_build_object('m', member_id, 'u', unread_count, 'r', last_read_seq, 'p', pinned)), '[]'::json) from (${stateSets.join(" union all ")}) as st)`
    : "'[]'::json";
  // The stored notices with what renders them (names and the recipient's locale), read in this statement.
  const noticeRows = d.notices.length
    ? `(select coalesce(json_agg(json_build_object('id', n.id, 'm', n.member_id, 'k', n.kind, 'a', n.actor_id, 'ar', n.actor_role, 'an', a.name, 'l', r.locale,
        'cn', (select cu.display_name from conversations cv join customers cu on cu.id = cv.customer_id where cv.id = ${id})) order by n.id), '[]'::json)
        from notes n join members r on r.id = n.member_id left join members a on a.id = n.actor_id)`
    : "'[]'::json";
  const text = `with ${ctes.join(",\n")}
select exists (select 1 from dup) as duplicate, (select ok from fence) as fenced, ${timerDue} as timer_due, ${at} as committed_at,
  c.version, c.last_seq, c.last_message_at, c.waiting_since, c.channel_id, ${states} as states, ${noticeRows} as notices
from (select 1) as one left join conv c on true`;
  return { text, params: q.values, ops };
}

/** The columns a decision sets: status and participants, version and seq, and the list times. */
function rowChanges(input: CommitInput, count: number, q: Params): string {
  const { before, decision: d, now } = input;
  const n = d.next;
  const at = q.p(now.toISOString(), "timestamptz");
  const set = [
    `status = ${q.p(n.status, "text")}`,
    `follower_id = ${q.p(n.followerId, "text")}`,
    `collaborator_ids = ${q.p([...n.collaboratorIds], "text[]")}`,
    "version = version + 1",
    `last_seq = last_seq + ${q.p(count, "int")}`,
    `updated_at = ${at}`,
  ];
  if (n.status === "closed" && before.status !== "closed") set.push(`closed_at = ${at}`);
  if (n.status !== "closed" && before.status === "closed") set.push("closed_at = null");
  if (d.message) {
    set.push(`last_message_at = ${at}`, `last_message_preview = ${q.p(d.message.text.slice(0, 200), "text")}`);
    if (d.message.sender === "customer") {
      // R13.3: waiting starts at the oldest unanswered customer message …
      set.push(`last_customer_message_at = ${at}`, `waiting_since = coalesce(waiting_since, ${at})`);
    } else if (d.message.sender === "staff") {
      // … and ends with a staff reply (an automatic message changes neither, R13.4).
      set.push(`last_staff_reply_at = ${at}`, "waiting_since = null");
    }
  }
  return set.join(", ");
}

/** A staff reply or an automatic message is delivered (server/delivery.ts) when the conversation has a channel account: it starts `queued`. */
function delivers(d: Decision): boolean {
  return (d.message?.sender === "staff" || d.message?.sender === "auto") && d.effects.some((e) => e.kind === "deliver_reply");
}

/** The messages and status-log events as `select … from conv` rows, seqs counted back from conv's new `last_seq`. */
function timelineRows(input: CommitInput, count: number, q: Params, id: string, at: string): { messages: string[]; events: string[] } {
  const { decision: d } = input;
  let k = 0;
  const seq = () => `c.last_seq - ${count - ++k}`;
  const messages: string[] = [];
  if (d.message) {
    const requestId = d.message.sender === "customer" ? (input.externalId ?? input.requestId) : input.requestId;
    const status = delivers(d) ? "case when c.channel_id is not null then 'queued' end" : "null";
    messages.push(
      `select ${id}, ${seq()}, ${q.p(d.message.sender, "text")}, ${q.p(d.message.senderId, "text")}, ${q.p(d.message.text, "text")}, null, null, ${q.p(requestId, "text")}, ${q.p(d.message.parts ? JSON.stringify(d.message.parts) : null, "text")}::jsonb, ${status}, ${at} from conv c`,
    );
  }
  for (const m of d.autoMessages) {
    // Under the request id of the message that triggered it: once per customer message.
    const requestId = input.externalId ?? input.requestId;
    messages.push(
      `select ${id}, ${seq()}, 'auto', ${q.p(m.senderId, "text")}, ${q.p(m.text, "text")}, null::text, null::text[], ${q.p(requestId, "text")}, null::jsonb, case when c.channel_id is not null then 'queued' end, ${at} from conv c`,
    );
  }
  for (const m of d.system) {
    messages.push(
      `select ${id}, ${seq()}, 'system', null, null, ${q.p(m.kind, "text")}, ${q.p([...m.subjectIds], "text[]")}, null, null, null, ${at} from conv c`,
    );
  }
  const events = d.log.map(
    (e) =>
      `select ${id}, ${seq()}, ${q.p(e.kind, "text")}, ${q.p(e.actorId, "text")}, ${q.p([...e.targetIds], "text[]")}, ${at} from conv c`,
  );
  return { messages, events };
}

// ---- the result ---------------------------------------------------------------------------------

/** The `notices` column of a commit's row (json, a string on PGlite) as stored notifications. */
function noticesOf(raw: unknown, conversationId: string, createdAt: Date): CommitResult["notices"] {
  const rows = jsonColumn<{
    id: number | string;
    m: string;
    k: StoredNotification["kind"];
    a: string | null;
    ar: StoredNotification["actorRole"];
    an: string | null;
    l: StoredNotification["recipientLocale"];
    cn: string | null;
  }[]>(raw ?? []);
  return rows.map((r) => ({
    id: Number(r.id),
    memberId: r.m,
    kind: r.k,
    conversationId,
    actorId: r.a,
    actorName: r.an,
    actorRole: r.ar,
    customerName: r.cn,
    recipientLocale: r.l,
    createdAt,
    readAt: null,
  }));
}

function resultOf(input: CommitInput, row: CommitRow, ops: StateOps): CommitResult {
  const { before, decision: d, now } = input;
  const lastSeq = row.last_seq as number;
  const count = seqCount(d);
  const writes = d.conversationChanged || count > 0;
  let seq = lastSeq - count;
  const messages: StoredMessage[] = [];
  const base = { createdAt: now, deliveryCode: null, deliveryReason: null };
  if (d.message) {
    const queued = delivers(d) && row.channel_id !== null;
    messages.push({
      ...base,
      seq: ++seq,
      sender: d.message.sender,
      senderId: d.message.senderId,
      body: d.message.text,
      system: null,
      deliveryStatus: queued ? "queued" : null,
      parts: d.message.parts ? [...d.message.parts] : null,
    });
  }
  for (const m of d.autoMessages) {
    const queued = row.channel_id !== null;
    messages.push({
      ...base,
      seq: ++seq,
      sender: "auto",
      senderId: m.senderId,
      body: m.text,
      system: null,
      deliveryStatus: queued ? "queued" : null,
      parts: null,
    });
  }
  for (const m of d.system) {
    messages.push({
      ...base,
      seq: ++seq,
      sender: "system",
      senderId: null,
      body: null,
      system: { kind: m.kind, subjectIds: [...m.subjectIds] },
      deliveryStatus: null,
      parts: null,
    });
  }
  const events: StoredEvent[] = d.log.map((e) => ({
    seq: ++seq,
    kind: e.kind,
    actorId: e.actorId,
    targetIds: [...e.targetIds],
    createdAt: now,
  }));
  const notices = noticesOf(row.notices, before.id, now);
  const states = jsonColumn<{
    m: string;
    u: number;
    r: number;
    p: boolean;
  }[]>(row.states);
  return {
    conversation: writes ? { ...d.next, version: row.version as number } : before,
    lastSeq,
    times: writes
      ? { lastMessageAt: toDate(row.last_message_at), waitingSince: row.waiting_since == null ? null : toDate(row.waiting_since) }
      : null,
    messages,
    events,
    notices,
    memberStates: states.map((s) => ({ memberId: s.m, unreadCount: s.u, lastReadSeq: s.r, pinned: s.p })),
    allMemberStatesChanged: ops.all !== null,
  };
}
