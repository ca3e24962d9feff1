import { describe, expect, it } from "vitest";
import { decide } from "../../domain/decide.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { EvictReason, LogKind, NoticeKind, SystemKind } from "../../domain/events.ts";
import type { Action } from "../../domain/actions.ts";
import { type Actor, type Conversation, isCollaborative } from "../../domain/model.ts";
import { Channel, ConversationKind, Role, Status, View } from "../../domain/sets.ts";
import { renderLog, renderNotice, renderSystem } from "../../domain/texts.ts";
import { MANAGER_IDS, TEAM_VIEWER_IDS, act, asMember, collaborative, context, conversation, names, refusal, run } from "./fixtures.ts";

const zh = "zh-TW" as const;

describe("refusals", () => {
  it("a refused action throws a DomainError with a code and returns nothing", () => {
    const c = collaborative(["c1"]);
    let returned: unknown = "nothing";
    expect(() => {
      returned = decide(c, act.close(), context(asMember("c1")));
    }).toThrow(DomainError);
    expect(returned).toBe("nothing");
    expect(refusal(() => run(c, act.close(), asMember("c1")))).toBe(ErrorCode.COLLABORATOR_CANNOT_CLOSE);
  });
});

describe("§1 limits and reply rights", () => {
  it("[R1.1] a 5th collaborator can be added, a 6th cannot", () => {
    const four = collaborative(["c1", "c2", "c3", "c4"]);
    const d = run(four, act.add("c5"), asMember("fol"));
    expect(d.next.collaboratorIds).toEqual(["c1", "c2", "c3", "c4", "c5"]);
    expect(refusal(() => run(d.next, act.add("n1"), asMember("fol")))).toBe(ErrorCode.COLLABORATOR_LIMIT);
  });

  it("[R1.1] the follower is not counted: follower + 5 collaborators is allowed", () => {
    const d = run(conversation(), act.add("c1", "c2", "c3", "c4", "c5"), asMember("fol"));
    expect(d.next.followerId).toBe("fol");
    expect(d.next.collaboratorIds).toHaveLength(5);
  });

  it("[R1.1] joining a conversation that already has 5 collaborators is refused", () => {
    const full = collaborative(["c1", "c2", "c3", "c4", "c5"]);
    expect(refusal(() => run(full, act.join(), asMember("adm", View.team)))).toBe(ErrorCode.COLLABORATOR_LIMIT);
  });

  it("[R1.1] there is only ever one follower: after a take over the taker is not also a collaborator", () => {
    const d = run(collaborative(["c1", "adm"]), act.takeOver(), asMember("adm"));
    expect(d.next.followerId).toBe("adm");
    expect(d.next.collaboratorIds).not.toContain("adm");
    expect(d.next.collaboratorIds).toHaveLength(2);
  });

  it("[R1.2] adding 3 to a conversation with 3 collaborators is refused whole: nothing is added", () => {
    const c = collaborative(["c1", "c2", "c3"]);
    expect(refusal(() => run(c, act.add("n1", "n2", "n3"), asMember("fol")))).toBe(ErrorCode.COLLABORATOR_LIMIT);
    expect(c.collaboratorIds).toEqual(["c1", "c2", "c3"]);
    // the same batch one short of the limit goes through, so the refusal above is about the total
    expect(run(c, act.add("n1", "n2"), asMember("fol")).next.collaboratorIds).toEqual(["c1", "c2", "c3", "n1", "n2"]);
  });

  it("[R1.3] in a collaborative conversation the follower and any collaborator (even a plain agent) may reply", () => {
    const c = collaborative(["c1"]);
    for (const who of ["fol", "c1"] as const) {
      const d = run(c, act.reply("on it"), asMember(who));
      expect(d.message).toEqual({ sender: "staff", senderId: who, text: "on it" });
      expect(d.effects).toContainEqual({ kind: "deliver_reply" });
    }
  });

  it("[R1.3] in a collaborative conversation a non-participant may not reply, whatever the role or view", () => {
    const c = collaborative(["c1"]);
    for (const who of [...MANAGER_IDS, "agt"] as const) {
      for (const view of [View.team, View.mine]) {
        expect(refusal(() => run(c, act.reply(), asMember(who, view)))).toBe(ErrorCode.REPLY_NOT_ALLOWED);
      }
    }
  });

  it("[R1.4] in a 1-on-1 conversation the follower replies", () => {
    const d = run(conversation(), act.reply("hi"), asMember("fol"));
    expect(d.message).toEqual({ sender: "staff", senderId: "fol", text: "hi" });
  });

  it("[R1.4] in a 1-on-1 conversation TEAM_VIEWERS may reply from the team view", () => {
    for (const who of TEAM_VIEWER_IDS) {
      const d = run(conversation(), act.reply("hi"), asMember(who, View.team));
      expect(d.message?.senderId).toBe(who);
    }
  });

  it("[R1.4] in a 1-on-1 conversation other members may not reply: marketing_cs and agents, or a team viewer outside the team view", () => {
    expect(refusal(() => run(conversation(), act.reply(), asMember("mkt", View.team)))).toBe(ErrorCode.REPLY_NOT_ALLOWED);
    expect(refusal(() => run(conversation(), act.reply(), asMember("agt", View.team)))).toBe(ErrorCode.REPLY_NOT_ALLOWED);
    expect(refusal(() => run(conversation(), act.reply(), asMember("adm", View.mine)))).toBe(ErrorCode.REPLY_NOT_ALLOWED);
  });

  it("[R1.4] a reply to a closed conversation is refused", () => {
    expect(refusal(() => run(conversation({ status: Status.closed }), act.reply(), asMember("fol")))).toBe(ErrorCode.CONVERSATION_CLOSED);
  });
});

