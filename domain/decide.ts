import type { Action } from "./actions.ts";
import { type AutoMessage, AutoSender, awayMessage, keywordAssignee, welcomeMessage } from "./automatic.ts";
import type { MessagePart } from "./channels.ts";
import { DomainError, ErrorCode } from "./errors.ts";
import type { Effect, Eviction, LogEvent, MemberStateChange, Notice, SystemMessage } from "./events.ts";
import { EvictReason, LogKind, NoticeKind, SystemKind } from "./events.ts";
import { type Conversation, type DecideContext, isCollaborative, isParticipant, participantIds } from "./model.ts";
import { NO_TIMER_CHANGES, type TimerChanges, TimerKind, afterReminder, afterStaffReply, clearAutoClose } from "./timers.ts";
import { TriggeredKind, type TriggeredPayload, cardOf, fallbackOf, supportsTriggered } from "./triggered.ts";
import { MANAGERS, MAX_COLLABORATORS, MemberStatus, type Role, Status, TEAM_VIEWERS, View, assertNever } from "./sets.ts";

/** What an accepted action does. Nothing here has happened yet: the room commits it first. */
export interface Decision {
  readonly next: Conversation;
  /** True when the conversation row (status, follower, collaborators) changes and its version must move. */
  readonly conversationChanged: boolean;
  /** A human message added to the timeline (a staff reply or a customer message). */
  /** `parts`: a customer message's typed parts (issue 9), `text` then being their text fallback. */
  /** `auto`: an automatic message to the customer (R13.1: the auto-close reminder …), `senderId` naming which. */
  readonly message: { readonly sender: "staff" | "customer" | "auto"; readonly senderId: string; readonly text: string; readonly parts?: readonly MessagePart[] } | null;
  /**
   * Automatic messages to the customer written right after `message` in the same commit (R13.1
   * away, R13.2 welcome), each delivered like a staff reply (its own `deliver_reply` outbox row).
   */
  readonly autoMessages: readonly AutoMessage[];
  readonly log: readonly LogEvent[];
  readonly system: readonly SystemMessage[];
  readonly notices: readonly Notice[];
  readonly evictions: readonly Eviction[];
  readonly memberState: readonly MemberStateChange[];
  readonly effects: readonly Effect[];
  /** Durable timers this action sets, clears or fires (domain/timers.ts), written in its transaction. */
  readonly timers: TimerChanges;
}

type MemberActor = Extract<DecideContext["actor"], { type: "member" }>;

function empty(c: Conversation): Decision {
  return {
    next: c,
    conversationChanged: false,
    message: null,
    autoMessages: [],
    log: [],
    system: [],
    notices: [],
    evictions: [],
    memberState: [],
    effects: [],
    timers: NO_TIMER_CHANGES,
  };
}

function refuse(code: ErrorCode, detail?: Record<string, unknown>): never {
  throw new DomainError(code, detail);
}

function memberActor(ctx: DecideContext): MemberActor {
  if (ctx.actor.type !== "member") refuse(ErrorCode.UNAUTHENTICATED);
  return ctx.actor;
}

function isManagerCollaborator(c: Conversation, a: MemberActor): boolean {
  return c.collaboratorIds.includes(a.id) && MANAGERS.has(a.role);
}

function requireOpen(c: Conversation): void {
  if (c.status === Status.closed) refuse(ErrorCode.CONVERSATION_CLOSED);
}

/** A collaborative conversation is in progress (R2.4); a 1-on-1 keeps its status unless it had no follower. */
function statusWith(c: Conversation, followerId: string | null, collaboratorIds: readonly string[]): Status {
  if (c.status === Status.closed) return Status.closed;
  if (collaboratorIds.length > 0) return Status.in_progress;
  return followerId ? (c.status === Status.pending ? Status.in_progress : c.status) : Status.pending;
}

function reshape(c: Conversation, followerId: string | null, collaboratorIds: readonly string[]): Conversation {
  return { ...c, followerId, collaboratorIds, status: statusWith(c, followerId, collaboratorIds) };
}

/** Distinct ids, in the order given; a repeated id is refused rather than silently merged. */
function distinct(ids: readonly string[]): string[] {
  if (new Set(ids).size !== ids.length) refuse(ErrorCode.INVALID_PAYLOAD, { reason: "duplicate member id" });
  return [...ids];
}

