import { describe, expect, it } from "vitest";
import type { Decision } from "../../domain/decide.ts";
import { ErrorCode as Code, isDomainError } from "../../domain/errors.ts";
import { EvictReason, LogKind, NoticeKind, SystemKind } from "../../domain/events.ts";
import { isCollaborative } from "../../domain/model.ts";
import { Role, Status, View } from "../../domain/sets.ts";
import { renderError, renderLog, renderNotice, renderSystem } from "../../domain/texts.ts";
import {
  MANAGER_IDS,
  TEAM_VIEWER_IDS,
  act,
  asCustomer,
  asMember,
  asSystem,
  collaborative,
  conversation,
  names,
  refusal,
  run,
} from "./fixtures.ts";

const zh = "zh-TW" as const;

describe("§6 taking over", () => {
  it("[R6.1] a collaborator whose role is in MANAGERS may take over", () => {
    for (const m of MANAGER_IDS) {
      const d = run(collaborative(["c1", m]), act.takeOver(), asMember(m));
      expect(d.next.followerId).toBe(m);
    }
  });

  it("[R6.1] an agent collaborator may not take over", () => {
    expect(refusal(() => run(collaborative(["c1", "agt"]), act.takeOver(), asMember("agt")))).toBe(Code.TAKE_OVER_NOT_ALLOWED);
  });

  it("[R6.1] a non-participant may not take over, even an admin in the team view", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.takeOver(), asMember("adm", View.team)))).toBe(Code.TAKE_OVER_NOT_ALLOWED);
  });

  it("[R6.1] the follower cannot take over their own conversation", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.takeOver(), asMember("fol", View.mine, Role.admin)))).toBe(
      Code.TAKE_OVER_NOT_ALLOWED,
    );
  });

  it("[R6.2] the taker becomes the follower and the previous follower a collaborator", () => {
    const d = run(collaborative(["c1", "sup", "c2"]), act.takeOver(), asMember("sup"));
    expect(d.next.followerId).toBe("sup");
    expect(d.next.collaboratorIds).toContain("fol");
    expect(d.next.collaboratorIds).not.toContain("sup");
    expect(d.next.status).toBe(Status.in_progress);
    expect(d.conversationChanged).toBe(true);
  });

  it("[R6.3] status log names the previous follower; the system message names the taker", () => {
    const d = run(collaborative(["c1", "adm"]), act.takeOver(), asMember("adm"));
    expect(d.log).toEqual([{ kind: LogKind.took_over, actorId: "adm", targetIds: ["fol"] }]);
    expect(d.system).toEqual([{ kind: SystemKind.followed, subjectIds: ["adm"] }]);
    const n = names({ adm: "Jess", fol: "Jess A" });
    expect(renderLog(d.log[0]!, zh, n)).toBe("Jess 接手跟進了 Jess A 的對話");
    expect(renderSystem(d.system[0]!, zh, n)).toBe("Jess 跟進了對話");
  });

  it("[R6.4] the previous follower, and only they, is notified with the taker's role", () => {
    const d = run(collaborative(["c1", "adm"]), act.takeOver(), asMember("adm"));
    expect(d.notices).toEqual([{ kind: NoticeKind.took_over_yours, recipientId: "fol", actorId: "adm", actorRole: Role.admin }]);
    const text = renderNotice({ kind: NoticeKind.took_over_yours, actorName: "Jess", actorRole: Role.admin, customerName: "x" }, zh);
    expect(text).toBe("Jess (管理員) 已接手 1 個你的對話");
  });
});

