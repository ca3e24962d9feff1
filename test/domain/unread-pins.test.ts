import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../domain/errors.ts";
import type { MemberStateChange } from "../../domain/events.ts";
import { Status, View } from "../../domain/sets.ts";
import { TEAM_VIEWER_IDS, act, asCustomer, asMember, collaborative, conversation, refusal, run } from "./fixtures.ts";

const unreadChanges = (changes: readonly MemberStateChange[]) => changes.filter((c) => c.kind.startsWith("unread"));

describe("§11 unread", () => {
  it("[R11.1] a customer message adds one unread for the follower and for each collaborator", () => {
    const d = run(collaborative(["c1", "c2"]), act.customerMessage(), asCustomer());
    expect(d.memberState).toEqual([{ kind: "unread_increment", memberIds: ["fol", "c1", "c2"] }]);
    expect(d.message).toEqual({ sender: "customer", senderId: "cust", text: "hi" });
  });

  it("[R11.1] in a 1-on-1 conversation only the follower's unread grows", () => {
    const d = run(conversation(), act.customerMessage(), asCustomer());
    expect(d.memberState).toEqual([{ kind: "unread_increment", memberIds: ["fol"] }]);
  });

  it("[R11.1] only a customer can send a customer message", () => {
    expect(refusal(() => run(conversation(), act.customerMessage(), asMember("fol")))).toBe(ErrorCode.UNAUTHENTICATED);
  });

  it("[R11.2] a team viewer reading a collaborative conversation from team clears nobody's unread", () => {
    for (const who of TEAM_VIEWER_IDS) {
      const d = run(collaborative(["c1"]), act.markRead(), asMember(who, View.team));
      expect(d.memberState).toEqual([]);
      expect(d.conversationChanged).toBe(false);
    }
  });

  it("[R11.3] a collaborator reading from mine clears only their own unread", () => {
    const d = run(collaborative(["c1", "c2"]), act.markRead(), asMember("c2"));
    expect(d.memberState).toEqual([{ kind: "unread_clear", memberIds: ["c2"] }]);
  });

  it("[R11.3] the follower reading a collaborative conversation from mine clears only the follower's", () => {
    const d = run(collaborative(["c1"]), act.markRead(), asMember("fol"));
    expect(d.memberState).toEqual([{ kind: "unread_clear", memberIds: ["fol"] }]);
  });

  it("[R11.3] replying in a collaborative conversation clears only the replier's unread, even a team viewer's", () => {
    expect(unreadChanges(run(collaborative(["c1"]), act.reply(), asMember("c1")).memberState)).toEqual([
      { kind: "unread_clear", memberIds: ["c1"] },
    ]);
    expect(unreadChanges(run(collaborative(["c1", "adm"]), act.reply(), asMember("adm", View.team)).memberState)).toEqual([
      { kind: "unread_clear", memberIds: ["adm"] },
    ]);
  });

  it("[R11.4] 1-on-1 in mine / in_progress: viewing clears the follower's unread", () => {
    const d = run(conversation(), act.markRead(), asMember("fol", View.mine));
    expect(d.memberState).toEqual([{ kind: "unread_clear", memberIds: ["fol"] }]);
  });

  it("[R11.4] 1-on-1 in mine / in_progress: replying clears the follower's unread", () => {
    const d = run(conversation(), act.reply(), asMember("fol", View.mine));
    expect(unreadChanges(d.memberState)).toEqual([{ kind: "unread_clear", memberIds: ["fol"] }]);
  });

  it("[R11.5] 1-on-1 in team / in_progress: viewing does not clear", () => {
    expect(run(conversation(), act.markRead(), asMember("sup", View.team)).memberState).toEqual([]);
    // not even the follower's own, when the follower looks from the team view
    expect(run(conversation(), act.markRead(), asMember("fol", View.team, "admin")).memberState).toEqual([]);
  });

  it("[R11.5] 1-on-1 in team / in_progress: a team viewer's reply clears everyone's unread", () => {
    for (const who of TEAM_VIEWER_IDS) {
      const d = run(conversation(), act.reply(), asMember(who, View.team));
      expect(unreadChanges(d.memberState)).toEqual([{ kind: "unread_clear_all" }]);
    }
  });

  it("[R11.6] a member's read and pin change only that member's state", () => {
    expect(run(collaborative(["c1", "c2"]), act.markRead(), asMember("c1")).memberState).toEqual([
      { kind: "unread_clear", memberIds: ["c1"] },
    ]);
    expect(run(collaborative(["c1", "c2"]), act.pin(), asMember("c1")).memberState).toEqual([
      { kind: "pin", memberId: "c1", pinned: true },
    ]);
  });
});

describe("§12 push notifications and pins", () => {
  it("[R12.1] a customer message in an in_progress collaborative conversation pushes to the follower and every collaborator", () => {
    const d = run(collaborative(["c1", "c2", "c3"]), act.customerMessage(), asCustomer());
    expect(d.effects).toEqual([{ kind: "push", memberIds: ["fol", "c1", "c2", "c3"] }]);
  });

  it("[R12.1] a customer message in an in_progress 1-on-1 conversation pushes to its follower only (issue 11)", () => {
    expect(run(conversation(), act.customerMessage(), asCustomer()).effects).toEqual([{ kind: "push", memberIds: ["fol"] }]);
  });

  it("[R12.2] the follower pinning pins it for the follower only", () => {
    const d = run(collaborative(["c1", "c2"]), act.pin(), asMember("fol"));
    expect(d.memberState).toEqual([{ kind: "pin", memberId: "fol", pinned: true }]);
    expect(d.conversationChanged).toBe(false);
    expect(d.next).toEqual(collaborative(["c1", "c2"]));
  });

  it("[R12.2] a collaborator unpinning unpins for that collaborator only", () => {
    const d = run(collaborative(["c1", "c2"]), act.unpin(), asMember("c2"));
    expect(d.memberState).toEqual([{ kind: "pin", memberId: "c2", pinned: false }]);
  });

  it("[R12.2] a member with no access to the conversation cannot pin it", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.pin(), asMember("agt")))).toBe(ErrorCode.PIN_NOT_ALLOWED);
  });

  it("[R12.3] a pinned 1-on-1 conversation keeps its pins when it becomes collaborative", () => {
    const added = run(conversation(), act.add("c1", "c2"), asMember("fol"));
    expect(added.memberState.filter((m) => m.kind === "pin" || m.kind === "unpin_all")).toEqual([]);
    const joined = run(conversation(), act.join(), asMember("adm", View.team));
    expect(joined.memberState.filter((m) => m.kind === "pin" || m.kind === "unpin_all")).toEqual([]);
  });

  it("[R12.4] closing removes every pin on the conversation", () => {
    expect(run(conversation(), act.close(), asMember("fol")).memberState).toContainEqual({ kind: "unpin_all" });
    expect(run(collaborative(["c1"]), act.close(), asMember("fol")).memberState).toContainEqual({ kind: "unpin_all" });
  });

  it("[R12.4] a closed conversation cannot be pinned again", () => {
    expect(refusal(() => run(conversation({ status: Status.closed }), act.pin(), asMember("fol")))).toBe(ErrorCode.CONVERSATION_CLOSED);
  });
});
