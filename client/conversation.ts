import type { Room } from "@colyseus/sdk";
import { ErrorCode } from "../domain/errors.ts";
import type { Locale, View } from "../domain/sets.ts";
import { ActionType, QueryType, ServerMessage } from "../domain/wire.ts";
import type { ClosedError } from "./errors.ts";
import { type Joiner, type LinkEvents, RoomLink } from "./link.ts";
import type {
  ActionAnswer,
  AnyAnswer,
  CatchUpAnswer,
  ConversationState,
  HistoryAnswer,
  HistoryMessage,
  LogAnswer,
  LogEvent,
  MessageItem,
} from "./types.ts";

/**
 * The newest messages the state holds (docs/protocol.md §2.2). When the state's window is full and
 * its oldest message is newer than what the client had, entries may have been skipped: catch up.
 */
export const STATE_MESSAGE_WINDOW = 50;

/** One message of the timeline, from the state or from a `catch_up` / `history` page, in one shape. */
export interface TimelineMessage {
  readonly seq: number;
  readonly sender: string;
  readonly senderId: string;
  readonly senderName: string;
  readonly body: string;
  readonly systemKind: string;
  /** The body, or a system line in the member's locale. */
  readonly text: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly delivery: string;
  readonly deliveryCode: string;
  readonly deliveryReason: string;
  readonly parts: string;
}

export interface ConversationEvents extends LinkEvents {
  /** New or changed timeline messages (live patches and catch-up pages), oldest first. */
  timeline: (messages: readonly TimelineMessage[]) => void;
}

interface Pending {
  readonly type: string;
  readonly payload: Record<string, unknown>;
  readonly resolve: (a: AnyAnswer) => void;
  readonly reject: (e: Error) => void;
  retryTimer?: ReturnType<typeof setTimeout>;
}

export interface ConversationOptions {
  /** Retry an answer `RATE_LIMITED` after its `retryAfterMs`, with the same request id (default true). */
  readonly retryRateLimited?: boolean;
  /** The member's locale, to render system lines of the state (default `zh-TW`). */
  readonly locale?: Locale;
}

let counter = 0;
/** A request id unique per client: time, a counter and randomness (1–100 characters, docs/protocol.md §2.3). */
export function newRequestId(prefix = "c"): string {
  counter = (counter + 1) % 1_000_000_000;
  const random = Math.random().toString(36).slice(2, 10);
  return `${prefix}-${Date.now().toString(36)}-${counter.toString(36)}-${random}`;
}

/**
 * An open conversation (docs/protocol.md §2): its typed state, one method per action returning
 * the typed answer, queries, and a timeline of messages kept without gap or repetition across
 * reconnections (catch-up from the last `seq` held, §2.8).
 */
export class ConversationView extends RoomLink<ConversationState, ConversationEvents> {
  private readonly pending = new Map<string, Pending>();
  private readonly messagesBySeq = new Map<number, TimelineMessage>();
  private readonly eventsBySeq = new Map<number, LogEvent>();
  /** Every timeline message with `seq ≤ syncedThrough` is held (since the first state). */
  syncedThrough = 0;
  private syncing = false;
  /** Set once the first state is merged: patches before it are the first state itself. */
  private opened = false;
  private syncAgain = false;
  private readonly retryRateLimited: boolean;
  private readonly locale: Locale;

  constructor(
    joiner: Joiner,
    readonly conversationId: string,
    readonly view: View,
    options: ConversationOptions = {},
  ) {
    super(joiner, "conversation", { conversationId, view });
    this.retryRateLimited = options.retryRateLimited ?? true;
    this.locale = options.locale ?? "zh-TW";
  }

  protected ready(state: ConversationState): boolean {
    return state.id === this.conversationId;
  }

  protected attach(room: Room<any, ConversationState>): void {
    room.onMessage(ServerMessage.result, (a: AnyAnswer) => this.onAnswer(a));
    room.onStateChange(() => {
      if (this.opened && this.room === room && this.ready(room.state)) void this.sync();
    });
  }

  override async open(): Promise<this> {
    await super.open();
    this.mergeState();
    this.syncedThrough = this.state.lastSeq;
    this.opened = true;
    return this;
  }

  protected async resume(): Promise<void> {
    this.resendPending();
    await this.catchUpFrom(this.syncedThrough);
    await this.sync();
  }

  protected finish(error: ClosedError): void {
    for (const p of this.pending.values()) {
      if (p.retryTimer) clearTimeout(p.retryTimer);
      p.reject(error);
    }
    this.pending.clear();
  }

