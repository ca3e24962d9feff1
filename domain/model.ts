import type { BusinessHours } from "./hours.ts";
import type { Channel, ConversationKind, Locale, MemberStatus, Role, Status, View } from "./sets.ts";

/** A conversation as the rules see it. `version` is the optimistic-lock counter of its row. */
export interface Conversation {
  readonly id: string;
  readonly workspaceId: string;
  readonly customerId: string;
  readonly channel: Channel;
  readonly kind: ConversationKind;
  readonly status: Status;
  readonly followerId: string | null;
  /** In list order (R14.5): new ones appended, a follower who steps down put first. */
  readonly collaboratorIds: readonly string[];
  readonly version: number;
}

/** What the rules need to know of a member. */
export interface MemberInfo {
  readonly id: string;
  readonly role: Role;
  readonly status: MemberStatus;
}

/** Who acts. A customer writes in; the system acts for scheduled or administrative work. */
export type Actor =
  | { readonly type: "member"; readonly id: string; readonly role: Role; readonly view: View }
  | { readonly type: "customer"; readonly id: string }
  | { readonly type: "system"; readonly id: string | null };

export interface WorkspaceSettings {
  /** Send a satisfaction survey when a conversation is closed (R8.2). */
  readonly csatOnClose: boolean;
  /** Minutes a customer may wait unanswered before the conversation is overdue (R13.3). */
  readonly overdueAfterMinutes: number;
  /** Minutes after the last staff reply before auto-close (R13.4); 0 = off. */
  readonly autoCloseAfterMinutes: number;
  /**
   * On channels with the auto-close reminder (R13.1): the text sent to the customer when the
   * auto-close duration has passed; empty = no reminder (the close comes at the due time).
   */
  readonly autoCloseReminderText: string;
  /** Minutes between the reminder and the close. */
  readonly autoCloseGraceMinutes: number;
  /** R13.1: when the workspace is open (domain/hours.ts); null or no intervals = always open, no away message. */
  readonly businessHours: BusinessHours | null;
  /** R13.1: sent to a customer writing outside business hours, once per closed period; empty = off. */
  readonly awayText: string;
  /** R13.2: sent on the first customer message of a new 1-on-1 conversation; empty = off. */
  readonly welcomeText: string;
  /** R13.2: keyword auto-assignment of pending 1-on-1 conversations; the first matching rule wins. */
  readonly keywordRules: KeywordRule[];
}

/** R13.2: a customer message containing `keyword` (case-insensitive) assigns the conversation to `memberId`. */
export type KeywordRule = {
  readonly keyword: string;
  readonly memberId: string;
};

export const DEFAULT_SETTINGS: WorkspaceSettings = {
  csatOnClose: false,
  overdueAfterMinutes: 30,
  autoCloseAfterMinutes: 0,
  autoCloseReminderText: "您好，因為一段時間沒有收到您的回覆，此對話即將自動結束。如仍需協助，請直接回覆此訊息。",
  autoCloseGraceMinutes: 60,
  businessHours: null,
  awayText: "您好，目前為非營業時間，我們將於營業時間盡快回覆您。",
  welcomeText: "",
  keywordRules: [],
};

export interface DecideContext {
  readonly actor: Actor;
  readonly now: Date;
  /** Every member the action names (targets), by id; unknown ids are refused. */
  readonly members: ReadonlyMap<string, MemberInfo>;
  readonly settings: WorkspaceSettings;
  /** For a customer message: what the rules need of the conversation's timeline (R13.1, R13.2). */
  readonly timeline?: TimelineFacts;
}

/** Facts of a conversation's timeline the room reads for a customer message's automatic replies. */
export interface TimelineFacts {
  /** No message or status-log line yet (`last_seq` 0): the conversation was created for this message (R13.2 welcome). */
  readonly empty: boolean;
  /** When the last away message went out, or null; read only when the workspace is closed at the time (R13.1). */
  readonly lastAwayAt: Date | null;
}

export interface MemberDisplay {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly locale: Locale;
}

export function isCollaborative(c: Pick<Conversation, "collaboratorIds">): boolean {
  return c.collaboratorIds.length > 0;
}

export function participantIds(c: Pick<Conversation, "followerId" | "collaboratorIds">): string[] {
  return c.followerId ? [c.followerId, ...c.collaboratorIds] : [...c.collaboratorIds];
}

export function isParticipant(c: Pick<Conversation, "followerId" | "collaboratorIds">, memberId: string): boolean {
  return c.followerId === memberId || c.collaboratorIds.includes(memberId);
}