describe("§7 transferring", () => {
  it("[R7.1] the follower may transfer to one of the collaborators", () => {
    const d = run(collaborative(["c1", "c2"]), act.transfer("c2"), asMember("fol"));
    expect(d.next.followerId).toBe("c2");
  });

  it("[R7.1] the follower may not transfer to a member who is not a collaborator, whatever their role", () => {
    for (const target of ["n1", "adm", "sup"]) {
      expect(refusal(() => run(collaborative(["c1"]), act.transfer(target), asMember("fol")))).toBe(Code.TRANSFER_TARGET_NOT_COLLABORATOR);
    }
  });

  it("[R7.1] a collaborator may not transfer, even an admin, even to another collaborator", () => {
    expect(refusal(() => run(collaborative(["adm", "c1"]), act.transfer("c1"), asMember("adm")))).toBe(Code.TRANSFER_NOT_ALLOWED);
    expect(refusal(() => run(collaborative(["c1", "c2"]), act.transfer("c2"), asMember("c1")))).toBe(Code.TRANSFER_NOT_ALLOWED);
  });

  it("[R7.1] a team viewer outside the conversation may not transfer a collaborative conversation", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.transfer("c1"), asMember("adm", View.team)))).toBe(Code.TRANSFER_NOT_ALLOWED);
  });

  it("[R7.2] after the transfer the previous follower is a collaborator and the new follower is not", () => {
    const d = run(collaborative(["c1", "c2", "c3"]), act.transfer("c2"), asMember("fol"));
    expect(d.next.followerId).toBe("c2");
    expect(d.next.collaboratorIds).toContain("fol");
    expect(d.next.collaboratorIds).not.toContain("c2");
    expect(d.next.collaboratorIds).toHaveLength(3);
    expect(d.next.status).toBe(Status.in_progress);
  });

  it("[R7.3] status log names the target; the system message says the target follows", () => {
    const d = run(collaborative(["c1"]), act.transfer("c1"), asMember("fol"));
    expect(d.log).toEqual([{ kind: LogKind.transferred, actorId: "fol", targetIds: ["c1"] }]);
    expect(d.system).toEqual([{ kind: SystemKind.followed, subjectIds: ["c1"] }]);
    expect(renderLog(d.log[0]!, zh, names())).toBe("Jess 將對話轉給了 Jess A");
    expect(renderSystem(d.system[0]!, zh, names())).toBe("Jess A 跟進了對話");
  });

  it("[R7.4] the new follower, and only they, is notified with the actor's role", () => {
    const d = run(collaborative(["c1", "c2"]), act.transfer("c1"), asMember("fol", View.mine, Role.admin));
    expect(d.notices).toEqual([{ kind: NoticeKind.transferred_to_you, recipientId: "c1", actorId: "fol", actorRole: Role.admin }]);
    const text = renderNotice({ kind: NoticeKind.transferred_to_you, actorName: "Jess", actorRole: Role.admin, customerName: "x" }, zh);
    expect(text).toBe("Jess (管理員) 已將 1 個對話移轉給你");
  });

  it("[R7.5] the bulk-transfer refusal reads 協作對話、群組對話無法批量移轉", () => {
    expect(renderError(Code.BULK_TRANSFER_COLLABORATIVE, zh)).toBe("協作對話、群組對話無法批量移轉");
  });

  // R7.5's rule itself (which selections are refused, and 1-on-1 items transferring as single transfers) is tested in bulk.test.ts.

  it("a 1-on-1 transfer (as before collaboration) is refused to a member who does not follow it", () => {
    expect(refusal(() => run(conversation(), act.transfer("n1"), asMember("agt")))).toBe(Code.TRANSFER_NOT_ALLOWED);
  });

  it("a 1-on-1 conversation transfers to any active member, as before collaboration", () => {
    const d = run(conversation(), act.transfer("n1"), asMember("fol"));
    expect(d.next.followerId).toBe("n1");
    expect(d.next.collaboratorIds).toEqual([]);
  });
});

