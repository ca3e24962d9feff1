import type { Conversation, WorkspaceSettings } from "./model.ts";
import { Status } from "./sets.ts";
import { TriggeredKind, supportsTriggered } from "./triggered.ts";

/**
 * Durable timers (issue 11): which ones an accepted action sets or clears. The decision carries
 * them relative to its commit time; storage writes them in the same transaction as the action.
 */
export const TimerKind = {
  /** R13.4 on channels with the reminder (R13.1): remind the customer; the close follows after the grace period. */
  auto_close_reminder: "auto_close_reminder",
  /** R13.4: close the conversation. */
  auto_close: "auto_close",
} as const;
export type TimerKind = (typeof TimerKind)[keyof typeof TimerKind];
export const TIMER_KINDS = Object.values(TimerKind) as readonly TimerKind[];

export interface TimerChanges {
  /** Timers (re)armed to fire `afterMs` after the commit. */
  readonly set: readonly { readonly kind: TimerKind; readonly afterMs: number }[];
  readonly clear: readonly TimerKind[];
  /**
   * The timer this action is the firing of: the commit removes it, and refuses the whole action
   * (as stale) when it is no longer there and due — cleared or moved by an action committed since.
   */
  readonly consume?: TimerKind;
}

export const NO_TIMER_CHANGES: TimerChanges = { set: [], clear: [] };
const AUTO_CLOSE_KINDS: readonly TimerKind[] = [TimerKind.auto_close_reminder, TimerKind.auto_close];

const MINUTE = 60_000;

/**
 * R13.4: a staff reply (by any participant) starts the auto-close wait: after the workspace's
 * duration the customer is reminded where the channel has the reminder (then closed after the
 * grace period), else the conversation is closed. Off when the duration is 0.
 */
export function afterStaffReply(c: Conversation, settings: WorkspaceSettings): TimerChanges {
  if (settings.autoCloseAfterMinutes <= 0 || c.status === Status.closed) return { set: [], clear: AUTO_CLOSE_KINDS };
  const afterMs = settings.autoCloseAfterMinutes * MINUTE;
  const remind = supportsTriggered(TriggeredKind.auto_close_reminder, c.channel) && settings.autoCloseReminderText.trim().length > 0;
  return remind
    ? { set: [{ kind: TimerKind.auto_close_reminder, afterMs }], clear: [TimerKind.auto_close] }
    : { set: [{ kind: TimerKind.auto_close, afterMs }], clear: [TimerKind.auto_close_reminder] };
}

/** R13.4: the customer replied (or the conversation closed): no auto-close is pending. */
export function clearAutoClose(): TimerChanges {
  return { set: [], clear: AUTO_CLOSE_KINDS };
}

/** After the reminder went out: the close follows after the grace period. */
export function afterReminder(settings: WorkspaceSettings): TimerChanges {
  return { set: [{ kind: TimerKind.auto_close, afterMs: Math.max(0, settings.autoCloseGraceMinutes) * MINUTE }], clear: [], consume: TimerKind.auto_close_reminder };
}
