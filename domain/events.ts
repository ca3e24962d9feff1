import type { Role } from "./sets.ts";

/** Kinds of status-log lines (對話狀態紀錄). Stored structured; text is rendered on read (R16.2). */
export const LogKind = {
  collaborators_added: "collaborators_added", // R2.5
  collaborators_removed: "collaborators_removed", // R3.3
  joined: "joined", // R4.3
  left: "left", // R5.2
  took_over: "took_over", // R6.3
  transferred: "transferred", // R7.3
  closed: "closed", // R8.3
  reopened: "reopened", // R9.4
  member_departed: "member_departed", // R14.2
  auto_closed: "auto_closed", // R13.4 (the system closed it)
  keyword_assigned: "keyword_assigned", // R13.2 (the system assigned it by keyword)
} as const;
export type LogKind = (typeof LogKind)[keyof typeof LogKind];

/** A status-log event: who did what to whom. `targetIds` are member ids in the order given. */
export interface LogEvent {
  readonly kind: LogKind;
  readonly actorId: string | null;
  readonly targetIds: readonly string[];
}

/** Kinds of system messages shown in the chat timeline (系統訊息). */
export const SystemKind = {
  members_joined: "members_joined", // R2.6, R4.3
  members_left: "members_left", // R3.4, R5.2
  followed: "followed", // R6.3, R7.3
} as const;
export type SystemKind = (typeof SystemKind)[keyof typeof SystemKind];

export interface SystemMessage {
  readonly kind: SystemKind;
  /** The members the line is about; the first is named, the rest counted (R2.6, R3.4). */
  readonly subjectIds: readonly string[];
}

/** Kinds of real-time notifications to one member (即時通知). */
export const NoticeKind = {
  added_you: "added_you", // R2.7
  removed_you: "removed_you", // R3.5
  you_left: "you_left", // R5.3
  took_over_yours: "took_over_yours", // R6.4
  transferred_to_you: "transferred_to_you", // R7.4
  closed_by: "closed_by", // R8.3
  auto_closed: "auto_closed", // R13.4
  keyword_assigned: "keyword_assigned", // R13.2
} as const;
export type NoticeKind = (typeof NoticeKind)[keyof typeof NoticeKind];

export interface Notice {
  readonly kind: NoticeKind;
  readonly recipientId: string;
  readonly actorId: string | null;
  /** The actor's role when it happened (the text names it, R2.7). */
  readonly actorRole: Role | null;
}

/** Why a member's connections to a conversation are ended. Each has its own close code. */
export const EvictReason = {
  removed: "removed", // R3.2
  left: "left", // R5.3
  closed: "closed", // R8.2
  deactivated: "deactivated", // R14
} as const;
export type EvictReason = (typeof EvictReason)[keyof typeof EvictReason];

export interface Eviction {
  readonly memberId: string;
  readonly reason: EvictReason;
}

/** Side effects that leave through the outbox after commit. */
export type Effect =
  | { readonly kind: "push"; readonly memberIds: readonly string[] } // R12.1
  | { readonly kind: "send_csat" } // R8.2
  | { readonly kind: "deliver_reply" }; // a staff reply to the customer's channel

/** Changes to per-member state (unread, pins). */
export type MemberStateChange =
  | { readonly kind: "unread_increment"; readonly memberIds: readonly string[] } // R11.1
  | { readonly kind: "unread_clear"; readonly memberIds: readonly string[] } // R11.3–R11.5
  | { readonly kind: "unread_clear_all" } // R11.5 reply from team clears everyone's
  | { readonly kind: "pin"; readonly memberId: string; readonly pinned: boolean } // R12.2
  | { readonly kind: "unpin_all" }; // R12.4
