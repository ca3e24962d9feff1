import type { Presence } from "@colyseus/core";
import type { MapSchema } from "@colyseus/schema";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import { type Counts, countConversations, type ListItem, loadListItems, overdueMinutes, type Viewer } from "../db/lists.ts";
import { loadMember } from "../db/repository.ts";
import { participantIds } from "../domain/model.ts";
import { STATUSES, type Status, TEAM_VIEWERS, View } from "../domain/sets.ts";
import type { ConversationChange, ListSummary } from "./feed.ts";
import { Topic } from "./topics.ts";

/**
 * Live lists of one member's inbox room (docs/protocol.md §8): turns the conversation
 * changes of `feed.ts` into per-view deltas carrying the member's own list item, and keeps the
 * tab counts exact. Everything runs in one serial queue, so deltas leave in arrival order.
 */

/** The list type of R10.2, as the lists' `type` filter names it. */
export const ListKind = { regular: "regular", collaborative: "collaborative" } as const;
export type ListKind = (typeof ListKind)[keyof typeof ListKind];

export const ListOp = { added: "added", moved: "moved", updated: "updated", removed: "removed" } as const;
export type ListOp = (typeof ListOp)[keyof typeof ListOp];

/** Where a conversation sits in a view: its tab (status) and type. */
export interface Placement {
  readonly status: Status;
  readonly type: ListKind;
}

/** One `list` message of the inbox room. */
export interface ListDelta {
  readonly conversationId: string;
  /** The conversation's version after the change. */
  readonly version: number;
  readonly view: View;
  readonly op: ListOp;
  /** Null when the conversation enters the view. */
  readonly from: Placement | null;
  /** Null when it leaves the view. */
  readonly to: Placement | null;
  /** The member's own item, read after the change (its version may be newer); null when removed. */
  readonly item: ListItem | null;
}

type Shape = Omit<ListDelta, "item">;

export function placementOf(summary: ListSummary): Placement {
  return { status: summary.status, type: summary.collaborative ? ListKind.collaborative : ListKind.regular };
}

/** The key of a count in the room state: `<view>.<status>.<type>`, e.g. `mine.in_progress.collaborative`. */
export function countKey(view: View, p: Placement): string {
  return `${view}.${p.status}.${p.type}`;
}

function samePlace(a: Placement, b: Placement): boolean {
  return a.status === b.status && a.type === b.type;
}

function touches(change: ConversationChange, memberId: string): boolean {
  return change.memberStates === "all" || change.memberStates.includes(memberId);
}

/**
 * The delta of one view for one member, or null when nothing the member sees there changed.
 * `inBefore` / `inAfter`: the conversation was / is in the view.
 */
function shapeOf(view: View, change: ConversationChange, memberId: string, inBefore: boolean, inAfter: boolean): Shape | null {
  const base = { conversationId: change.conversationId, version: change.version, view };
  const from = inBefore && change.before ? placementOf(change.before) : null;
  const to = inAfter ? placementOf(change.after) : null;
  if (!from && !to) return null;
  if (!from) return { ...base, op: ListOp.added, from, to };
  if (!to) return { ...base, op: ListOp.removed, from, to };
  if (!samePlace(from, to)) return { ...base, op: ListOp.moved, from, to };
  // Same tab: only what this member sees counts (R11.6): the shared summary or their own state.
  const summaryChanged = JSON.stringify(change.before) !== JSON.stringify(change.after);
  return summaryChanged || touches(change, memberId) ? { ...base, op: ListOp.updated, from, to } : null;
}

/** `mine`: the conversations the member takes part in (R10.1). */
export function mineShape(change: ConversationChange, memberId: string): Shape | null {
  const inBefore = change.before !== null && participantIds(change.before).includes(memberId);
  return shapeOf(View.mine, change, memberId, inBefore, participantIds(change.after).includes(memberId));
}

/** `team`: every conversation of the workspace. */
export function teamShape(change: ConversationChange, memberId: string): Shape | null {
  return shapeOf(View.team, change, memberId, change.before !== null, true);
}

/** The counts' change of one delta: the bucket it left and the one it entered, when they differ. */
export function countMove(shape: Shape): { minus: string | null; plus: string | null } | null {
  const minus = shape.from ? countKey(shape.view, shape.from) : null;
  const plus = shape.to ? countKey(shape.view, shape.to) : null;
  return minus === plus ? null : { minus, plus };
}

/** Every count key of a view, each present (zero included) so clients never meet a missing tab. */
export function countEntries(view: View, counts: Counts): [string, number][] {
  return STATUSES.flatMap((status) => [
    [countKey(view, { status, type: ListKind.regular }), counts[status].regular] as [string, number],
    [countKey(view, { status, type: ListKind.collaborative }), counts[status].collaborative] as [string, number],
  ]);
}

// ---- the queue ---------------------------------------------------------------------------------

