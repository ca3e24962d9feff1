import { type AuthContext, type Client, Room, ServerError } from "@colyseus/core";
import { StateView } from "@colyseus/schema";
import {
  type CommitResult,
  Duplicate,
  type LoadedConversation,
  type MemberRow,
  VersionConflict,
  commit,
  loadConversation,
  loadEvents,
  loadMemberStates,
  loadMembers,
  loadMessages,
  loadNames,
  loadStoredSettings,
  StaleContext,
  wasProcessed,
} from "../db/repository.ts";
import { loadTimelineAfter } from "../db/timeline.ts";
import { lastAutoMessageAt } from "../db/automatic.ts";
import { AutoSender, awayMayBeDue, keywordCandidates } from "../domain/automatic.ts";
import { activeMember, holdSeat } from "./reconnect.ts";
import { mayOpen } from "../domain/access.ts";
import type { Action, MemberAction } from "../domain/actions.ts";
import { DELIVERY_STATUSES, type DeliveryStatus, type MessagePart, deliveryAfterTold } from "../domain/channels.ts";
import type { TriggeredPayload } from "../domain/triggered.ts";
import { latestSurvey } from "../db/surveys.ts";
import { csatTopic, hasSurveyMessage, showSurvey } from "./csat.ts";
import { type Decision, decide } from "../domain/decide.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import type { EvictReason } from "../domain/events.ts";
import { type Actor, type Conversation, type TimelineFacts, isCollaborative, isParticipant, participantIds } from "../domain/model.ts";
import type { Locale, View } from "../domain/sets.ts";
import { renderError } from "../domain/texts.ts";
import { targetIdsOf } from "../domain/targets.ts";
import { SerialLane } from "./lane.ts";
import { isStorageUnavailable } from "../db/errors.ts";
import { loadDelivery } from "../db/delivery.ts";
import { loadRoomSnapshot } from "../db/snapshot.ts";
import { markNoticesDone } from "../db/outbox.ts";
import { notificationJson } from "../server/notices.ts";
import {
  type Answer,
  ConversationJoinOptions,
  QueryType,
  joinError,
  joinFailure,
  parseAction,
  parseCatchUp,
  parsePage,
  requestIdOf,
  verifyForJoin,
} from "./protocol.ts";
import { type ConversationChange, listSummary, publishChange } from "./feed.ts";
import { type Names, eventJson, idsOfMessage, messageJson, toMessageItem } from "./render.ts";
import { CloseCode } from "./closeCodes.ts";
import type { MemberChange } from "./revocations.ts";
import { services } from "./ports.ts";
import { Topic } from "./topics.ts";
import { ConversationState, MemberRef, MemberView } from "./state.ts";
import { conversationRoomId } from "./roomIds.ts";

/** How many of the newest messages the synchronized state keeps; older ones come by request. */
export const STATE_MESSAGES = 50;

export interface ConversationClientData {
  member: MemberRow;
  view: View;
}

/** Server-side writers (webhooks, administration) reach the room through `serverAction`. */
export type ServerInput =
  | { type: "customer_message"; requestId: string; text: string; parts?: readonly MessagePart[]; customerId: string; inboundEventId?: number }
  | { type: "member_departed"; requestId: string; memberId: string; actorId: string | null }
  /** The scheduler (server/scheduler.ts): a durable timer is due (R13.4). */
  | { type: "timer"; requestId: string; action: "auto_close_remind" | "auto_close" }
  /** The survey worker (server/csat.ts): the survey link to the customer (R8.2, R13.1). */
  | { type: "send_csat"; requestId: string; text: string }
  /** `POST /api/v2/conversations/{id}/triggered` (R13.1): a member sends a triggered message. */
  | { type: "triggered"; member: Pick<MemberRow, "id" | "role" | "locale" | "status" | "workspaceId">; view: View; requestId: string; payload: TriggeredPayload }
  /** A member's action arriving over HTTP (bulk actions): the same rules as from a client. */
  | {
      type: "member_action";
      member: Pick<MemberRow, "id" | "role" | "locale" | "status" | "workspaceId">;
      view: View;
      action: MemberAction;
      /**
       * The member's whole row as the caller read it a moment ago (a bulk job reads its actor at
       * most every 250 ms): a room that has not read it yet keeps it instead of reading it again,
       * as it keeps the rows it reads itself; the commit's fence checks it is still the stored one.
       */
      row?: MemberRow;
    }
  /** R13.2, over HTTP (server/http/omo.ts): an OMO binding message, sent by a member. */
  | { type: "omo_binding"; requestId: string; kind: "success" | "additional"; text: string; member: Pick<MemberRow, "id" | "role" | "locale" | "status" | "workspaceId"> };

const EVICT_CODES: Record<EvictReason, number> = {
  removed: CloseCode.removed,
  left: CloseCode.left,
  closed: CloseCode.closed,
  deactivated: CloseCode.deactivated,
};

