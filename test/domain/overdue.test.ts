import { describe, expect, it } from "vitest";
import { isOverdue, OVERDUE_SORT_STATUSES, OVERDUE_STATUSES, overdueCutoff } from "../../domain/overdue.ts";
import { Status } from "../../domain/sets.ts";

/** R13.3 overdue waiting, as a pure rule of time: what the lists' flag, their SQL and the team room use. */

const now = new Date("2026-11-25T10:00:00.000Z");
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);

describe("R13.3 overdue waiting", () => {
  it("[R13.3] waiting past the threshold is overdue; less is not; exactly at it is", () => {
    expect(isOverdue({ status: Status.in_progress, waitingSince: minutesAgo(31) }, now, 30)).toBe(true);
    expect(isOverdue({ status: Status.in_progress, waitingSince: minutesAgo(30) }, now, 30)).toBe(true);
    expect(isOverdue({ status: Status.in_progress, waitingSince: new Date(minutesAgo(30).getTime() + 1) }, now, 30)).toBe(false);
    expect(isOverdue({ status: Status.in_progress, waitingSince: minutesAgo(5) }, now, 30)).toBe(false);
  });

  it("[R13.3] the threshold is the workspace's: the same wait is overdue under a lower one", () => {
    const c = { status: Status.pending, waitingSince: minutesAgo(20) };
    expect(isOverdue(c, now, 30)).toBe(false);
    expect(isOverdue(c, now, 10)).toBe(true);
    expect(isOverdue(c, now, 1)).toBe(true);
  });

  it("[R13.3] a conversation not waiting (answered) is never overdue", () => {
    expect(isOverdue({ status: Status.in_progress, waitingSince: null }, now, 1)).toBe(false);
  });

  it("[R13.3] pending and in_progress can be overdue; closed never", () => {
    expect(OVERDUE_STATUSES).toEqual([Status.pending, Status.in_progress]);
    expect(isOverdue({ status: Status.pending, waitingSince: minutesAgo(60) }, now, 30)).toBe(true);
    expect(isOverdue({ status: Status.closed, waitingSince: minutesAgo(60) }, now, 30)).toBe(false);
  });

  it("[R13.3] the SQL's cutoff is now minus the threshold", () => {
    expect(overdueCutoff(now, 30)).toEqual(minutesAgo(30));
    expect(overdueCutoff(now, 10_080).toISOString()).toBe("2026-11-18T10:00:00.000Z");
  });

  it("[R10.3] [R13.3] the overdue sort is offered where conversations can be overdue: pending and in_progress", () => {
    expect([...OVERDUE_SORT_STATUSES]).toEqual([Status.pending, Status.in_progress]);
  });
});