/** What the live lists need from their room. */
export interface LiveListsHost {
  readonly memberId: string;
  readonly db: Db;
  readonly presence: Presence;
  readonly log: Logger;
  readonly now: () => Date;
  /** The room state's `counts`. */
  readonly counts: MapSchema<number>;
  /** `counts` changed: the room sends its patch now (it does not tick fast while idle). */
  countsChanged(): void;
  /** Sends one delta to every client of the room. */
  send(delta: ListDelta): void;
  /** The member's views changed (a role change): `team` shown or not. */
  setTeamView(visible: boolean): void;
  /** Clients must reload their pages of these views (items could not be read). */
  reset(views: View[]): void;
}

type Task =
  | { kind: "change"; view: View; change: ConversationChange; seq: number; at: number }
  | { kind: "member" }
  | { kind: "recount"; view: View };

/**
 * A change published within this long after a count finished may have been committed before the
 * count's snapshot (publication follows the commit by milliseconds); such changes are applied and a
 * recount is scheduled, so the counts are exact once the conversations are quiet.
 */
export const SETTLE_MS = 1_000;
/** The longest a recount waits when changes keep landing near each count. */
const MAX_RECOUNT_DELAY_MS = 10_000;
/** Deltas whose items are read with one query. */
const BATCH = 200;
/** The workspace's overdue threshold is read again after this long. */
const THRESHOLD_TTL_MS = 30_000;

interface CountWindow {
  /** Changes queued up to this number arrived before the count started: it includes them. */
  readonly seqAtStart: number;
  readonly end: number;
}

export class LiveLists {
  private readonly queue: Task[] = [];
  /** True until `start` is done, and while the queue runs. */
  private running = true;
  private disposed = false;
  private seq = 0;
  private viewer: Viewer | null = null;
  private team = false;
  /*
   * Per view, in plain objects written with `undefined` (never `delete`, never a Map): a process
   * holds one LiveLists per connected member, and three Maps cost about 450 bytes each idle
   * member (docs/benchmarks.md, P3); a recount's timer and backoff are made only when one is scheduled.
   */
  private readonly windows: { [V in View]?: CountWindow } = {};
  private timers: { [V in View]?: ReturnType<typeof setTimeout> } | null = null;
  private backoff: { [V in View]?: { delay: number; at: number } } | null = null;
  private threshold: { minutes: number; at: number } | null = null;
  /** The team topic's listener, made when the member first sees the team view. */
  private onTeam: ((e: { type?: string }) => void) | null = null;

  constructor(private readonly host: LiveListsHost) {}

  private teamEvent(e: { type?: string }): void {
    if (e?.type === "conversation")
      this.enqueue({ kind: "change", view: View.team, change: e as ConversationChange, seq: ++this.seq, at: Date.now() });
  }

  /**
   * Loads the member, counts `mine` (and `team` for TEAM_VIEWERS, subscribing to its topic first).
   * Subscribe to the inbox topic before calling it: changes queue (unprocessed) until it is done,
   * and the ones that arrived before a count are known to be in it. Throws when the database fails.
   */
  async start(): Promise<void> {
    try {
      await this.control({ kind: "member" });
    } catch (err) {
      this.disposed = true; // the room is discarded; `dispose` still unsubscribes
      throw err;
    } finally {
      this.running = false;
      this.kick();
    }
  }

  /** A `list` event of the member's inbox topic. */
  inboxChange(change: ConversationChange): void {
    this.enqueue({ kind: "change", view: View.mine, change, seq: ++this.seq, at: Date.now() });
  }

  /** A `member` event of the inbox topic: the role (and so the team view) may have changed. */
  memberChanged(): void {
    this.enqueue({ kind: "member" });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.queue.length = 0;
    for (const timer of Object.values(this.timers ?? {})) if (timer) clearTimeout(timer);
    this.timers = null;
    if (this.team && this.viewer && this.onTeam) await this.host.presence.unsubscribe(Topic.team(this.viewer.workspaceId), this.onTeam);
    this.team = false;
  }

  private enqueue(task: Task): void {
    if (this.disposed) return;
    this.queue.push(task);
    this.kick();
  }