async function authorize(token: string, rawOptions: unknown): Promise<ConversationClientData> {
  // Options are checked (storable text, lengths) before anything reaches storage.
  const options = ConversationJoinOptions.safeParse(rawOptions ?? {});
  if (!options.success) throw joinError(400, ErrorCode.INVALID_PAYLOAD);
  const { auth, db, log } = services();
  // Read while the token is checked (one round trip less on a join); used only once it is valid.
  const reading = loadConversation(db, options.data.conversationId).then(
    (row) => ({ ok: true as const, row }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  const member = await verifyForJoin(() => auth.verifyAccess(token));
  let loaded: LoadedConversation | null;
  try {
    const read = await reading;
    if (!read.ok) throw read.err;
    loaded = read.row;
  } catch (e) {
    log.error({ err: e, conversationId: options.data.conversationId }, "join: conversation not loaded");
    throw joinFailure(e, member.locale);
  }
  if (!loaded || loaded.conversation.workspaceId !== member.workspaceId) throw joinError(404, ErrorCode.NOT_FOUND, member.locale);
  if (!mayOpen(loaded.conversation, member, options.data.view)) throw joinError(403, ErrorCode.VIEW_NOT_ALLOWED, member.locale);
  return { member, view: options.data.view };
}

/**
 * A conversation room's patch tick. Every change the room makes sends its patch at once (after an
 * action's commit, a delivery status, a survey, a role change), so the tick is only a safety net;
 * at Colyseus's default (every 50 ms) the rooms a bulk job or a webhook burst creates, which have
 * no client and live for the seat reservation time, cost more CPU ticking than working.
 */
export const IDLE_PATCH_MS = 1000;

/**
 * How long a room nobody has joined stays after a server-side call (a bulk item, a webhook's
 * customer message, a timer) before it is disposed; Colyseus's own wait is the seat reservation
 * time (15 s). A bulk job creates a room per item: at hundreds of items a second, 15 s kept
 * thousands of idle rooms in memory (and in the matchmaker's lists) for no one. A join, a seat
 * reserved or kept for a reconnection, or another call keeps the room as before.
 */
export const SERVER_CALL_LINGER_S = 5;

/** Calls `answer` at most once: every request is answered exactly once, whatever fails after. */
function once(answer: (a: Answer) => void): (a: Answer) => void {
  let done = false;
  return (a) => {
    if (done) return;
    done = true;
    answer(a);
  };
}

/**
 * One conversation, authoritative: room id = conversation id. Every action runs in the serial
 * lane: parse → decide → commit → apply to state → answer → effects. Nothing is told before commit.
 */
export class ConversationRoom extends Room<{ state: ConversationState; client: Client<{ userData: ConversationClientData; auth: ConversationClientData }> }> {
  override state = new ConversationState();
  private readonly lane = new SerialLane();
  /** The rate limit's checks, one at a time so messages reach the lane in the order they came. */
  private readonly gate = new SerialLane();
  private loaded!: LoadedConversation;
  private readonly names = new Map<string, { name: string; role: string }>();
  /**
   * Member rows the actions are decided with, kept between actions: refreshed by the member change
   * feed (`onRevoked`) and checked by every commit's fence, so a change that has not reached the
   * room yet makes the commit fail and the action be decided again with the stored rows.
   */
  private readonly members = new Map<string, MemberRow>();
  private stopRevoked: (() => void) | null = null;
  /** Set when the process stops: messages from then on are not read (the clients resend them after rejoining). */
  private shuttingDown = false;
  /**
   * A member's rights changed (rooms/revocations.ts), in any process. Deactivated: their
   * connections close (4104). A new role: their connections' next actions are decided with it, the
   * state shows it, and a view it no longer opens (`team` outside TEAM_VIEWERS) closes (4105).
   */
  private readonly onRevoked = (change: MemberChange) => {
    if (change.kind === "revoked") {
      this.members.delete(change.memberId);
      return this.evictMember(change.memberId, CloseCode.deactivated, "deactivated");
    }
    const row = this.members.get(change.memberId);
    if (row) this.members.set(change.memberId, { ...row, role: change.role });
    const known = this.names.get(change.memberId);
    if (known) known.role = change.role;
    for (const ref of [this.state.follower, ...this.state.collaborators]) if (ref?.id === change.memberId) ref.role = change.role;
    for (const client of this.clients) {
      const data = client.userData;
      if (data?.member.id !== change.memberId) continue;
      data.member = { ...data.member, role: change.role };
      if (!mayOpen(this.model, data.member, data.view)) client.leave(CloseCode.noLongerParticipant, "view_not_allowed");
    }
    this.broadcastPatch();
  };


  static override async onAuth(token: string, options: unknown, _context: AuthContext): Promise<ConversationClientData> {
    return authorize(token, options);
  }

  override async onCreate(options: { conversationId: string }): Promise<void> {
    this.roomId = conversationRoomId(options.conversationId);
    this.patchRate = IDLE_PATCH_MS;
    // Subscribed before the restore, which runs in the lane: a delivery change committed while the
    // room loads queues behind the restore and is read after it, never lost between the two.
    await this.presence.subscribe(Topic.delivery(this.roomId), this.onDelivery);
    await this.presence.subscribe(csatTopic(this.roomId), this.onSurvey);
    try {
      await this.lane.run(() => this.restore());
    } catch (e) {
      await this.presence.unsubscribe(Topic.delivery(this.roomId), this.onDelivery);
      await this.presence.unsubscribe(csatTopic(this.roomId), this.onSurvey);
      // The message of an error thrown here reaches the joining client: never SQL text.
      if (!(e instanceof ServerError)) services().log.error({ err: e, conversationId: this.roomId }, "room not restored");
      throw joinFailure(e);
    }
    this.stopRevoked = services().revocations.listen(this.onRevoked);
    this.onMessage("*", (client, type, payload) => {
      if (this.shuttingDown) return; // not read: resent after the rejoin, answered then (docs/protocol.md §2.8)
      void this.onClientMessage(client as ConversationRoom["~client"], type, payload);
    });
  }

  override async onJoin(client: ConversationRoom["~client"], _options: unknown, auth: ConversationClientData): Promise<void> {
    // Membership may have changed between onAuth and now: check again against the live model.
    if (!mayOpen(this.model, auth.member, auth.view)) throw joinError(403, ErrorCode.VIEW_NOT_ALLOWED, auth.member.locale);
    client.userData = auth;
    let mine = this.state.me.get(auth.member.id);
    if (!mine) {
      const stored = await this.storedMemberState(auth.member.id, auth.member.locale);
      mine = new MemberView();
      mine.memberId = auth.member.id;
      mine.unreadCount = stored?.unreadCount ?? 0;
      mine.lastReadSeq = stored?.lastReadSeq ?? 0;
      mine.pinned = stored?.pinned ?? false;
      this.state.me.set(auth.member.id, mine);
    }
    client.view = new StateView();
    client.view.add(mine);
  }

  /** A member's stored unread count and pin, for their view; a failure refuses the join without SQL text. */
  private async storedMemberState(memberId: string, locale: Locale) {
    try {
      return (await loadMemberStates(services().db, this.roomId, [memberId])).get(memberId);
    } catch (e) {
      services().log.error({ err: e, conversationId: this.roomId, memberId }, "join: member state not loaded");
      throw joinFailure(e, locale);
    }
  }

  override onLeave(client: ConversationRoom["~client"]): void {
    const id = client.userData?.member.id;
    if (id && !this.clients.some((c) => c !== client && c.userData?.member.id === id)) this.state.me.delete(id);
  }

  /**
   * A connection lost without a leave keeps its seat (and the member's view) for the reconnection
   * window; the SDK reconnects to it by itself (rooms/reconnect.ts). Evictions and shutdown closes
   * are endings, not drops: they go straight to `onLeave`.
   */
  override onDrop(client: ConversationRoom["~client"], code?: number): void {
    holdSeat(this, client, code, this.shuttingDown);
  }

  /**
   * Back within the window: the connection skipped `onAuth`, so its member is checked again as
   * stored now (deactivated → 4104; a role or a membership that no longer opens the view → 4105).
   * The member's view (unread, pin) stayed in the room and was kept current meanwhile.
   */
  override async onReconnect(client: ConversationRoom["~client"]): Promise<void> {
    const data = client.userData;
    if (!data) return;
    const row = await activeMember(this.model.workspaceId, data.member.id);
    if (!row) return client.leave(CloseCode.deactivated, "deactivated");
    data.member = { ...data.member, role: row.role };
    if (!mayOpen(this.model, data.member, data.view)) client.leave(CloseCode.noLongerParticipant, "no_longer_participant");
  }

  /**
   * Graceful stop (server/app.ts `stop()`): the room is locked (no new joins) and stops reading
   * client messages; the actions already queued in its lane run to their answers, then every
   * connection closes with 4106 (`server_restarting`) and the room is disposed (its lane drained
   * again for server-side calls that came in meanwhile).
   */
  override onBeforeShutdown(): void {
    this.shuttingDown = true;
    this.lane
      .idle()
      .then(() => this.disconnect(CloseCode.restarting))
      .catch((err: unknown) => services().log.warn({ err, conversationId: this.roomId }, "room not closed at shutdown"));
  }

  override async onDispose(): Promise<void> {
    this.stopRevoked?.();
    await this.presence.unsubscribe(Topic.delivery(this.roomId), this.onDelivery);
    await this.presence.unsubscribe(csatTopic(this.roomId), this.onSurvey);
    await this.lane.idle();
    await this.noticesSent; // never rejects: a fast path that failed left its notices to the outbox
  }

  /**
   * Colyseus's own auto-dispose wait, restarted at `seconds` (its `resetAutoDisposeTimeout`, typed
   * private): when it ends, the room is disposed if it has no client and no reserved or kept seat
   * (a seat reserved meanwhile restarts it at the reservation time). `test/rooms/linger.test.ts`
   * fails if a Colyseus upgrade moves it.
   */
  private lingerFor(seconds: number): void {
    (this as unknown as { resetAutoDisposeTimeout(seconds: number): void }).resetAutoDisposeTimeout(seconds);
  }

  private get model(): Conversation {
    return this.loaded.conversation;
  }

  // ---- input ---------------------------------------------------------------------------------

  /**
   * Every message is answered exactly once on `result`: input errors with their code, accepted
   * actions after commit, and anything unexpected with `STORAGE_UNAVAILABLE` (storage down or
   * slow) or `INTERNAL` (logged with the request and conversation ids; no SQL or stack text).
   */
  private async onClientMessage(client: ConversationRoom["~client"], type: string | number, payload: unknown): Promise<void> {
    const requestId = requestIdOf(payload);
    const observe = services().metrics.roomRequest(type, "client");
    const answer = once((a: Answer) => {
      observe(a);
      try {
        client.send("result", a);
      } catch (e) {
        // The client left meanwhile: there is nobody to answer.
        services().log.warn({ err: e, conversationId: this.roomId, requestId }, "answer not sent");
      }
    });
    const locale = client.userData?.member.locale ?? "en";
    try {
      const data = client.userData;
      if (!data) throw new Error("message from a client without join data");
      // Checked in arrival order (a gate of its own, not the lane): a refused message changes nothing.
      const retryAfterMs = await this.gate.run(() => services().limits.roomAction(data.member.id));
      if (retryAfterMs !== null) return answer({ ...this.refusal(requestId, ErrorCode.RATE_LIMITED, locale), retryAfterMs });
      if (type === QueryType.catchUp) {
        answer(await this.catchUp(payload, locale));
        return;
      }
      if (type === QueryType.history || type === QueryType.log) {
        answer(await this.query(type, payload, locale));
        return;
      }
      const parsed = parseAction(type, payload);
      if (!parsed.ok) {
        answer(this.refusal(parsed.requestId, parsed.code, locale, parsed.issues));
        return;
      }
      const actor: Actor = { type: "member", id: data.member.id, role: data.member.role, view: data.view };
      await this.execute(actor, parsed.action, locale, answer);
    } catch (e) {
      answer(this.failure(e, requestId, locale, String(type)));
    }
  }

  /**
   * The answer to an unexpected failure: a rule's refusal keeps its code; storage down or slow is
   * `STORAGE_UNAVAILABLE`; anything else `INTERNAL`. Logged here with the ids to find it by.
   */
  private failure(e: unknown, requestId: string | null, locale: Locale, what: string): Answer {
    if (e instanceof DomainError) return this.refusal(requestId, e.code, locale);
    const code = isStorageUnavailable(e) ? ErrorCode.STORAGE_UNAVAILABLE : ErrorCode.INTERNAL;
    services().log.error({ err: e, conversationId: this.roomId, requestId, type: what, code }, "request failed");
    return this.refusal(requestId, code, locale);
  }

  /** Entry point for server-side writers; the answer comes back once committed and applied. */
  async serverAction(input: ServerInput): Promise<Answer> {
    return new Promise<Answer>((settle) => {
      const observe = services().metrics.roomRequest(input.type === "member_action" || input.type === "timer" ? (input.type === "timer" ? input.action : input.action.type) : input.type, "server");
      const resolve = once((a: Answer) => {
        observe(a);
        settle(a);
        if (this.clients.length === 0) this.lingerFor(SERVER_CALL_LINGER_S);
      });
      const requestId = input.type === "member_action" ? input.action.requestId : input.requestId;
      const locale = input.type === "member_action" || input.type === "omo_binding" ? input.member.locale : "en";
      const guard = (run: Promise<void>) => {
        run.catch((e: unknown) => resolve(this.failure(e, requestId, locale, input.type)));
      };
      if (input.type === "customer_message") {
        const action: Action = { type: "customer_message", requestId: input.requestId, text: input.text, ...(input.parts ? { parts: input.parts } : {}) };
        guard(this.execute({ type: "customer", id: input.customerId }, action, "en", resolve, input.requestId, undefined, input.inboundEventId));
      } else if (input.type === "member_action") {
        const { member, view, action, row } = input;
        if (member.workspaceId !== this.model.workspaceId) return resolve(this.refusal(action.requestId, ErrorCode.NOT_FOUND, member.locale));
        if (row?.id === member.id && row.workspaceId === member.workspaceId && !this.members.has(row.id)) {
          this.members.set(row.id, row);
          if (!this.names.has(row.id)) this.names.set(row.id, { name: row.name, role: row.role });
        }
        // Checked in the lane, after its request-id check: a retried bulk item whose first run took the actor's access (a 1-on-1 transfer) is a duplicate, not a refusal.
        const admit = () => (mayOpen(this.model, member, view) ? null : ErrorCode.VIEW_NOT_ALLOWED);
        guard(this.execute({ type: "member", id: member.id, role: member.role, view }, action, member.locale, resolve, undefined, admit));
      } else if (input.type === "omo_binding") {
        const { member } = input;
        if (member.workspaceId !== this.model.workspaceId) return resolve(this.refusal(input.requestId, ErrorCode.NOT_FOUND, member.locale));
        const view = isParticipant(this.model, member.id) ? "mine" : "team";
        const action: Action = { type: "omo_binding", requestId: input.requestId, kind: input.kind, text: input.text };
        guard(this.execute({ type: "member", id: member.id, role: member.role, view }, action, member.locale, resolve));
      } else if (input.type === "send_csat") {
        const action: Action = { type: "send_csat", requestId: input.requestId, text: input.text };
        guard(this.execute({ type: "system", id: null }, action, "en", resolve));
      } else if (input.type === "triggered") {
        const { member, view } = input;
        if (member.workspaceId !== this.model.workspaceId) return resolve(this.refusal(input.requestId, ErrorCode.NOT_FOUND, member.locale));
        const action: Action = { type: "triggered", requestId: input.requestId, payload: input.payload };
        const admit = () => (mayOpen(this.model, member, view) ? null : ErrorCode.VIEW_NOT_ALLOWED);
        guard(this.execute({ type: "member", id: member.id, role: member.role, view }, action, member.locale, resolve, undefined, admit));
      } else if (input.type === "timer") {
        const action: Action = { type: input.action, requestId: input.requestId };
        guard(this.execute({ type: "system", id: null }, action, "en", resolve));
      } else {
        const action: Action = { type: "member_departed", requestId: input.requestId, memberId: input.memberId };
        guard(this.execute({ type: "system", id: input.actorId }, action, "en", resolve));
      }
    });
  }

  /**
   * A message's delivery changed in storage (`Topic.delivery`, published by server/delivery.ts
   * after its commit, from any process, with the delivery as committed): handled in the lane, so
   * it is ordered with the room's own writes and with its restore. The told delivery is shown when
   * it is forward of what the room shows, and read from storage when it cannot be placed
   * (`deliveryAfterTold`: `queued`/`held`; or a telling without a status, as a process of an
   * earlier version sends it during a rolling restart). A message no longer in
   * the state has nothing to patch.
   */
  private readonly onDelivery = (event: { seq?: unknown; status?: unknown; code?: unknown; reason?: unknown }) => {
    const seq = event?.seq;
    if (typeof seq !== "number") return;
    const told =
      typeof event.status === "string" && (DELIVERY_STATUSES as readonly string[]).includes(event.status)
        ? {
            status: event.status as DeliveryStatus,
            code: typeof event.code === "string" ? event.code : null,
            reason: typeof event.reason === "string" ? event.reason : null,
          }
        : null;
    this.lane
      .run(async () => {
        const item = this.state.messages.find((m) => m.seq === seq);
        if (!item) return;
        const step = told ? deliveryAfterTold(item.delivery || null, told.status) : "read";
        if (step === "kept") return;
        const d = step === "told" && told ? told : await loadDelivery(services().db, this.roomId, seq);
        item.delivery = d.status ?? "";
        item.deliveryCode = d.code ?? "";
        item.deliveryReason = d.reason ?? "";
        this.broadcastPatch();
      })
      .catch((err: unknown) => services().log.warn({ err, conversationId: this.roomId, seq }, "delivery status not shown"));
  };

  /**
   * The customer answered the survey (published by `POST /surveys/{token}` after its commit, any
   * process): shows the stored survey, read in the lane like a delivery change.
   */
  private readonly onSurvey = () => {
    this.lane
      .run(async () => {
        showSurvey(this.state.csat, await latestSurvey(services().db, this.roomId));
        this.broadcastPatch();
      })
      .catch((err: unknown) => services().log.warn({ err, conversationId: this.roomId }, "survey not shown"));
  };

  private refusal(requestId: string | null, code: ErrorCode, locale: Locale, issues?: string[]): Answer {
    return { requestId, ok: false, code, message: renderError(code, locale), ...(issues ? { issues } : {}) };
  }

  // ---- the lane ------------------------------------------------------------------------------

  /**
   * Decides and commits one action. The members and settings it is decided with come from the
   * room (`members`, `loaded.settingsHash`), kept current by the member change feed and by every
   * restore; the commit checks in the same statement that they are still the stored ones (its
   * fence) and, if not, they are read again and the action decided again. A refusal is never
   * decided on kept data: the members and settings are read again first, and a request id already
   * accepted is answered `duplicate` instead (the commit itself turns away a retried accepted one).
   */
  private execute(
    actor: Actor,
    action: Action,
    locale: Locale,
    answer: (a: Answer) => void,
    externalId?: string,
    admit?: () => ErrorCode | null,
    inboundEventId?: number,
  ): Promise<void> {
    return this.lane.run(async () => {
      const { db } = services();
      const memberId = actor.type === "member" ? actor.id : null;
      const targetIds = targetIdsOf(action);
      const ids = memberId ? [...targetIds, memberId] : targetIds;
      let fresh = false;
      let conflicts = 0;
      try {
        for (let round = 0; round < 4 && conflicts < 2; round++) {
          const now = services().now();
          let rows = await this.membersOf(ids, fresh);
          let timeline: TimelineFacts | undefined;
          if (action.type === "customer_message") {
            // R13.2: the members keyword assignment may pick; R13.1/R13.2: the timeline facts of the automatic messages.
            const candidates = keywordCandidates(this.model, action.text, this.loaded.settings);
            if (candidates.length) rows = await this.membersOf([...ids, ...candidates], fresh);
            timeline = await this.timelineFacts(now);
          }
          const verdict = this.judge(actor, action, rows, now, admit, timeline);
          if (!verdict.ok) {
            if (!fresh) {
              fresh = true;
              continue;
            }
            if (memberId && (await wasProcessed(db, this.roomId, memberId, action.requestId))) {
              answer({ requestId: action.requestId, ok: true, duplicate: true });
            } else {
              answer(this.refusal(action.requestId, verdict.code, locale));
            }
            return;
          }
          const { decision } = verdict;
          const fence = { workspaceId: this.model.workspaceId, members: [...rows.values()], settingsHash: this.loaded.settingsHash };
          let result: CommitResult;
          try {
            const marks = inboundEventId !== undefined ? { inboundEventId } : {};
            result = await commit(db, {
              before: this.model,
              decision,
              memberId,
              requestId: action.requestId,
              now,
              externalId,
              fence,
              pushWindowMs: services().pushWindowMs,
              ...marks,
            });
          } catch (e) {
            if (e instanceof VersionConflict) {
              conflicts++;
              await this.restore(); // someone else wrote: reload and decide again once
              continue;
            }
            if (e instanceof StaleContext) {
              fresh = true; // a member or the settings changed meanwhile: read them and decide again
              continue;
            }
            if (e instanceof Duplicate) {
              answer({ requestId: action.requestId, ok: true, duplicate: true });
              return;
            }
            throw e;
          }
          await this.committed(decision, result, action.requestId, answer);
          return;
        }
        answer(this.refusal(action.requestId, ErrorCode.VERSION_CONFLICT, locale));
      } catch (e) {
        answer(this.failure(e, action.requestId, locale, action.type));
      }
    });
  }

  /**
   * The rules' verdict on an action with the given member rows: the server writer's admission,
   * the acting member as stored (see `currentActor`), then `decide`.
   */
  private judge(
    actor: Actor,
    action: Action,
    rows: ReadonlyMap<string, MemberRow>,
    now: Date,
    admit?: () => ErrorCode | null,
    timeline?: TimelineFacts,
  ): { ok: true; decision: Decision } | { ok: false; code: ErrorCode } {
    const refused = admit?.();
    if (refused) return { ok: false, code: refused };
    const current = this.currentActor(actor, rows);
    if (!current.ok) return current;
    try {
      return { ok: true, decision: decide(this.model, action, { actor: current.actor, now, members: rows, settings: this.loaded.settings, ...(timeline ? { timeline } : {}) }) };
    } catch (e) {
      if (e instanceof DomainError) return { ok: false, code: e.code };
      throw e;
    }
  }

  /**
   * What a customer message's automatic replies need of the timeline: whether it is empty (R13.2
   * welcome), and — only when the workspace is closed now — when the last away message went out (R13.1).
   */
  private async timelineFacts(now: Date): Promise<TimelineFacts> {
    const lastAwayAt = awayMayBeDue(this.loaded.settings, this.model, now) ? await lastAutoMessageAt(services().db, this.roomId, AutoSender.away) : null;
    return { empty: this.loaded.lastSeq === 0, lastAwayAt };
  }

  /**
   * The member rows of `ids` the room keeps, reading the ones it does not know; with `fresh`, all
   * of them and the workspace settings are read from storage (and kept).
   */
  private async membersOf(ids: readonly string[], fresh: boolean): Promise<Map<string, MemberRow>> {
    const { db } = services();
    const workspaceId = this.model.workspaceId;
    const wanted = [...new Set(ids)];
    if (fresh) {
      const { hash, settings } = await loadStoredSettings(db, workspaceId);
      this.loaded = { ...this.loaded, settings, settingsHash: hash };
      for (const id of wanted) this.members.delete(id);
    }
    const missing = wanted.filter((id) => !this.members.has(id));
    if (missing.length) {
      const loaded = await loadMembers(db, workspaceId, missing);
      for (const row of loaded.values()) this.members.set(row.id, row);
    }
    const out = new Map<string, MemberRow>();
    for (const id of wanted) {
      const row = this.members.get(id);
      if (row) out.set(id, row);
    }
    return out;
  }

  /**
   * The actor as stored now: a member who is no longer active is refused (MEMBER_INACTIVE), a
   * changed role replaces the one read at join, and a view the new role no longer opens is refused
   * (VIEW_NOT_ALLOWED). Customers and the system act as they are.
   */
  private currentActor(actor: Actor, rows: ReadonlyMap<string, MemberRow>): { ok: true; actor: Actor } | { ok: false; code: ErrorCode } {
    if (actor.type !== "member") return { ok: true, actor };
    const row = rows.get(actor.id);
    if (row?.status !== "active") return { ok: false, code: ErrorCode.MEMBER_INACTIVE };
    if (row.role === actor.role) return { ok: true, actor };
    if (!mayOpen(this.model, row, actor.view)) return { ok: false, code: ErrorCode.VIEW_NOT_ALLOWED };
    return { ok: true, actor: { ...actor, role: row.role } };
  }

  /**
   * After commit the answer is `ok` whatever fails next: the action happened. A failure while
   * updating the state reloads it from storage (or, if that fails too, leaves it to the next
   * action's version check); a failure in the effects is logged.
   */
  private async committed(decision: Decision, result: CommitResult, requestId: string, answer: (a: Answer) => void): Promise<void> {
    const { log } = services();
    const before = this.loaded;
    try {
      await this.apply(result);
      this.broadcastPatch();
    } catch (e) {
      log.error({ err: e, conversationId: this.roomId, requestId }, "committed, but the room state was not updated: reloading");
      try {
        await this.restore();
        this.broadcastPatch();
      } catch (again) {
        log.error({ err: again, conversationId: this.roomId, requestId }, "room state not reloaded");
      }
    }
    answer({ requestId, ok: true, seq: result.lastSeq });
    try {
      this.afterCommit(decision, result);
      this.announce(before, result);
    } catch (e) {
      log.error({ err: e, conversationId: this.roomId, requestId }, "committed, but its effects failed");
    }
  }

  // ---- state ---------------------------------------------------------------------------------

  /** Loads the conversation from the database (one statement: `loadRoomSnapshot`) and rebuilds the synchronized state. */
  private async restore(): Promise<void> {
    // One statement: the conversation, its newest messages, the names they show, its survey.
    const snapshot = await loadRoomSnapshot(services().db, this.roomId, STATE_MESSAGES);
    if (!snapshot) throw new ServerError(404, `${ErrorCode.NOT_FOUND}: conversation ${this.roomId}`);
    const { loaded, messages } = snapshot;
    this.loaded = loaded;
    for (const [id, known] of snapshot.names) this.names.set(id, known);
    const s = this.state;
    s.id = loaded.conversation.id;
    s.channel = loaded.conversation.channel;
    s.kind = loaded.conversation.kind;
    s.customer.id = loaded.customer.id;
    s.customer.name = loaded.customer.displayName;
    s.lastSeq = loaded.lastSeq;
    s.messages.clear();
    for (const m of messages) s.messages.push(toMessageItem(m, this.names, loaded.customer.displayName));
    this.syncConversation();
    // The survey (R8.2): shown when there can be one (closed, or its link among the messages).
    if (loaded.conversation.status === "closed" || hasSurveyMessage(messages)) showSurvey(s.csat, snapshot.survey);
  }

  /** Loads the names of `ids` not yet known (or all of them with `fresh`, for answers rendered now: R16.2). */
  private async ensureNames(ids: readonly string[], fresh = false): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => fresh || !this.names.has(id));
    if (!wanted.length) return;
    // Ids that are no member's are customers (the writers of a group conversation's messages, R2.2).
    for (const [id, known] of await loadNames(services().db, this.loaded.conversation.workspaceId, wanted)) this.names.set(id, known);
  }

  private memberRef(id: string): MemberRef {
    const ref = new MemberRef();
    ref.id = id;
    ref.name = this.names.get(id)?.name ?? "?";
    ref.role = this.names.get(id)?.role ?? "";
    return ref;
  }

  private syncConversation(): void {
    const c = this.model;
    const s = this.state;
    s.status = c.status;
    s.version = c.version;
    s.collaborative = isCollaborative(c);
    if (s.follower?.id !== c.followerId) s.follower = c.followerId ? this.memberRef(c.followerId) : undefined;
    const current = s.collaborators.map((m) => m.id).join(",");
    if (current !== c.collaboratorIds.join(",")) {
      s.collaborators.clear();
      for (const id of c.collaboratorIds) s.collaborators.push(this.memberRef(id));
    }
  }

  private async apply(result: CommitResult): Promise<void> {
    this.loaded = { ...this.loaded, conversation: result.conversation, lastSeq: result.lastSeq, times: result.times ?? this.loaded.times };
    await this.ensureNames([...participantIds(result.conversation), ...result.messages.flatMap(idsOfMessage)]);
    this.syncConversation();
    this.state.lastSeq = result.lastSeq;
    for (const m of result.messages) this.state.messages.push(toMessageItem(m, this.names, this.loaded.customer.displayName));
    while (this.state.messages.length > STATE_MESSAGES) this.state.messages.shift();
    for (const ms of result.memberStates) {
      const view = this.state.me.get(ms.memberId);
      if (!view) continue;
      view.unreadCount = ms.unreadCount;
      view.lastReadSeq = ms.lastReadSeq;
      view.pinned = ms.pinned;
    }
  }

  /** After commit and answer: close the views the rules close, publish the notices, and let the outbox run. */
  private afterCommit(decision: Decision, result: CommitResult): void {
    const evicted = new Set<string>();
    for (const e of decision.evictions) {
      this.evictMember(e.memberId, EVICT_CODES[e.reason], e.reason);
      evicted.add(e.memberId);
    }
    for (const client of this.clients) {
      const d = client.userData;
      if (d && !evicted.has(d.member.id) && !mayOpen(this.model, d.member, d.view)) {
        client.leave(CloseCode.noLongerParticipant, "no_longer_participant");
      }
    }
    if (result.notices.length) this.publishNotices(result.notices);
    const queued = [...decision.effects.map((e) => e.kind), ...(decision.autoMessages.length ? ["deliver_reply"] : [])];
    if (queued.length) services().kickOutbox(queued);
  }

  /** The fast paths of this room's commits, one after the other: a member's live notices keep their commit order. */
  private noticesSent: Promise<void> = Promise.resolve();

  /**
   * The fast path of a commit's notices: as stored (names and locale as the commit statement read
   * them, the same data the outbox's read gives), published to each recipient's inbox room (any
   * process), then their outbox rows marked done, without waiting for the outbox drain. The outbox
   * stays the durable way: a publish or mark that fails, or a process that dies after its commit,
   * leaves rows pending, and the outbox delivers them (kicked here, or its poller in any process).
   * A notice delivered both ways (the drain claimed it before the mark) is shown once: the inbox
   * room drops an id it already showed (`InboxRoom.onEvent`).
   */
  private publishNotices(notices: CommitResult["notices"]): void {
    const { db, presence, log, now, kickOutbox } = services();
    const conversationId = this.roomId;
    this.noticesSent = this.noticesSent.then(async () => {
      try {
        // Each recipient's inbox at once: one Redis round trip for all of them, in commit order per member.
        await Promise.all(notices.map((n) => presence.publish(Topic.inbox(n.memberId), { type: "notice", notice: notificationJson(n) })));
        await markNoticesDone(db, notices.map((n) => n.id), now());
      } catch (err) {
        log.warn({ err, conversationId, notificationIds: notices.map((n) => n.id) }, "notices not published after commit: the outbox delivers them");
        kickOutbox(["notice"]);
      }
    });
  }

  /** Tells the lists (inbox and team rooms) what changed. After commit, never before. */
  private announce(before: LoadedConversation, result: CommitResult): void {
    const change: ConversationChange = {
      type: "conversation",
      workspaceId: this.model.workspaceId,
      conversationId: this.roomId,
      version: this.model.version,
      before: listSummary(before.conversation, before.times),
      after: listSummary(this.model, this.loaded.times),
      memberStates: result.allMemberStatesChanged ? "all" : result.memberStates.map((m) => m.memberId),
    };
    publishChange(services().presence, change).catch((err) => services().log.warn({ err, conversationId: this.roomId }, "list change not published"));
  }

  private evictMember(memberId: string, code: number, reason: string): void {
    for (const client of this.clients) {
      if (client.userData?.member.id === memberId) client.leave(code, reason);
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  /** A `history` or `log` page. Errors propagate to `onClientMessage`, which answers them. */
  /**
   * `catch_up`: the timeline entries after `afterSeq`, messages and status-log lines together,
   * each once, in pages that never split a seq: a page ends at `throughSeq`, the next starts after
   * it. Entries up to the room's current `lastSeq` are read from storage (all committed); later
   * ones reach the client as state patches.
   */
  private async catchUp(payload: unknown, locale: Locale): Promise<Answer> {
    const parsed = parseCatchUp(payload);
    if (!parsed.ok) return this.refusal(parsed.requestId, parsed.code, locale, parsed.issues);
    const { requestId, afterSeq, limit } = parsed.request;
    const lastSeq = this.loaded.lastSeq;
    const { messages, events } = await loadTimelineAfter(services().db, this.roomId, afterSeq, lastSeq, limit);
    // Merged by seq, cut at `limit`: a page ends where both lists are known to be complete.
    const seqs = [...messages.map((m) => m.seq), ...events.map((e) => e.seq)].sort((a, b) => a - b);
    const full = messages.length === limit || events.length === limit;
    let throughSeq = lastSeq;
    if (full) {
      const lastOf = (xs: readonly { seq: number }[]) => (xs.length === limit ? xs[xs.length - 1]!.seq : lastSeq);
      throughSeq = Math.min(lastOf(messages), lastOf(events), seqs[Math.min(limit, seqs.length) - 1] ?? lastSeq);
    }
    throughSeq = Math.max(throughSeq, afterSeq);
    const pageMessages = messages.filter((m) => m.seq <= throughSeq);
    const pageEvents = events.filter((e) => e.seq <= throughSeq);
    await this.ensureNames(
      [...pageMessages.flatMap(idsOfMessage), ...pageEvents.flatMap((e) => [...(e.actorId ? [e.actorId] : []), ...e.targetIds])],
      true,
    );
    const names: Names = this.names;
    return {
      requestId,
      ok: true,
      messages: pageMessages.map((m) => messageJson(m, names, this.loaded.customer.displayName, locale)),
      events: pageEvents.map((e) => eventJson(e, names, locale)),
      throughSeq,
      more: throughSeq < lastSeq,
    };
  }

  private async query(type: QueryType, payload: unknown, locale: Locale): Promise<Answer> {
    const parsed = parsePage(payload);
    if (!parsed.ok) return this.refusal(parsed.requestId, parsed.code, locale, parsed.issues);
    const { requestId, beforeSeq, limit } = parsed.page;
    const { db } = services();
    const names: Names = this.names;
    if (type === "history") {
      const rows = await loadMessages(db, this.roomId, limit, beforeSeq);
      await this.ensureNames(rows.flatMap(idsOfMessage), true);
      return { requestId, ok: true, messages: rows.map((m) => messageJson(m, names, this.loaded.customer.displayName, locale)) };
    }
    const rows = await loadEvents(db, this.roomId, limit, beforeSeq);
    await this.ensureNames(
      rows.flatMap((e) => [...(e.actorId ? [e.actorId] : []), ...e.targetIds]),
      true,
    );
    return { requestId, ok: true, events: rows.map((e) => eventJson(e, names, locale)) };
  }

  // ---- presence for push (server/push/viewers.ts) ---------------------------------------------

  /** The members with a client connected to this room now: they are looking at it, so no push (issue 11). */
  connectedMemberIds(): string[] {
    return [...new Set(this.clients.flatMap((c) => (c.userData ? [c.userData.member.id] : [])))];
  }
}