/** Every named member is an active member of the workspace (TARGET_NOT_FOUND, TARGET_INACTIVE); bulk transfers check their target with it too. */
export function requireActiveMembers(ids: readonly string[], ctx: Pick<DecideContext, "members">): void {
  for (const id of ids) {
    const m = ctx.members.get(id);
    if (!m) refuse(ErrorCode.TARGET_NOT_FOUND, { memberId: id });
    if (m.status !== MemberStatus.active) refuse(ErrorCode.TARGET_INACTIVE, { memberId: id });
  }
}

function actorRole(a: MemberActor): Role {
  return a.role;
}

/**
 * The rules of SPEC.md as one pure function: given a conversation, an action and its context,
 * return what happens, or throw a `DomainError` whose code says why not. No I/O, no clock.
 */
export function decide(c: Conversation, action: Action, ctx: DecideContext): Decision {
  switch (action.type) {
    case "reply":
      return reply(c, action.text, ctx);
    case "add_collaborators":
      return addCollaborators(c, action.memberIds, ctx);
    case "remove_collaborators":
      return removeCollaborators(c, action.memberIds, ctx);
    case "join":
      return join(c, ctx);
    case "leave":
      return leave(c, ctx);
    case "take_over":
      return takeOver(c, ctx);
    case "transfer":
      return transfer(c, action.memberId, ctx);
    case "close":
      return close(c, ctx);
    case "reopen":
      return reopen(c, ctx);
    case "pin":
    case "unpin":
      return pin(c, action.type === "pin", ctx);
    case "mark_read":
      return markRead(c, ctx);
    case "customer_message":
      return customerMessage(c, action.text, ctx, action.parts);
    case "member_departed":
      return memberDeparted(c, action.memberId, ctx);
    case "auto_close_remind":
      return autoCloseRemind(c, ctx);
    case "auto_close":
      return autoClose(c, ctx, TimerKind.auto_close);
    case "omo_binding":
      return omoBinding(c, action.kind, action.text, ctx);
    case "send_csat":
      return sendCsat(c, action.text, ctx);
    case "triggered":
      return triggered(c, action.payload, ctx);
    default:
      return assertNever(action);
  }
}

/** R1.3, R1.4, R11.3–R11.5. */
function reply(c: Conversation, text: string, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  const participant = isParticipant(c, a.id);
  let unread: MemberStateChange;
  if (isCollaborative(c)) {
    if (!participant) refuse(ErrorCode.REPLY_NOT_ALLOWED); // R1.3: join first
    unread = { kind: "unread_clear", memberIds: [a.id] }; // R11.3
  } else if (c.followerId === a.id && a.view === View.mine) {
    unread = { kind: "unread_clear", memberIds: [a.id] }; // R11.4
  } else if (a.view === View.team && TEAM_VIEWERS.has(a.role)) {
    unread = { kind: "unread_clear_all" }; // R11.5
  } else if (c.followerId === a.id) {
    unread = { kind: "unread_clear", memberIds: [a.id] };
  } else {
    refuse(ErrorCode.REPLY_NOT_ALLOWED); // R1.4
  }
  requireOpen(c);
  return {
    ...empty(c),
    message: { sender: "staff", senderId: a.id, text },
    memberState: [unread],
    effects: [{ kind: "deliver_reply" }],
    timers: afterStaffReply(c, ctx.settings), // R13.4: any participant's reply counts
  };
}

/** R2.1, R2.2, R1.1, R1.2, R2.5–R2.7. */
function addCollaborators(c: Conversation, memberIds: readonly string[], ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (!(c.followerId === a.id || isManagerCollaborator(c, a))) refuse(ErrorCode.MANAGE_NOT_ALLOWED);
  requireOpen(c);
  const ids = distinct(memberIds);
  requireActiveMembers(ids, ctx);
  for (const id of ids) if (isParticipant(c, id)) refuse(ErrorCode.ALREADY_PARTICIPANT, { memberId: id });
  if (c.collaboratorIds.length + ids.length > MAX_COLLABORATORS) {
    refuse(ErrorCode.COLLABORATOR_LIMIT, { max: MAX_COLLABORATORS, current: c.collaboratorIds.length });
  }
  const next = reshape(c, c.followerId, [...c.collaboratorIds, ...ids]);
  return {
    ...empty(next),
    conversationChanged: true,
    log: [{ kind: LogKind.collaborators_added, actorId: a.id, targetIds: ids }],
    system: [{ kind: SystemKind.members_joined, subjectIds: ids }],
    notices: ids.map((id) => ({ kind: NoticeKind.added_you, recipientId: id, actorId: a.id, actorRole: actorRole(a) })),
  };
}

