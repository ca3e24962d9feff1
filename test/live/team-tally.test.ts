import { describe, expect, it } from "vitest";
import { TeamTally } from "../../rooms/TeamRoom.ts";

const side = (status: "pending" | "in_progress" | "closed", followerId: string | null, collaboratorIds: string[] = []) => ({
  status,
  collaborative: collaboratorIds.length > 0,
  followerId,
  collaboratorIds,
  kind: "direct" as const,
  lastMessageAt: "2026-11-25T00:00:00.000Z",
  waitingSince: null,
});

function snapshotTally() {
  const tally = new TeamTally();
  // Snapshot: a (in_progress, Dan → Eve) at version 3 changed just before; b closed long ago.
  tally.load({
    counts: [
      { status: "in_progress", collaborative: true, n: 1 },
      { status: "closed", collaborative: false, n: 1 },
    ],
    following: [{ memberId: "dan", n: 1 }],
    collaborating: [{ memberId: "eve", n: 1 }],
    recent: [{ id: "a", version: 3 }],
  });
  return tally;
}

describe("the team room's tally (counts and loads from a snapshot and the change feed)", () => {
  it("[R10.1] a change the snapshot already holds, delivered late, is not counted twice", () => {
    const tally = snapshotTally();
    // Version 3 of `a` (Eve added) committed before the snapshot, delivered after it.
    tally.apply({ conversationId: "a", version: 3, before: side("in_progress", "dan"), after: side("in_progress", "dan", ["eve"]) });
    expect(tally.counts.get("in_progress.collaborative")).toBe(1);
    expect(tally.counts.get("in_progress.regular")).toBe(0);
    expect(tally.collaborating.get("eve")).toBe(1);
  });

  it("[R10.1] later changes move counts and loads by their difference, closed conversations load nobody", () => {
    const tally = snapshotTally();
    tally.apply({ conversationId: "a", version: 4, before: side("in_progress", "dan", ["eve"]), after: side("closed", "dan", ["eve"]) });
    tally.apply({ conversationId: "b", version: 9, before: side("closed", "amy"), after: side("in_progress", "amy") });
    tally.apply({ conversationId: "c", version: 1, before: null, after: side("pending", null) });
    expect(Object.fromEntries(tally.counts)).toEqual({
      "pending.regular": 1,
      "pending.collaborative": 0,
      "in_progress.regular": 1,
      "in_progress.collaborative": 0,
      "closed.regular": 0,
      "closed.collaborative": 1,
    });
    expect([tally.following.get("dan"), tally.following.get("amy"), tally.collaborating.get("eve")]).toEqual([0, 1, 0]);
    // Once forgotten, snapshot versions no longer filter (only late changes needed them).
    tally.forgetSnapshotVersions();
    tally.apply({ conversationId: "a", version: 5, before: side("closed", "dan", ["eve"]), after: side("in_progress", "dan", ["eve"]) });
    expect(tally.counts.get("in_progress.collaborative")).toBe(1);
  });
});