describe("§8 closing", () => {
  it("[R8.1] the follower closes", () => {
    const d = run(collaborative(["c1"]), act.close(), asMember("fol"));
    expect(d.next.status).toBe(Status.closed);
    expect(d.next.followerId).toBe("fol");
    expect(d.next.collaboratorIds).toEqual(["c1"]);
    expect(d.conversationChanged).toBe(true);
  });

  it("[R8.1] a supervisor collaborator cannot close", () => {
    expect(refusal(() => run(collaborative(["c1", "sup"]), act.close(), asMember("sup")))).toBe(Code.COLLABORATOR_CANNOT_CLOSE);
  });

  it("[R8.1] no collaborator can close, whatever the role", () => {
    for (const who of [...MANAGER_IDS, "agt"] as const) {
      expect(refusal(() => run(collaborative(["c1", who]), act.close(), asMember(who)))).toBe(Code.COLLABORATOR_CANNOT_CLOSE);
    }
  });

  it("[R8.1] a non-participant cannot close, even an admin in the team view", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.close(), asMember("adm", View.team)))).toBe(Code.CLOSE_NOT_ALLOWED);
    expect(refusal(() => run(conversation(), act.close(), asMember("adm", View.team)))).toBe(Code.CLOSE_NOT_ALLOWED);
  });

  it("[R8.1] closing a closed conversation is refused", () => {
    expect(refusal(() => run(collaborative(["c1"], { status: Status.closed }), act.close(), asMember("fol")))).toBe(Code.ALREADY_CLOSED);
  });

  it("[R8.2] every collaborator's chat view is closed with the reason `closed`", () => {
    const d = run(collaborative(["c1", "c2", "c3"]), act.close(), asMember("fol"));
    expect(d.evictions).toEqual([
      { memberId: "c1", reason: EvictReason.closed },
      { memberId: "c2", reason: EvictReason.closed },
      { memberId: "c3", reason: EvictReason.closed },
    ]);
  });

  it("[R8.2] closing removes every member's pin", () => {
    expect(run(collaborative(["c1"]), act.close(), asMember("fol")).memberState).toContainEqual({ kind: "unpin_all" });
  });

  it("[R8.2] a CSAT survey is sent when the workspace enables it, and only then", () => {
    const on = run(collaborative(["c1"]), act.close(), asMember("fol"), { settings: { csatOnClose: true } });
    expect(on.effects).toContainEqual({ kind: "send_csat" });
    const off = run(collaborative(["c1"]), act.close(), asMember("fol"), { settings: { csatOnClose: false } });
    expect(off.effects.some((e) => e.kind === "send_csat")).toBe(false);
  });

  it("[R8.3] status log `{actor} 結束了對話`, no system message, a notice to each collaborator", () => {
    const d = run(collaborative(["c1", "c2"]), act.close(), asMember("fol"));
    expect(d.log).toEqual([{ kind: LogKind.closed, actorId: "fol", targetIds: [] }]);
    expect(renderLog(d.log[0]!, zh, names())).toBe("Jess 結束了對話");
    expect(d.system).toEqual([]);
    expect(d.notices.map((n) => [n.kind, n.recipientId, n.actorId])).toEqual([
      [NoticeKind.closed_by, "c1", "fol"],
      [NoticeKind.closed_by, "c2", "fol"],
    ]);
    const text = renderNotice({ kind: NoticeKind.closed_by, actorName: "Jess", actorRole: Role.admin, customerName: "x" }, zh);
    expect(text).toBe("Jess 已將對話結束");
  });

  it("[R8.4] a customer message brings a closed collaborative conversation back to in_progress with the same participants", () => {
    const closed = run(collaborative(["c2", "c1"]), act.close(), asMember("fol")).next;
    const d = run(closed, act.customerMessage("again"), asCustomer());
    expect(d.next.status).toBe(Status.in_progress);
    expect(d.next.followerId).toBe("fol");
    expect(d.next.collaboratorIds).toEqual(["c2", "c1"]);
    expect(d.conversationChanged).toBe(true);
    expect(d.message).toEqual({ sender: "customer", senderId: "cust", text: "again" });
  });

  it("[R8.5] bulk close: per conversation, the follower's close goes through and a collaborator's is refused with 協作者無法結束對話", () => {
    const selection = [
      collaborative(["c1"], { id: "a", followerId: "sup" }), // sup follows
      collaborative(["sup"], { id: "b" }), // sup only collaborates
      conversation({ id: "c", followerId: "sup" }), // sup follows a 1-on-1
    ];
    const results = selection.map((c) => {
      try {
        return { id: c.id, status: run(c, act.close(), asMember("sup")).next.status };
      } catch (e) {
        if (!isDomainError(e)) throw e;
        return { id: c.id, code: e.code, text: renderError(e.code, zh) };
      }
    });
    expect(results).toEqual([
      { id: "a", status: Status.closed },
      { id: "b", code: Code.COLLABORATOR_CANNOT_CLOSE, text: "協作者無法結束對話" },
      { id: "c", status: Status.closed },
    ]);
  });
});

