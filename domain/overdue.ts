import { Status } from "./sets.ts";

/**
 * R13.3, overdue waiting (超時等候): a customer message left unanswered past the workspace's
 * threshold (`overdueAfterMinutes`) makes an open conversation overdue, collaborative or not.
 * `waitingSince` is the oldest customer message not yet answered by staff (null once answered).
 * The lists' flag, their SQL and the team room's overdue list all take the rule from here.
 */

/** The statuses in which a conversation can be overdue: open ones. A closed one never is. */
export const OVERDUE_STATUSES: readonly Status[] = [Status.pending, Status.in_progress];

/** The lists that offer the overdue sort (R10.3): the open statuses, where waiting matters. */
export const OVERDUE_SORT_STATUSES: ReadonlySet<Status> = new Set(OVERDUE_STATUSES);

/** The latest `waitingSince` that is overdue at `now`: waiting since then or earlier. */
export function overdueCutoff(now: Date, overdueAfterMinutes: number): Date {
  return new Date(now.getTime() - overdueAfterMinutes * 60_000);
}

/** Whether a conversation is overdue at `now` (open, and waiting since the cutoff or before). */
export function isOverdue(
  c: { readonly status: Status; readonly waitingSince: Date | null },
  now: Date,
  overdueAfterMinutes: number,
): boolean {
  return (
    OVERDUE_STATUSES.includes(c.status) &&
    c.waitingSince !== null &&
    c.waitingSince.getTime() <= overdueCutoff(now, overdueAfterMinutes).getTime()
  );
}