describe("§1 same rights on every client", () => {
  /** The same member on web and on mobile: decide() must answer alike (it is the only judge). */
  const on = (client: "web" | "mobile", actor: Actor): Actor => Object.assign({ client }, actor);
  const answer = (thunk: () => unknown): unknown => {
    try {
      return thunk();
    } catch (e) {
      return e instanceof DomainError ? { refused: e.code } : e;
    }
  };

  it("[R1.5] web and mobile get the same answer, allowed or refused", () => {
    const cases: [Conversation, () => Action, Actor][] = [
      [collaborative(["c1"]), () => act.close(), asMember("c1")],
      [collaborative(["c1"]), () => act.reply("x"), asMember("adm", View.team)],
      [conversation(), () => act.reply("x"), asMember("adm", View.team)],
      [conversation(), () => act.add("c1"), asMember("fol")],
      [collaborative(["sup"]), () => act.takeOver(), asMember("sup")],
    ];
    for (const [c, action, actor] of cases) {
      const a = action();
      const web = answer(() => run(c, a, on("web", actor)));
      const mobile = answer(() => run(c, a, on("mobile", actor)));
      expect(mobile).toEqual(web);
      expect(web).toEqual(answer(() => run(c, a, actor)));
    }
    expect(answer(() => run(collaborative(["c1"]), act.close(), on("mobile", asMember("c1"))))).toEqual({
      refused: ErrorCode.COLLABORATOR_CANNOT_CLOSE,
    });
  });
});