describe("§9 reopening", () => {
  const closed = collaborative(["c1", "c2"], { status: Status.closed });

  it("[R9.1] the follower and each collaborator may reopen", () => {
    for (const who of ["fol", "c1", "c2"] as const) {
      expect(run(closed, act.reopen(), asMember(who)).next.status).toBe(Status.in_progress);
    }
  });

  it("[R9.1] a member outside the conversation may not reopen from mine", () => {
    expect(refusal(() => run(closed, act.reopen(), asMember("agt")))).toBe(Code.REOPEN_NOT_ALLOWED);
    expect(refusal(() => run(closed, act.reopen(), asMember("adm", View.mine)))).toBe(Code.REOPEN_NOT_ALLOWED);
  });

  it("[R9.1] only a closed conversation can be reopened", () => {
    expect(refusal(() => run(collaborative(["c1"]), act.reopen(), asMember("fol")))).toBe(Code.NOT_CLOSED);
  });

  it("[R9.2] a collaborator reopening stays a collaborator; follower and order are unchanged", () => {
    const d = run(closed, act.reopen(), asMember("c2"));
    expect(d.next).toEqual({ ...closed, status: Status.in_progress });
    expect(d.conversationChanged).toBe(true);
  });

  it("[R9.3] TEAM_VIEWERS may reopen from team / closed without becoming follower or collaborator", () => {
    for (const who of TEAM_VIEWER_IDS) {
      const d = run(closed, act.reopen(), asMember(who, View.team));
      expect(d.next.status).toBe(Status.in_progress);
      expect(d.next.followerId).toBe("fol");
      expect(d.next.collaboratorIds).toEqual(["c1", "c2"]);
    }
  });

  it("[R9.3] marketing_cs and agents may not reopen from the team view", () => {
    expect(refusal(() => run(closed, act.reopen(), asMember("mkt", View.team)))).toBe(Code.REOPEN_NOT_ALLOWED);
    expect(refusal(() => run(closed, act.reopen(), asMember("agt", View.team)))).toBe(Code.REOPEN_NOT_ALLOWED);
  });

  it("[R9.4] status log `{actor} 重啟了對話`, no system message", () => {
    const d = run(closed, act.reopen(), asMember("fol"));
    expect(d.log).toEqual([{ kind: LogKind.reopened, actorId: "fol", targetIds: [] }]);
    expect(renderLog(d.log[0]!, zh, names())).toBe("Jess 重啟了對話");
    expect(d.system).toEqual([]);
    expect(d.notices).toEqual([]);
  });

  it("[R9.5] bulk reopen from mine / closed: every item of a large batch reopens for its follower or collaborator", () => {
    const batch = Array.from({ length: 300 }, (_, i) => collaborative(["c1"], { id: `conv-${i}`, status: Status.closed }));
    const byFollower = batch.map((c) => run(c, act.reopen(), asMember("fol")));
    const byCollaborator = batch.map((c) => run(c, act.reopen(), asMember("c1")));
    for (const d of [...byFollower, ...byCollaborator]) expect(d.next.status).toBe(Status.in_progress);
    expect(new Set(byFollower.map((d) => d.next.id)).size).toBe(300);
  });
});