/** R3.1–R3.6. */
function removeCollaborators(c: Conversation, memberIds: readonly string[], ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (!(c.followerId === a.id || isManagerCollaborator(c, a))) refuse(ErrorCode.MANAGE_NOT_ALLOWED);
  requireOpen(c);
  const ids = distinct(memberIds);
  for (const id of ids) if (!c.collaboratorIds.includes(id)) refuse(ErrorCode.NOT_A_COLLABORATOR, { memberId: id });
  const next = reshape(
    c,
    c.followerId,
    c.collaboratorIds.filter((id) => !ids.includes(id)),
  );
  return {
    ...empty(next),
    conversationChanged: true,
    log: [{ kind: LogKind.collaborators_removed, actorId: a.id, targetIds: ids }],
    system: [{ kind: SystemKind.members_left, subjectIds: ids }],
    notices: ids.map((id) => ({ kind: NoticeKind.removed_you, recipientId: id, actorId: a.id, actorRole: actorRole(a) })),
    evictions: ids.map((id) => ({ memberId: id, reason: EvictReason.removed })),
  };
}

/** R4.1–R4.3. */
function join(c: Conversation, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (!TEAM_VIEWERS.has(a.role)) refuse(ErrorCode.JOIN_NOT_ALLOWED);
  if (isParticipant(c, a.id)) refuse(ErrorCode.ALREADY_PARTICIPANT, { memberId: a.id });
  requireOpen(c);
  if (!c.followerId) refuse(ErrorCode.NO_FOLLOWER); // R4.2
  if (c.collaboratorIds.length >= MAX_COLLABORATORS) refuse(ErrorCode.COLLABORATOR_LIMIT, { max: MAX_COLLABORATORS });
  const next = reshape(c, c.followerId, [...c.collaboratorIds, a.id]);
  return {
    ...empty(next),
    conversationChanged: true,
    log: [{ kind: LogKind.joined, actorId: a.id, targetIds: [] }],
    system: [{ kind: SystemKind.members_joined, subjectIds: [a.id] }],
  };
}

/** R5.1–R5.3, R3.6. */
function leave(c: Conversation, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (c.followerId === a.id) refuse(ErrorCode.FOLLOWER_CANNOT_LEAVE);
  if (!c.collaboratorIds.includes(a.id)) refuse(ErrorCode.NOT_A_COLLABORATOR, { memberId: a.id });
  const next = reshape(
    c,
    c.followerId,
    c.collaboratorIds.filter((id) => id !== a.id),
  );
  return {
    ...empty(next),
    conversationChanged: true,
    log: [{ kind: LogKind.left, actorId: a.id, targetIds: [] }],
    system: [{ kind: SystemKind.members_left, subjectIds: [a.id] }],
    notices: [{ kind: NoticeKind.you_left, recipientId: a.id, actorId: a.id, actorRole: actorRole(a) }],
    evictions: [{ memberId: a.id, reason: EvictReason.left }],
  };
}

/** R6.1–R6.4, R14.5. */
function takeOver(c: Conversation, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (!isManagerCollaborator(c, a)) refuse(ErrorCode.TAKE_OVER_NOT_ALLOWED);
  requireOpen(c);
  const previous = c.followerId;
  const rest = c.collaboratorIds.filter((id) => id !== a.id);
  const next = reshape(c, a.id, previous ? [previous, ...rest] : rest);
  return {
    ...empty(next),
    conversationChanged: true,
    log: [{ kind: LogKind.took_over, actorId: a.id, targetIds: previous ? [previous] : [] }],
    system: [{ kind: SystemKind.followed, subjectIds: [a.id] }],
    notices: previous
      ? [{ kind: NoticeKind.took_over_yours, recipientId: previous, actorId: a.id, actorRole: actorRole(a) }]
      : [],
  };
}