  /** Runs the queue unless it runs already (or has not started); presence callbacks never wait for it. */
  private kick(): void {
    if (this.running || this.disposed || this.queue.length === 0) return;
    this.running = true;
    this.drain()
      .catch((err) => this.host.log.warn({ err, memberId: this.host.memberId }, "live lists queue failed"))
      .finally(() => {
        this.running = false;
        this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length && !this.disposed) {
      const head = this.queue[0]!;
      if (head.kind !== "change") {
        this.queue.shift();
        await this.control(head).catch((err) => this.host.log.warn({ err, memberId: this.host.memberId }, "live lists task failed"));
        continue;
      }
      let n = 0;
      while (n < this.queue.length && n < BATCH && this.queue[n]!.kind === "change") n++;
      await this.changes(this.queue.splice(0, n) as Extract<Task, { kind: "change" }>[]);
    }
  }

  private async control(task: Exclude<Task, { kind: "change" }>): Promise<void> {
    if (task.kind === "recount") {
      if (task.view === View.mine || this.team) await this.recount(task.view);
      return;
    }
    const member = await loadMember(this.host.db, this.host.memberId);
    if (!member) return;
    const first = this.viewer === null;
    this.viewer = { id: member.id, workspaceId: member.workspaceId };
    if (first) await this.recount(View.mine);
    const team = TEAM_VIEWERS.has(member.role) && member.status === "active";
    if (team === this.team) {
      if (first) this.host.setTeamView(team);
      return;
    }
    if (team) {
      // Subscribe first: changes from here on queue behind this task, the count below includes
      // the ones that arrive before it starts (see `recount`).
      this.onTeam ??= this.teamEvent.bind(this);
      await this.host.presence.subscribe(Topic.team(member.workspaceId), this.onTeam);
      this.team = true;
      await this.recount(View.team);
    } else {
      this.team = false;
      if (this.onTeam) await this.host.presence.unsubscribe(Topic.team(member.workspaceId), this.onTeam);
      for (const key of [...this.host.counts.keys()]) if (key.startsWith(`${View.team}.`)) this.host.counts.delete(key);
      this.host.countsChanged();
      this.windows[View.team] = undefined;
    }
    this.host.setTeamView(team);
  }

  /** Counts a view afresh; changes queued so far are in the count (they were committed before it). */
  private async recount(view: View): Promise<void> {
    const viewer = this.viewer;
    if (!viewer) return;
    const seqAtStart = this.seq;
    const counts = await countConversations(this.host.db, viewer, view);
    if (this.disposed || (view === View.team && !this.team)) return;
    for (const [key, n] of countEntries(view, counts)) if (this.host.counts.get(key) !== n) this.host.counts.set(key, n);
    this.host.countsChanged();
    this.windows[view] = { seqAtStart, end: Date.now() };
  }

  /** Debounced; backs off (up to MAX_RECOUNT_DELAY_MS) while changes keep landing near each count. */
  private scheduleRecount(view: View): void {
    this.timers ??= {};
    this.backoff ??= {};
    const { timers, backoff } = this;
    if (timers[view]) return;
    const now = Date.now();
    const last = backoff[view];
    const delay = last && now - last.at < MAX_RECOUNT_DELAY_MS * 2 ? Math.min(MAX_RECOUNT_DELAY_MS, last.delay * 2) : SETTLE_MS;
    backoff[view] = { delay, at: now };
    timers[view] = setTimeout(() => {
      if (this.timers) this.timers[view] = undefined;
      this.enqueue({ kind: "recount", view });
    }, delay);
  }

  private applyCounts(task: Extract<Task, { kind: "change" }>, shape: Shape): void {
    const move = countMove(shape);
    const window = this.windows[shape.view];
    if (!move || !window) return;
    // Queued before the count started: already in it.
    if (task.seq <= window.seqAtStart) return;
    if (move.minus) this.host.counts.set(move.minus, (this.host.counts.get(move.minus) ?? 0) - 1);
    if (move.plus) this.host.counts.set(move.plus, (this.host.counts.get(move.plus) ?? 0) + 1);
    this.host.countsChanged();
    // Arrived while counting or just after: it may be in the count too. Count again when quiet.
    if (task.at <= window.end + SETTLE_MS) this.scheduleRecount(shape.view);
  }

  private async changes(batch: Extract<Task, { kind: "change" }>[]): Promise<void> {
    const shapes: Shape[] = [];
    for (const task of batch) {
      if (task.view === View.team && !this.team) continue;
      const shape = task.view === View.mine ? mineShape(task.change, this.host.memberId) : teamShape(task.change, this.host.memberId);
      if (!shape) continue;
      this.applyCounts(task, shape);
      shapes.push(shape);
    }
    if (shapes.length === 0 || this.disposed) return;
    const wanted = [...new Set(shapes.filter((d) => d.op !== ListOp.removed).map((d) => d.conversationId))];
    let items: Map<string, ListItem>;
    try {
      items = await this.loadItems(wanted);
    } catch (err) {
      this.host.log.warn({ err, memberId: this.host.memberId }, "list items not read: clients reload their pages");
      this.host.reset([...new Set(shapes.map((d) => d.view))]);
      return;
    }
    if (this.disposed) return;
    for (const shape of shapes) {
      const item = shape.op === ListOp.removed ? null : (items.get(shape.conversationId) ?? null);
      this.host.send({ ...shape, item });
    }
  }

  /** The member's items of these conversations: one query (plus names), the threshold cached. */
  private async loadItems(ids: readonly string[]): Promise<Map<string, ListItem>> {
    const viewer = this.viewer;
    if (!viewer || ids.length === 0) return new Map();
    const db = this.host.db;
    if (!this.threshold || Date.now() - this.threshold.at > THRESHOLD_TTL_MS) {
      this.threshold = { minutes: await overdueMinutes(db, viewer.workspaceId), at: Date.now() };
    }
    return loadListItems(db, viewer, ids, this.host.now(), this.threshold.minutes);
  }
}