describe("§14 a member departs (member_departed)", () => {
  const admin = asMember("adm");

  it("[R14.1] a departed collaborator is removed and evicted with the reason `deactivated`", () => {
    const d = run(collaborative(["c1", "amy", "c2"]), act.memberDeparted("amy"), admin);
    expect(d.next.collaboratorIds).toEqual(["c1", "c2"]);
    expect(d.next.followerId).toBe("fol");
    expect(d.conversationChanged).toBe(true);
    expect(d.evictions).toEqual([{ memberId: "amy", reason: EvictReason.deactivated }]);
  });

  it("[R14.1] a conversation the member is not part of is left untouched", () => {
    const c = collaborative(["c1"]);
    const d = run(c, act.memberDeparted("amy"), admin);
    expect(d.next).toEqual(c);
    expect(d.conversationChanged).toBe(false);
    expect(d.log).toEqual([]);
    expect(d.evictions).toEqual([]);
  });

  it("[R14.1] it also works when the system acts (no member actor)", () => {
    const d = run(collaborative(["c1", "amy"]), act.memberDeparted("amy"), asSystem());
    expect(d.next.collaboratorIds).toEqual(["c1"]);
    expect(d.log).toEqual([{ kind: LogKind.member_departed, actorId: null, targetIds: ["amy"] }]);
  });

  it("[R14.2] status log `{actor} (停用者) 將 {member} 退出協作對話`", () => {
    const d = run(collaborative(["c1", "amy"]), act.memberDeparted("amy"), admin);
    expect(d.log).toEqual([{ kind: LogKind.member_departed, actorId: "adm", targetIds: ["amy"] }]);
    expect(renderLog(d.log[0]!, zh, names({ adm: "Jess" }))).toBe("Jess (停用者) 將 Amy 退出協作對話");
  });

  it("[R14.3] when the last collaborator departs the conversation is 1-on-1, same follower, in progress", () => {
    const d = run(collaborative(["amy"]), act.memberDeparted("amy"), admin);
    expect(isCollaborative(d.next)).toBe(false);
    expect(d.next.followerId).toBe("fol");
    expect(d.next.status).toBe(Status.in_progress);
  });

  it("[R14.4] a departed follower is replaced by the first collaborator in order, not the earliest to join", () => {
    // c1 joins, then c2; the follower hands over to c2 and steps down to first place (R14.5)
    let c = run(conversation(), act.add("c1"), asMember("fol")).next;
    c = run(c, act.add("c2"), asMember("fol")).next;
    c = run(c, act.transfer("c2"), asMember("fol")).next;
    expect(c.collaboratorIds).toEqual(["fol", "c1"]);
    // now c2 departs: "fol" is first in order although c1 joined as a collaborator earlier
    const d = run(c, act.memberDeparted("c2"), admin);
    expect(d.next.followerId).toBe("fol");
    expect(d.next.collaboratorIds).toEqual(["c1"]);
  });

  it("[R14.4] the first collaborator in order follows even when they were added last in time", () => {
    const d = run(collaborative(["c3", "c1", "c2"]), act.memberDeparted("fol"), admin);
    expect(d.next.followerId).toBe("c3");
    expect(d.next.collaboratorIds).toEqual(["c1", "c2"]);
    expect(d.next.status).toBe(Status.in_progress);
    expect(d.evictions).toEqual([{ memberId: "fol", reason: EvictReason.deactivated }]);
  });

  it("[R14.4] a departed follower with one collaborator leaves a 1-on-1 followed by that collaborator", () => {
    const d = run(collaborative(["c1"]), act.memberDeparted("fol"), admin);
    expect(d.next.followerId).toBe("c1");
    expect(d.next.collaboratorIds).toEqual([]);
    expect(d.next.status).toBe(Status.in_progress);
  });

  it("[R14.4] a departed follower with no collaborator: back to pending with no follower", () => {
    const d = run(conversation(), act.memberDeparted("fol"), admin);
    expect(d.next.followerId).toBeNull();
    expect(d.next.collaboratorIds).toEqual([]);
    expect(d.next.status).toBe(Status.pending);
    expect(d.conversationChanged).toBe(true);
  });

  it("[R14.5] new collaborators are appended", () => {
    let c = collaborative(["c2"]);
    c = run(c, act.add("c1"), asMember("fol")).next;
    c = run(c, act.join(), asMember("adm", View.team)).next;
    expect(c.collaboratorIds).toEqual(["c2", "c1", "adm"]);
  });

  it("[R14.5] after a take over the previous follower is put first", () => {
    const d = run(collaborative(["c1", "c2", "sup"]), act.takeOver(), asMember("sup"));
    expect(d.next.collaboratorIds).toEqual(["fol", "c1", "c2"]);
  });

  it("[R14.5] after a transfer the previous follower is put first", () => {
    const d = run(collaborative(["c1", "c2", "c3"]), act.transfer("c3"), asMember("fol"));
    expect(d.next.collaboratorIds).toEqual(["fol", "c1", "c2"]);
  });
});

describe("purity", () => {
  it("decide never changes the conversation it is given and answers the same twice", () => {
    const c = collaborative(["c1", "sup"]);
    const before = structuredClone(c);
    const a = act.takeOver();
    const first: Decision = run(c, a, asMember("sup"));
    const second: Decision = run(c, a, asMember("sup"));
    expect(c).toEqual(before);
    expect(second).toEqual(first);
  });
});