  // ---- timeline ---------------------------------------------------------------------------------

  /** Every message held, oldest first: the state's window, what catch-ups brought, and older pages read with `history`. */
  timeline(): TimelineMessage[] {
    return [...this.messagesBySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The status-log lines catch-ups brought (live lines are not in the state: read them with `log`). */
  logEvents(): LogEvent[] {
    return [...this.eventsBySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  private mergeState(): TimelineMessage[] {
    const changed: TimelineMessage[] = [];
    for (const m of this.state.messages) {
      const item = fromState(m, this.locale);
      const had = this.messagesBySeq.get(item.seq);
      if (!had || !sameMessage(had, item)) {
        this.messagesBySeq.set(item.seq, item);
        changed.push(item);
      }
    }
    return changed;
  }

  private mergePage(messages: readonly HistoryMessage[], events: readonly LogEvent[] = []): TimelineMessage[] {
    const added: TimelineMessage[] = [];
    for (const m of messages) {
      if (this.messagesBySeq.has(m.seq)) continue;
      const item = fromHistory(m);
      this.messagesBySeq.set(m.seq, item);
      added.push(item);
    }
    for (const e of events) this.eventsBySeq.set(e.seq, e);
    return added;
  }

  /** True when the state's window joins what is held: no message can have been skipped. */
  private stateCovers(): boolean {
    const s = this.state;
    const oldest = s.messages.length ? s.messages[0]!.seq : 0;
    return s.lastSeq <= this.syncedThrough || s.messages.length < STATE_MESSAGE_WINDOW || oldest <= this.syncedThrough + 1;
  }

  /** Merges the state; catches up first when the window moved past what was held. One at a time. */
  private async sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    try {
      do {
        this.syncAgain = false;
        if (!this.stateCovers()) await this.catchUpFrom(this.syncedThrough);
        const changed = this.mergeState();
        if (this.stateCovers()) this.syncedThrough = Math.max(this.syncedThrough, this.state.lastSeq);
        else this.syncAgain = true;
        if (changed.length) this.emitTimeline(changed);
      } while (this.syncAgain && !this.closed);
    } catch {
      // The view closed meanwhile (finish() rejected the catch-up); nothing to do.
    } finally {
      this.syncing = false;
    }
  }

  /** Every entry after `afterSeq`, page by page (docs/protocol.md §2.7 `catch_up`). */
  private async catchUpFrom(afterSeq: number): Promise<void> {
    let from = afterSeq;
    for (;;) {
      const a = await this.catchUp(from, 200);
      if (!a.ok) throw new Error(`catch_up refused: ${a.code}`);
      const added = this.mergePage(a.messages, a.events);
      this.syncedThrough = Math.max(this.syncedThrough, a.throughSeq);
      if (added.length) this.emitTimeline(added.sort((x, y) => x.seq - y.seq));
      if (!a.more) return;
      from = a.throughSeq;
    }
  }

  private emitTimeline(messages: readonly TimelineMessage[]): void {
    this.emit("timeline", messages);
  }

  // ---- requests ---------------------------------------------------------------------------------

  /**
   * Sends one message and resolves with its one answer. The request id is made unless given; the
   * request is resent with the same id after a reconnection or rejoin until answered (the server
   * applies it once, §2.3), and rejects only if the view closes for good.
   */
  request<A extends AnyAnswer = AnyAnswer>(
    type: string,
    payload: Record<string, unknown> = {},
    requestId: string = newRequestId(),
  ): Promise<A> {
    if (this.closed) return Promise.reject(new Error(`the conversation view is closed (${this.closed.code})`));
    return new Promise<A>((resolve, reject) => {
      const full = { ...payload, requestId };
      this.pending.set(requestId, { type, payload: full, resolve: resolve as (a: AnyAnswer) => void, reject });
      this.transmit(type, full);
    });
  }

  private transmit(type: string, payload: Record<string, unknown>): void {
    try {
      this.room.send(type, payload);
    } catch {
      // Not connected: resent on reconnecting.
    }
  }

  private resendPending(): void {
    for (const p of this.pending.values()) if (!p.retryTimer) this.transmit(p.type, p.payload);
  }

  private onAnswer(a: AnyAnswer): void {
    if (typeof a?.requestId !== "string") return;
    const p = this.pending.get(a.requestId);
    if (!p || p.retryTimer) return;
    if (!a.ok && a.code === ErrorCode.RATE_LIMITED && this.retryRateLimited) {
      p.retryTimer = setTimeout(
        () => {
          p.retryTimer = undefined;
          if (this.pending.get(a.requestId as string) === p) this.transmit(p.type, p.payload);
        },
        Math.max(0, a.retryAfterMs ?? 1000),
      );
      return;
    }
    this.pending.delete(a.requestId);
    p.resolve(a);
  }

  /** Requests sent and not answered yet (their ids). */
  pendingRequestIds(): string[] {
    return [...this.pending.keys()];
  }

  // ---- actions (docs/protocol.md §2.4) -----------------------------------------------------------

  /** `reply`: a staff message (R1.3, R1.4). */
  reply(text: string, requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.reply, { text }, requestId);
  }
  /** `add_collaborators` (R2.1). */
  addCollaborators(memberIds: readonly string[], requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.add_collaborators, { memberIds: [...memberIds] }, requestId);
  }
  /** `remove_collaborators` (R3). */
  removeCollaborators(memberIds: readonly string[], requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.remove_collaborators, { memberIds: [...memberIds] }, requestId);
  }
  /** `join` (R4). */
  join(requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.join, {}, requestId);
  }
  /** `leave` (R5): the caller's connections then close with 4102. Not to be confused with `disconnect()`. */
  leaveConversation(requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.leave, {}, requestId);
  }
  /** `take_over` (R6). */
  takeOver(requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.take_over, {}, requestId);
  }
  /** `transfer` (R7, and the first follower of a pending conversation, R4.2). */
  transfer(memberId: string, requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.transfer, { memberId }, requestId);
  }
  /** `close` (R8). */
  close(requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.close, {}, requestId);
  }
  /** `reopen` (R9). */
  reopen(requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.reopen, {}, requestId);
  }
  /** `pin` (R12). */
  pin(requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.pin, {}, requestId);
  }
  /** `unpin` (R12). */
  unpin(requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.unpin, {}, requestId);
  }
  /** `mark_read` (R11). */
  markRead(requestId?: string): Promise<ActionAnswer> {
    return this.request(ActionType.mark_read, {}, requestId);
  }

  // ---- queries (docs/protocol.md §2.7) -----------------------------------------------------------

  /** Older messages (`seq < beforeSeq`), oldest first; they join the timeline. */
  async history(page: { beforeSeq?: number; limit?: number } = {}): Promise<HistoryAnswer> {
    const a = await this.request<HistoryAnswer>(QueryType.history, { ...page });
    if (a.ok) this.mergePage(a.messages);
    return a;
  }
  /** Status-log lines, oldest first. */
  log(page: { beforeSeq?: number; limit?: number } = {}): Promise<LogAnswer> {
    return this.request<LogAnswer>(QueryType.log, { ...page });
  }
  /** One `catch_up` page: entries with `afterSeq < seq ≤ throughSeq`. */
  catchUp(afterSeq: number, limit?: number): Promise<CatchUpAnswer> {
    return this.request<CatchUpAnswer>(QueryType.catchUp, limit === undefined ? { afterSeq } : { afterSeq, limit });
  }

  /** Leaves the room (the connection, not the conversation): the view is over. */
  disconnect(): Promise<void> {
    return this.leave();
  }
}

function fromState(m: MessageItem, locale: Locale): TimelineMessage {
  return {
    seq: m.seq,
    sender: m.sender,
    senderId: m.senderId,
    senderName: m.senderName,
    body: m.body,
    systemKind: m.systemKind,
    text: m.sender === "system" ? (m.texts.get(locale) ?? m.texts.get("en") ?? "") : m.body,
    createdAt: m.createdAt,
    delivery: m.delivery,
    deliveryCode: m.deliveryCode,
    deliveryReason: m.deliveryReason,
    parts: m.parts,
  };
}

function fromHistory(m: HistoryMessage): TimelineMessage {
  return {
    seq: m.seq,
    sender: m.sender,
    senderId: m.senderId,
    senderName: m.senderName,
    body: m.body,
    systemKind: m.systemKind,
    text: m.text,
    createdAt: Date.parse(m.createdAt),
    delivery: m.delivery,
    deliveryCode: m.deliveryCode,
    deliveryReason: m.deliveryReason,
    parts: m.parts,
  };
}

function sameMessage(a: TimelineMessage, b: TimelineMessage): boolean {
  return a.delivery === b.delivery && a.deliveryCode === b.deliveryCode && a.text === b.text && a.senderName === b.senderName;
}