/** R7.1–R7.4, R14.5. A 1-on-1 conversation transfers to any active member, as before collaboration. */
function transfer(c: Conversation, targetId: string, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  let next: Conversation;
  if (isCollaborative(c)) {
    if (c.followerId !== a.id) refuse(ErrorCode.TRANSFER_NOT_ALLOWED); // R7.1: collaborators may not
    requireOpen(c);
    if (!c.collaboratorIds.includes(targetId)) refuse(ErrorCode.TRANSFER_TARGET_NOT_COLLABORATOR);
    requireActiveMembers([targetId], ctx);
    next = reshape(c, targetId, [a.id, ...c.collaboratorIds.filter((id) => id !== targetId)]); // R7.2
  } else {
    const mayAssign = c.followerId === a.id || (a.view === View.team && TEAM_VIEWERS.has(a.role));
    if (!mayAssign) refuse(ErrorCode.TRANSFER_NOT_ALLOWED);
    requireOpen(c);
    if (targetId === c.followerId) refuse(ErrorCode.ALREADY_PARTICIPANT, { memberId: targetId });
    requireActiveMembers([targetId], ctx);
    next = reshape(c, targetId, []);
  }
  return {
    ...empty(next),
    conversationChanged: true,
    log: [{ kind: LogKind.transferred, actorId: a.id, targetIds: [targetId] }],
    system: [{ kind: SystemKind.followed, subjectIds: [targetId] }],
    notices: [{ kind: NoticeKind.transferred_to_you, recipientId: targetId, actorId: a.id, actorRole: actorRole(a) }],
  };
}

/** R8.1–R8.3, R12.4. */
function close(c: Conversation, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (c.collaboratorIds.includes(a.id)) refuse(ErrorCode.COLLABORATOR_CANNOT_CLOSE);
  if (c.followerId !== a.id) refuse(ErrorCode.CLOSE_NOT_ALLOWED);
  if (c.status === Status.closed) refuse(ErrorCode.ALREADY_CLOSED);
  const next: Conversation = { ...c, status: Status.closed };
  return {
    ...empty(next),
    conversationChanged: true,
    log: [{ kind: LogKind.closed, actorId: a.id, targetIds: [] }],
    notices: c.collaboratorIds.map((id) => ({
      kind: NoticeKind.closed_by,
      recipientId: id,
      actorId: a.id,
      actorRole: actorRole(a),
    })),
    evictions: c.collaboratorIds.map((id) => ({ memberId: id, reason: EvictReason.closed })),
    memberState: [{ kind: "unpin_all" }],
    effects: ctx.settings.csatOnClose ? [{ kind: "send_csat" }] : [],
    timers: clearAutoClose(),
  };
}

/** R9.1–R9.4. */
function reopen(c: Conversation, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  const allowed = isParticipant(c, a.id) || (a.view === View.team && TEAM_VIEWERS.has(a.role));
  if (!allowed) refuse(ErrorCode.REOPEN_NOT_ALLOWED);
  if (c.status !== Status.closed) refuse(ErrorCode.NOT_CLOSED);
  const next: Conversation = { ...c, status: c.followerId ? Status.in_progress : Status.pending };
  return {
    ...empty(next),
    conversationChanged: true,
    log: [{ kind: LogKind.reopened, actorId: a.id, targetIds: [] }],
  };
}

/** R12.2: pins are the member's own. A closed conversation carries no pins (R12.4). */
function pin(c: Conversation, pinned: boolean, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (!isParticipant(c, a.id) && !TEAM_VIEWERS.has(a.role)) refuse(ErrorCode.PIN_NOT_ALLOWED);
  if (pinned) requireOpen(c);
  return { ...empty(c), memberState: [{ kind: "pin", memberId: a.id, pinned }] };
}

/** R11.2–R11.5: who reading clears. */
function markRead(c: Conversation, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (a.view === View.team || !isParticipant(c, a.id)) return empty(c); // R11.2, R11.5: viewing from team clears nothing
  return { ...empty(c), memberState: [{ kind: "unread_clear", memberIds: [a.id] }] }; // R11.3, R11.4
}

/**
 * R11.1, R2.4, R8.4, R12.1 (push: see below). A closed 1-on-1 conversation goes back to `pending`
 * without a follower. Then R13.2's keyword assignment (a pending 1-on-1 without follower), R13.2's
 * welcome (a new 1-on-1) and R13.1's away message (outside business hours, any conversation).
 */