describe("§2 adding collaborators", () => {
  it("[R2.1] the follower (a plain agent) may add", () => {
    const d = run(conversation(), act.add("c1"), asMember("fol"));
    expect(d.next.collaboratorIds).toEqual(["c1"]);
    expect(d.conversationChanged).toBe(true);
  });

  it("[R2.1] a collaborator whose role is in MANAGERS may add (admin, supervisor, cs_manager, marketing_cs)", () => {
    for (const m of MANAGER_IDS) {
      const d = run(collaborative(["c1", m]), act.add("n1"), asMember(m));
      expect(d.next.collaboratorIds).toEqual(["c1", m, "n1"]);
    }
  });

  it("[R2.1] an agent collaborator may not add", () => {
    expect(refusal(() => run(collaborative(["c1", "agt"]), act.add("n1"), asMember("agt")))).toBe(ErrorCode.MANAGE_NOT_ALLOWED);
  });

  it("[R2.1] a non-participant may not add, even an admin in the team view", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.add("n1"), asMember("adm", View.team)))).toBe(ErrorCode.MANAGE_NOT_ALLOWED);
    expect(refusal(() => run(conversation(), act.add("n1"), asMember("adm", View.team)))).toBe(ErrorCode.MANAGE_NOT_ALLOWED);
  });

  it("[R2.2] a 1-on-1 conversation becomes collaborative by adding", () => {
    const c = conversation();
    expect(isCollaborative(c)).toBe(false);
    expect(isCollaborative(run(c, act.add("c1"), asMember("fol")).next)).toBe(true);
  });

  it("[R2.2] a collaborative conversation takes more collaborators", () => {
    expect(run(collaborative(["c1"]), act.add("c2"), asMember("fol")).next.collaboratorIds).toEqual(["c1", "c2"]);
  });

  it("[R2.2] a WhatsApp group conversation takes collaborators", () => {
    const group = conversation({ kind: ConversationKind.group, channel: Channel.whatsapp });
    const d = run(group, act.add("c1", "c2"), asMember("fol"));
    expect(d.next.kind).toBe(ConversationKind.group);
    expect(d.next.collaboratorIds).toEqual(["c1", "c2"]);
  });

  it("[R2.2] several members are added in one action, in the order given", () => {
    const d = run(conversation(), act.add("c3", "c1", "c2"), asMember("fol"));
    expect(d.next.collaboratorIds).toEqual(["c3", "c1", "c2"]);
    expect(d.notices.map((n) => n.recipientId)).toEqual(["c3", "c1", "c2"]);
  });

  it("[R2.3] deactivated and deleted members cannot be added", () => {
    expect(refusal(() => run(conversation(), act.add("gone"), asMember("fol")))).toBe(ErrorCode.TARGET_INACTIVE);
    expect(refusal(() => run(conversation(), act.add("deleted"), asMember("fol")))).toBe(ErrorCode.TARGET_INACTIVE);
  });

  it("[R2.3] members unknown to the workspace cannot be added", () => {
    expect(refusal(() => run(conversation(), act.add("stranger"), asMember("fol")))).toBe(ErrorCode.TARGET_NOT_FOUND);
  });

  it("[R2.3] participants cannot be added again: neither the follower nor a collaborator", () => {
    const c = collaborative(["c1"]);
    expect(refusal(() => run(c, act.add("c1"), asMember("fol")))).toBe(ErrorCode.ALREADY_PARTICIPANT);
    expect(refusal(() => run(c, act.add("fol"), asMember("fol")))).toBe(ErrorCode.ALREADY_PARTICIPANT);
  });

  it("[R2.3] one bad candidate refuses the whole batch", () => {
    const c = collaborative(["c1"]);
    expect(refusal(() => run(c, act.add("n1", "gone"), asMember("fol")))).toBe(ErrorCode.TARGET_INACTIVE);
    expect(refusal(() => run(c, act.add("n1", "c1"), asMember("fol")))).toBe(ErrorCode.ALREADY_PARTICIPANT);
    expect(c.collaboratorIds).toEqual(["c1"]);
  });

  it("[R2.3] an active member who is not yet a participant can be added", () => {
    expect(run(collaborative(["c1"]), act.add("n1"), asMember("fol")).next.collaboratorIds).toEqual(["c1", "n1"]);
  });

  it("[R2.4] a conversation that becomes collaborative is in_progress", () => {
    expect(run(conversation(), act.add("c1"), asMember("fol")).next.status).toBe(Status.in_progress);
  });

  it("[R2.4] a closed collaborative conversation comes back to in_progress on a customer message, for the same participants", () => {
    const closed = collaborative(["c2", "c1"], { status: Status.closed });
    const d = run(closed, act.customerMessage(), { type: "customer", id: "cust" });
    expect(d.next.status).toBe(Status.in_progress);
    expect(d.next.followerId).toBe("fol");
    expect(d.next.collaboratorIds).toEqual(["c2", "c1"]);
  });

  it("[R2.4] a collaborative conversation never enters pending, even when its follower departs", () => {
    const d = run(collaborative(["c1"]), act.memberDeparted("fol"), asMember("adm"));
    expect(d.next.status).toBe(Status.in_progress);
    expect(d.next.followerId).toBe("c1");
  });

  it("[R2.5] status log: the actor and the targets in the order given", () => {
    const d = run(conversation(), act.add("c1", "c2"), asMember("fol"));
    expect(d.log).toEqual([{ kind: LogKind.collaborators_added, actorId: "fol", targetIds: ["c1", "c2"] }]);
    expect(renderLog(d.log[0]!, zh, names())).toBe("Jess 將 Jess A、Jess B 加入了協作對話");
  });

  it("[R2.6] system message for one added member names them", () => {
    const d = run(conversation(), act.add("c1"), asMember("fol"));
    expect(d.system).toEqual([{ kind: SystemKind.members_joined, subjectIds: ["c1"] }]);
    expect(renderSystem(d.system[0]!, zh, names())).toBe("Jess A 加入了協作對話");
  });

  it("[R2.6] system message for several names the first and counts the others", () => {
    const d = run(conversation(), act.add("c1", "c2", "c3", "c4", "c5"), asMember("fol"));
    expect(d.system).toEqual([{ kind: SystemKind.members_joined, subjectIds: ["c1", "c2", "c3", "c4", "c5"] }]);
    expect(renderSystem(d.system[0]!, zh, names({ c1: "Jess" }))).toBe("Jess 與其他 4 人加入了協作對話");
  });

  it("[R2.7] each added member gets a notice naming the actor and the actor's role", () => {
    const d = run(collaborative(["adm"]), act.add("c1", "c2"), asMember("adm"));
    expect(d.notices).toEqual([
      { kind: NoticeKind.added_you, recipientId: "c1", actorId: "adm", actorRole: Role.admin },
      { kind: NoticeKind.added_you, recipientId: "c2", actorId: "adm", actorRole: Role.admin },
    ]);
    const n = d.notices[0]!;
    const text = renderNotice({ kind: n.kind, actorName: "Jess", actorRole: n.actorRole, customerName: "Jess B" }, zh);
    expect(text).toBe("Jess (管理員) 將你加入 Jess B 的協作對話");
  });

  it("[R2.7] the follower adding carries the follower's role into the notice", () => {
    const d = run(conversation(), act.add("c1"), asMember("fol", View.mine, Role.supervisor));
    expect(d.notices).toEqual([{ kind: NoticeKind.added_you, recipientId: "c1", actorId: "fol", actorRole: Role.supervisor }]);
  });
});