function customerMessage(c: Conversation, text: string, ctx: DecideContext, parts?: readonly MessagePart[]): Decision {
  if (ctx.actor.type !== "customer") refuse(ErrorCode.UNAUTHENTICATED);
  let next = c;
  if (c.status === Status.closed) {
    next = isCollaborative(c)
      ? { ...c, status: Status.in_progress } // R2.4, R8.4
      : { ...c, status: Status.pending, followerId: null };
  }
  const assignee = keywordAssignee(next, text, ctx.settings, ctx.members); // R13.2: never a collaborative conversation
  if (assignee) next = reshape(next, assignee, []);
  const autoMessages = [welcomeMessage(next, ctx), awayMessage(next, ctx)].filter((m): m is AutoMessage => m !== null);
  const recipients = participantIds(next);
  // R12.1: in an in_progress collaborative conversation, the follower and every collaborator; in
  // an in_progress 1-on-1, its follower (what users expect, issue 11). A pending conversation has
  // nobody to push to (the follower-less queue is watched in the inbox, not pushed).
  const push = next.status === Status.in_progress && recipients.length > 0;
  return {
    ...empty(next),
    conversationChanged: next !== c,
    message: { sender: "customer", senderId: ctx.actor.id, text, ...(parts ? { parts } : {}) },
    autoMessages,
    log: assignee ? [{ kind: LogKind.keyword_assigned, actorId: null, targetIds: [assignee] }] : [],
    system: assignee ? [{ kind: SystemKind.followed, subjectIds: [assignee] }] : [],
    notices: assignee ? [{ kind: NoticeKind.keyword_assigned, recipientId: assignee, actorId: null, actorRole: null }] : [],
    memberState: recipients.length ? [{ kind: "unread_increment", memberIds: recipients }] : [],
    effects: push ? [{ kind: "push", memberIds: recipients }] : [],
    timers: clearAutoClose(), // R13.4: the customer replied
  };
}

/**
 * R13.2: an OMO binding success / additional message, sent to the customer as an automatic
 * message; never on a collaborative conversation. Sent by a member who may open the conversation
 * (a participant, or TEAM_VIEWERS), whatever its status.
 */
function omoBinding(c: Conversation, kind: "success" | "additional", text: string, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (!isParticipant(c, a.id) && !TEAM_VIEWERS.has(a.role)) refuse(ErrorCode.VIEW_NOT_ALLOWED);
  if (isCollaborative(c)) refuse(ErrorCode.NOT_FOR_COLLABORATIVE);
  return {
    ...empty(c),
    message: { sender: "auto", senderId: kind === "success" ? AutoSender.omo_binding_success : AutoSender.omo_binding_additional, text },
    effects: [{ kind: "deliver_reply" }],
  };
}

/** R14.1–R14.5: a deactivated or deleted member leaves every conversation they are part of. */
function memberDeparted(c: Conversation, memberId: string, ctx: DecideContext): Decision {
  const actorId = ctx.actor.type === "customer" ? null : ctx.actor.id;
  if (!isParticipant(c, memberId)) return empty(c);
  const wasCollaborative = isCollaborative(c);
  let next: Conversation;
  if (c.followerId === memberId) {
    const [first, ...rest] = c.collaboratorIds; // R14.4: the first in order, not the earliest to join
    next = first ? reshape(c, first, rest) : reshape(c, null, []);
  } else {
    next = reshape(
      c,
      c.followerId,
      c.collaboratorIds.filter((id) => id !== memberId),
    );
  }
  return {
    ...empty(next),
    conversationChanged: true,
    log: wasCollaborative ? [{ kind: LogKind.member_departed, actorId, targetIds: [memberId] }] : [],
    evictions: [{ memberId, reason: EvictReason.deactivated }],
    memberState: [{ kind: "pin", memberId, pinned: false }],
  };
}

function systemActor(ctx: DecideContext): void {
  if (ctx.actor.type !== "system") refuse(ErrorCode.UNAUTHENTICATED);
}

/**
 * R13.4 with R13.1's reminder: the auto-close wait is over; on a channel with the reminder the
 * customer gets it (an automatic message) and the close follows after the grace period. Without a
 * reminder (its text emptied since, or a channel without one) the conversation closes now.
 */
function autoCloseRemind(c: Conversation, ctx: DecideContext): Decision {
  systemActor(ctx);
  if (c.status === Status.closed) refuse(ErrorCode.ALREADY_CLOSED);
  if (ctx.settings.autoCloseAfterMinutes <= 0) return autoCloseTurnedOff(c, TimerKind.auto_close_reminder);
  const text = ctx.settings.autoCloseReminderText.trim();
  if (!text || !supportsTriggered(TriggeredKind.auto_close_reminder, c.channel)) return autoClose(c, ctx, TimerKind.auto_close_reminder);
  return {
    ...empty(c),
    message: { sender: "auto", senderId: TriggeredKind.auto_close_reminder, text },
    effects: [{ kind: "deliver_reply" }],
    timers: afterReminder(ctx.settings),
  };
}

/**
 * R13.4: the system closes the conversation, with a manual close's effects (R8.2: collaborators'
 * views closed, every pin removed, the survey if enabled) and its own log line; every participant
 * is told. `firing`: the timer this is the firing of (the commit refuses it if no longer due).
 */
function autoClose(c: Conversation, ctx: DecideContext, firing: TimerKind): Decision {
  systemActor(ctx);
  if (c.status === Status.closed) refuse(ErrorCode.ALREADY_CLOSED);
  if (ctx.settings.autoCloseAfterMinutes <= 0) return autoCloseTurnedOff(c, firing);
  return {
    ...empty({ ...c, status: Status.closed }),
    conversationChanged: true,
    log: [{ kind: LogKind.auto_closed, actorId: null, targetIds: [] }],
    notices: participantIds(c).map((id) => ({ kind: NoticeKind.auto_closed, recipientId: id, actorId: null, actorRole: null })),
    evictions: c.collaboratorIds.map((id) => ({ memberId: id, reason: EvictReason.closed })),
    memberState: [{ kind: "unpin_all" }],
    effects: ctx.settings.csatOnClose ? [{ kind: "send_csat" }] : [],
    timers: { ...clearAutoClose(), consume: firing },
  };
}

/** Auto-close was turned off after the timer was set: the timer goes, nothing else happens. */
function autoCloseTurnedOff(c: Conversation, firing: TimerKind): Decision {
  return { ...empty(c), timers: { set: [], clear: [], consume: firing } };
}

/**
 * R8.2, R13.1: the satisfaction survey's link goes to the customer as an automatic message (in the
 * timeline, delivered through the channel like a reply), whatever the conversation's status since
 * the close. It counts as no staff reply (R13.4) and changes no status.
 */
function sendCsat(c: Conversation, text: string, ctx: DecideContext): Decision {
  systemActor(ctx);
  if (!supportsTriggered(TriggeredKind.csat, c.channel)) refuse(ErrorCode.TRIGGERED_NOT_SUPPORTED);
  return { ...empty(c), message: { sender: "auto", senderId: TriggeredKind.csat, text }, effects: [{ kind: "deliver_reply" }] };
}

/**
 * R13.1: a member sends a triggered message (customer journey, cart remarketing card, LINE LON
 * quick message, OMO Live Video). Only on the channels R13.1's table gives the kind
 * (TRIGGERED_NOT_SUPPORTED); by a participant, or a TEAM_VIEWER (admin, supervisor, cs_manager:
 * they may open any conversation), else REPLY_NOT_ALLOWED; on an open conversation, as a reply.
 * It goes out as an automatic message carrying its payload, and counts as no staff reply (R13.4).
 */
function triggered(c: Conversation, payload: TriggeredPayload, ctx: DecideContext): Decision {
  const a = memberActor(ctx);
  if (!supportsTriggered(payload.kind, c.channel)) refuse(ErrorCode.TRIGGERED_NOT_SUPPORTED, { kind: payload.kind, channel: c.channel });
  if (!isParticipant(c, a.id) && !TEAM_VIEWERS.has(a.role)) refuse(ErrorCode.REPLY_NOT_ALLOWED);
  requireOpen(c);
  return {
    ...empty(c),
    message: { sender: "auto", senderId: payload.kind, text: fallbackOf(cardOf(payload)), parts: [{ type: "triggered", payload }] },
    effects: [{ kind: "deliver_reply" }],
  };
}