describe("§3 removing collaborators", () => {
  it("[R3.1] the follower (a plain agent) may remove", () => {
    expect(run(collaborative(["c1", "c2"]), act.remove("c1"), asMember("fol")).next.collaboratorIds).toEqual(["c2"]);
  });

  it("[R3.1] a collaborator whose role is in MANAGERS may remove", () => {
    for (const m of MANAGER_IDS) {
      expect(run(collaborative(["c1", m]), act.remove("c1"), asMember(m)).next.collaboratorIds).toEqual([m]);
    }
  });

  it("[R3.1] an agent collaborator may not remove; nor may a non-participant admin", () => {
    expect(refusal(() => run(collaborative(["c1", "agt"]), act.remove("c1"), asMember("agt")))).toBe(ErrorCode.MANAGE_NOT_ALLOWED);
    expect(refusal(() => run(collaborative(["c1"]), act.remove("c1"), asMember("adm", View.team)))).toBe(ErrorCode.MANAGE_NOT_ALLOWED);
  });

  it("[R3.1] only collaborators can be removed: not the follower, not an outsider", () => {
    expect(refusal(() => run(collaborative(["adm"]), act.remove("fol"), asMember("adm")))).toBe(ErrorCode.NOT_A_COLLABORATOR);
    expect(refusal(() => run(collaborative(["c1"]), act.remove("n1"), asMember("fol")))).toBe(ErrorCode.NOT_A_COLLABORATOR);
  });

  it("[R3.2] each removed collaborator, and only they, is evicted with the reason `removed`", () => {
    const d = run(collaborative(["c1", "c2", "c3"]), act.remove("c1", "c3"), asMember("fol"));
    expect(d.evictions).toEqual([
      { memberId: "c1", reason: EvictReason.removed },
      { memberId: "c3", reason: EvictReason.removed },
    ]);
  });

  it("[R3.2] the eviction reasons are distinct so the client can tell them apart", () => {
    const reasons = Object.values(EvictReason);
    expect(new Set(reasons).size).toBe(reasons.length);
    expect(reasons).toContain("removed");
  });

  it("[R3.3] status log for one removed names only the target", () => {
    const d = run(collaborative(["c1", "c2"]), act.remove("c1"), asMember("fol"));
    expect(d.log).toEqual([{ kind: LogKind.collaborators_removed, actorId: "fol", targetIds: ["c1"] }]);
    expect(renderLog(d.log[0]!, zh, names())).toBe("Jess A 退出了協作對話");
  });

  it("[R3.3] status log for several names the actor and the targets", () => {
    const d = run(collaborative(["c1", "c2"]), act.remove("c1", "c2"), asMember("fol"));
    expect(d.log).toEqual([{ kind: LogKind.collaborators_removed, actorId: "fol", targetIds: ["c1", "c2"] }]);
    expect(renderLog(d.log[0]!, zh, names())).toBe("Jess 將 Jess A、Jess B 退出了協作對話");
  });

  it("[R3.4] system message: one named, several counted", () => {
    const one = run(collaborative(["c1", "c2"]), act.remove("c1"), asMember("fol"));
    expect(one.system).toEqual([{ kind: SystemKind.members_left, subjectIds: ["c1"] }]);
    expect(renderSystem(one.system[0]!, zh, names({ c1: "Jess" }))).toBe("Jess 退出了協作對話");
    const five = run(collaborative(["c1", "c2", "c3", "c4", "c5"]), act.remove("c1", "c2", "c3", "c4", "c5"), asMember("fol"));
    expect(five.system).toEqual([{ kind: SystemKind.members_left, subjectIds: ["c1", "c2", "c3", "c4", "c5"] }]);
    expect(renderSystem(five.system[0]!, zh, names({ c1: "Jess" }))).toBe("Jess 與其他 4 人退出了協作對話");
  });

  it("[R3.5] each removed member gets a notice naming the actor and role", () => {
    const d = run(collaborative(["c1", "c2", "sup"]), act.remove("c1", "c2"), asMember("sup"));
    expect(d.notices).toEqual([
      { kind: NoticeKind.removed_you, recipientId: "c1", actorId: "sup", actorRole: Role.supervisor },
      { kind: NoticeKind.removed_you, recipientId: "c2", actorId: "sup", actorRole: Role.supervisor },
    ]);
    const text = renderNotice({ kind: NoticeKind.removed_you, actorName: "Jess", actorRole: Role.admin, customerName: "customer" }, zh);
    expect(text).toBe("Jess (管理員) 將你退出 customer 的協作對話");
  });

  it("[R3.6] removing the last collaborator makes the conversation 1-on-1 again, same follower, still in progress", () => {
    const d = run(collaborative(["c1"]), act.remove("c1"), asMember("fol"));
    expect(d.next.collaboratorIds).toEqual([]);
    expect(isCollaborative(d.next)).toBe(false);
    expect(d.next.followerId).toBe("fol");
    expect(d.next.status).toBe(Status.in_progress);
  });

  it("[R3.6] the last collaborator leaving makes the conversation 1-on-1 again", () => {
    const d = run(collaborative(["c1"]), act.leave(), asMember("c1"));
    expect(isCollaborative(d.next)).toBe(false);
    expect(d.next.followerId).toBe("fol");
  });
});

describe("§4 joining on one's own", () => {
  it("[R4.1] TEAM_VIEWERS may join from the team view and become the last collaborator", () => {
    for (const who of TEAM_VIEWER_IDS) {
      const d = run(collaborative(["c1"]), act.join(), asMember(who, View.team));
      expect(d.next.collaboratorIds).toEqual(["c1", who]);
      expect(d.next.followerId).toBe("fol");
      expect(d.conversationChanged).toBe(true);
    }
  });

  it("[R4.1] a 1-on-1 conversation can be joined and becomes collaborative", () => {
    const d = run(conversation(), act.join(), asMember("sup", View.team));
    expect(d.next.collaboratorIds).toEqual(["sup"]);
    expect(d.next.status).toBe(Status.in_progress);
  });

  it("[R4.1] marketing_cs and agents may not join", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.join(), asMember("mkt", View.team)))).toBe(ErrorCode.JOIN_NOT_ALLOWED);
    expect(refusal(() => run(collaborative(["c1"]), act.join(), asMember("agt", View.team)))).toBe(ErrorCode.JOIN_NOT_ALLOWED);
  });

  it("[R4.1] a participant cannot join again", () => {
    expect(refusal(() => run(collaborative(["adm"]), act.join(), asMember("adm", View.team)))).toBe(ErrorCode.ALREADY_PARTICIPANT);
  });

  it("[R4.1] before joining a team viewer cannot reply; after joining they can", () => {
    const c = collaborative(["c1"]);
    expect(refusal(() => run(c, act.reply(), asMember("adm", View.team)))).toBe(ErrorCode.REPLY_NOT_ALLOWED);
    const joined = run(c, act.join(), asMember("adm", View.team)).next;
    expect(run(joined, act.reply("here"), asMember("adm", View.team)).message?.senderId).toBe("adm");
  });

  it("[R4.2] a conversation with no follower cannot be joined", () => {
    const pending = conversation({ status: Status.pending, followerId: null });
    expect(refusal(() => run(pending, act.join(), asMember("adm", View.team)))).toBe(ErrorCode.NO_FOLLOWER);
  });

  it("[R4.3] status log and system message name the joiner", () => {
    const d = run(collaborative(["c1"]), act.join(), asMember("adm", View.team));
    expect(d.log).toEqual([{ kind: LogKind.joined, actorId: "adm", targetIds: [] }]);
    expect(d.system).toEqual([{ kind: SystemKind.members_joined, subjectIds: ["adm"] }]);
    const n = names({ adm: "Jess" });
    expect(renderLog(d.log[0]!, zh, n)).toBe("Jess 加入了協作對話");
    expect(renderSystem(d.system[0]!, zh, n)).toBe("Jess 加入了協作對話");
  });
});

describe("§5 leaving on one's own", () => {
  it("[R5.1] a collaborator (any role) may leave", () => {
    for (const who of ["c1", "adm"] as const) {
      const d = run(collaborative(["c1", "adm"]), act.leave(), asMember(who));
      expect(d.next.collaboratorIds).not.toContain(who);
      expect(d.next.collaboratorIds).toHaveLength(1);
      expect(d.next.followerId).toBe("fol");
    }
  });

  it("[R5.1] the follower cannot leave", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.leave(), asMember("fol")))).toBe(ErrorCode.FOLLOWER_CANNOT_LEAVE);
  });

  it("[R5.1] a non-participant cannot leave", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.leave(), asMember("adm", View.team)))).toBe(ErrorCode.NOT_A_COLLABORATOR);
  });

  it("[R5.2] status log and system message name the leaver", () => {
    const d = run(collaborative(["c1", "c2"]), act.leave(), asMember("c1"));
    expect(d.log).toEqual([{ kind: LogKind.left, actorId: "c1", targetIds: [] }]);
    expect(d.system).toEqual([{ kind: SystemKind.members_left, subjectIds: ["c1"] }]);
    const n = names({ c1: "Jess" });
    expect(renderLog(d.log[0]!, zh, n)).toBe("Jess 退出了協作對話");
    expect(renderSystem(d.system[0]!, zh, n)).toBe("Jess 退出了協作對話");
  });

  it("[R5.3] the leaver gets a notice and is evicted with the reason `left`", () => {
    const d = run(collaborative(["c1", "c2"]), act.leave(), asMember("c1"));
    expect(d.notices).toHaveLength(1);
    expect(d.notices[0]).toMatchObject({ kind: NoticeKind.you_left, recipientId: "c1" });
    expect(d.evictions).toEqual([{ memberId: "c1", reason: EvictReason.left }]);
    const text = renderNotice({ kind: NoticeKind.you_left, actorName: "Jess A", actorRole: Role.agent, customerName: "customer" }, zh);
    expect(text).toBe("已退出 customer 的協作對話");
  });
});
