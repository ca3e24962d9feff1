import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AutoSender, keywordAssignee, matchingRules } from "../../domain/automatic.ts";
import { decide } from "../../domain/decide.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { LogKind, NoticeKind, SystemKind } from "../../domain/events.ts";
import { type BusinessHours, isOpenAt, openBetween } from "../../domain/hours.ts";
import {
  type Conversation,
  type DecideContext,
  DEFAULT_SETTINGS,
  type MemberInfo,
  type TimelineFacts,
  type WorkspaceSettings,
} from "../../domain/model.ts";
import { CHANNELS, type Channel, MemberStatus, Role, type Status } from "../../domain/sets.ts";
import { renderLog, renderNotice } from "../../domain/texts.ts";

/** The pure rules of R13.1 (away) and R13.2 (welcome, keyword assignment, OMO binding). */

// Taipei (UTC+8, no daylight saving): open Monday–Friday 09:00–18:00.
const TAIPEI: BusinessHours = {
  timeZone: "Asia/Taipei",
  open: ["mon", "tue", "wed", "thu", "fri"].map((day) => ({ day: day as "mon", start: "09:00", end: "18:00" })),
};
/** A Taipei wall-clock time on the week of Monday 2026-11-30. */
const taipei = (iso: string) => new Date(`${iso}+08:00`);
const MON_10 = taipei("2026-11-30T10:00:00");
const MON_20 = taipei("2026-11-30T20:00:00");
const MON_23 = taipei("2026-11-30T23:00:00");
const TUE_03 = taipei("2026-12-01T03:00:00");
const TUE_19 = taipei("2026-12-01T19:00:00");
const SAT_12 = taipei("2026-12-05T12:00:00");

const settings = (patch: Partial<WorkspaceSettings> = {}): WorkspaceSettings => ({
  ...DEFAULT_SETTINGS,
  businessHours: TAIPEI,
  awayText: "下班了",
  ...patch,
});

function conv(patch: Partial<Conversation> = {}): Conversation {
  return {
    id: "c",
    workspaceId: "w",
    customerId: "cu",
    channel: "line",
    kind: "direct",
    status: "pending",
    followerId: null,
    collaboratorIds: [],
    version: 1,
    ...patch,
  };
}

const MEMBERS = new Map<string, MemberInfo>([
  ["amy", { id: "amy", role: Role.agent, status: MemberStatus.active }],
  ["ben", { id: "ben", role: Role.agent, status: MemberStatus.active }],
  ["gone", { id: "gone", role: Role.agent, status: MemberStatus.deactivated }],
  ["fol", { id: "fol", role: Role.agent, status: MemberStatus.active }],
  ["c1", { id: "c1", role: Role.agent, status: MemberStatus.active }],
  ["adm", { id: "adm", role: Role.admin, status: MemberStatus.active }],
]);

function customer(c: Conversation, text: string, opts: { now?: Date; settings?: WorkspaceSettings; timeline?: TimelineFacts } = {}) {
  const ctx: DecideContext = {
    actor: { type: "customer", id: "cu" },
    now: opts.now ?? MON_10,
    members: MEMBERS,
    settings: opts.settings ?? settings(),
    timeline: opts.timeline ?? { empty: false, lastAwayAt: null },
  };
  return decide(c, { type: "customer_message", requestId: "r", text }, ctx);
}

describe("business hours", () => {
  it("[R13.1] open inside the weekly intervals in the workspace's time zone, closed outside; no schedule is always open", () => {
    expect(isOpenAt(TAIPEI, MON_10)).toBe(true);
    expect(isOpenAt(TAIPEI, taipei("2026-11-30T09:00:00"))).toBe(true);
    expect(isOpenAt(TAIPEI, taipei("2026-11-30T18:00:00"))).toBe(false); // end exclusive
    expect(isOpenAt(TAIPEI, MON_20)).toBe(false);
    expect(isOpenAt(TAIPEI, SAT_12)).toBe(false);
    expect(isOpenAt(null, SAT_12)).toBe(true);
    expect(isOpenAt({ timeZone: "Asia/Taipei", open: [] }, SAT_12)).toBe(true);
    // The same instant is Monday 02:00 UTC but Monday 10:00 in Taipei.
    expect(isOpenAt({ timeZone: "UTC", open: TAIPEI.open }, MON_10)).toBe(false);
  });

  it("[R13.1] two instants are in the same closed period when the business did not open between them", () => {
    expect(openBetween(TAIPEI, MON_20, TUE_03)).toBe(false); // one night
    expect(openBetween(TAIPEI, MON_20, TUE_19)).toBe(true); // Tuesday's hours in between
    expect(openBetween(TAIPEI, taipei("2026-12-04T19:00:00"), taipei("2026-12-07T08:59:00"))).toBe(false); // the weekend
    expect(openBetween(TAIPEI, taipei("2026-12-04T19:00:00"), taipei("2026-12-07T09:00:00"))).toBe(true);
  });

  it("[R13.1] wall-clock hours hold across daylight saving (New York, 2026-11-01)", () => {
    const ny: BusinessHours = { timeZone: "America/New_York", open: [{ day: "mon", start: "09:00", end: "17:00" }] };
    expect(isOpenAt(ny, new Date("2026-11-02T14:30:00Z"))).toBe(true); // 09:30 EST
    expect(isOpenAt(ny, new Date("2026-11-02T13:30:00Z"))).toBe(false); // 08:30 EST
    expect(isOpenAt(ny, new Date("2026-10-26T13:30:00Z"))).toBe(true); // 09:30 EDT
  });
});

describe("away messages (R13.1)", () => {
  it("[R13.1] a customer message outside business hours gets the away message in the same decision; inside hours none", () => {
    const outside = customer(conv(), "在嗎", { now: MON_20 });
    expect(outside.message).toMatchObject({ sender: "customer", text: "在嗎" });
    expect(outside.autoMessages).toEqual([{ senderId: AutoSender.away, text: "下班了" }]);
    expect(customer(conv(), "在嗎", { now: MON_10 }).autoMessages).toEqual([]);
    expect(customer(conv(), "在嗎", { now: MON_20, settings: settings({ awayText: "  " }) }).autoMessages).toEqual([]);
    expect(customer(conv(), "在嗎", { now: MON_20, settings: settings({ businessHours: null }) }).autoMessages).toEqual([]);
  });

  it("[R13.1] at most once per closed period: not again the same night, again the next night", () => {
    expect(customer(conv(), "again", { now: TUE_03, timeline: { empty: false, lastAwayAt: MON_20 } }).autoMessages).toEqual([]);
    expect(customer(conv(), "again", { now: MON_23, timeline: { empty: false, lastAwayAt: MON_20 } }).autoMessages).toEqual([]);
    expect(customer(conv(), "next night", { now: TUE_19, timeline: { empty: false, lastAwayAt: MON_20 } }).autoMessages).toHaveLength(1);
  });

  it("[R13.1] on every channel, and on collaborative conversations as on 1-on-1 and group ones, whatever the status", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CHANNELS),
        fc.constantFrom<Status>("pending", "in_progress", "closed"),
        fc.constantFrom<"direct" | "group">("direct", "group"),
        fc.integer({ min: 0, max: 5 }),
        (channel: Channel, status, kind, n) => {
          const c = conv({
            channel,
            status,
            kind,
            followerId: n || status !== "pending" ? "fol" : null,
            collaboratorIds: ["c1", "c2", "c3", "c4", "c5"].slice(0, n),
          });
          expect(customer(c, "hi", { now: SAT_12 }).autoMessages.filter((m) => m.senderId === AutoSender.away)).toHaveLength(1);
        },
      ),
    );
  });
});

describe("welcome message (R13.2)", () => {
  const welcome = settings({ welcomeText: "歡迎光臨", businessHours: null });

  it("[R13.2] sent on the first customer message of a new 1-on-1 conversation (empty timeline), not on later ones nor on a reopened closed one", () => {
    expect(customer(conv(), "hi", { settings: welcome, timeline: { empty: true, lastAwayAt: null } }).autoMessages).toEqual([
      { senderId: AutoSender.welcome, text: "歡迎光臨" },
    ]);
    expect(customer(conv(), "hi", { settings: welcome, timeline: { empty: false, lastAwayAt: null } }).autoMessages).toEqual([]);
    expect(customer(conv({ status: "closed", followerId: "fol" }), "back", { settings: welcome }).autoMessages).toEqual([]);
    expect(
      customer(conv(), "hi", { settings: { ...welcome, welcomeText: "" }, timeline: { empty: true, lastAwayAt: null } }).autoMessages,
    ).toEqual([]);
  });

  it("[R13.2] a new conversation outside hours gets the welcome, then the away message", () => {
    const d = customer(conv(), "hi", {
      settings: settings({ welcomeText: "歡迎光臨" }),
      now: SAT_12,
      timeline: { empty: true, lastAwayAt: null },
    });
    expect(d.autoMessages.map((m) => m.senderId)).toEqual([AutoSender.welcome, AutoSender.away]);
  });

  it("[R13.2] never on a collaborative conversation, in any state one can receive a customer message in", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Status>("pending", "in_progress", "closed"),
        fc.constantFrom<"direct" | "group">("direct", "group"),
        fc.option(fc.constant("fol"), { nil: null }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        (status, kind, followerId, n, empty) => {
          const c = conv({ status, kind, followerId, collaboratorIds: ["c1", "c2", "c3", "c4", "c5"].slice(0, n) });
          const d = customer(c, "hi", { settings: welcome, timeline: { empty, lastAwayAt: null } });
          expect(d.autoMessages).toEqual([]);
        },
      ),
    );
  });

  it("[R13.2] not on a WhatsApp group conversation (a choice: any group member's message would trigger it)", () => {
    expect(
      customer(conv({ kind: "group", channel: "whatsapp" }), "hi", { settings: welcome, timeline: { empty: true, lastAwayAt: null } })
        .autoMessages,
    ).toEqual([]);
  });
});

describe("keyword auto-assignment (R13.2)", () => {
  const rules = settings({
    businessHours: null,
    keywordRules: [
      { keyword: "退貨", memberId: "gone" },
      { keyword: "Refund", memberId: "amy" },
      { keyword: "退貨", memberId: "ben" },
    ],
  });

  it("[R13.2] a pending 1-on-1 conversation without follower goes to the first matching rule's active member: follower, in_progress, log line, system message, notice", () => {
    const d = customer(conv(), "I want a REFUND please", { settings: rules });
    expect(d.next).toMatchObject({ status: "in_progress", followerId: "amy", collaboratorIds: [] });
    expect(d.conversationChanged).toBe(true);
    expect(d.log).toEqual([{ kind: LogKind.keyword_assigned, actorId: null, targetIds: ["amy"] }]);
    expect(d.system).toEqual([{ kind: SystemKind.followed, subjectIds: ["amy"] }]);
    expect(d.notices).toEqual([{ kind: NoticeKind.keyword_assigned, recipientId: "amy", actorId: null, actorRole: null }]);
    expect(d.memberState).toEqual([{ kind: "unread_increment", memberIds: ["amy"] }]);
    expect(d.effects).toEqual([{ kind: "push", memberIds: ["amy"] }]);
    const name = (id: string | null) => (id === "amy" ? "Amy" : "?");
    expect(renderLog(d.log[0]!, "zh-TW", name)).toBe("系統依關鍵字將對話指派給了 Amy");
    expect(renderLog(d.log[0]!, "en", name)).toBe("The system assigned the conversation to Amy by keyword");
    expect(renderNotice({ kind: NoticeKind.keyword_assigned, actorName: "", actorRole: null, customerName: "王小明" }, "zh-TW")).toBe(
      "系統已依關鍵字將 王小明 的對話指派給你",
    );
  });

  it("[R13.2] rules are tried in the workspace's order; an inactive or unknown member's rule is skipped; full-width and case fold", () => {
    expect(customer(conv(), "我要退貨 refund", { settings: rules }).next.followerId).toBe("amy"); // "退貨"→gone skipped, "Refund" is next
    expect(customer(conv(), "我要退貨", { settings: rules }).next.followerId).toBe("ben");
    expect(customer(conv(), "ＲＥＦＵＮＤ", { settings: rules }).next.followerId).toBe("amy");
    expect(keywordAssignee(conv(), "退貨", { ...rules, keywordRules: [{ keyword: "退貨", memberId: "nobody" }] }, MEMBERS)).toBeNull();
    expect(customer(conv(), "hello", { settings: rules }).next).toMatchObject({ status: "pending", followerId: null });
    expect(matchingRules(rules.keywordRules, "x")).toEqual([]);
  });

  it("[R13.2] a closed 1-on-1 conversation the customer writes to again is pending without follower, then assigned by keyword", () => {
    const d = customer(conv({ status: "closed", followerId: "fol" }), "refund", { settings: rules });
    expect(d.next).toMatchObject({ status: "in_progress", followerId: "amy" });
  });

  it("[R13.2] a conversation with a follower is not reassigned; a group conversation is not assigned", () => {
    expect(customer(conv({ status: "in_progress", followerId: "fol" }), "refund", { settings: rules }).next.followerId).toBe("fol");
    expect(customer(conv({ kind: "group", channel: "whatsapp" }), "refund", { settings: rules }).next.followerId).toBeNull();
  });

  it("[R13.2] never on a collaborative conversation: in every state one can receive a customer message in, nothing is reassigned", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Status>("pending", "in_progress", "closed"),
        fc.constantFrom<"direct" | "group">("direct", "group"),
        fc.option(fc.constantFrom("fol", "adm"), { nil: null }),
        fc.integer({ min: 1, max: 5 }),
        fc.string(),
        (status, kind, followerId, n, noise) => {
          const c = conv({ status, kind, followerId, collaboratorIds: ["c1", "c2", "c3", "c4", "c5"].slice(0, n) });
          const d = customer(c, `${noise} refund 退貨 ${noise}`, { settings: rules });
          expect(d.next.followerId).toBe(followerId);
          expect(d.next.collaboratorIds).toEqual(c.collaboratorIds);
          expect(d.next.status).toBe(status === "closed" ? "in_progress" : status);
          expect(d.log).toEqual([]);
          expect(d.notices).toEqual([]);
        },
      ),
    );
  });
});

describe("OMO binding messages (R13.2)", () => {
  const omo = (c: Conversation, actorId = "fol", role: Role = Role.agent) =>
    decide(
      c,
      { type: "omo_binding", requestId: "o1", kind: "success", text: "綁定成功" },
      {
        actor: { type: "member", id: actorId, role, view: "mine" },
        now: MON_10,
        members: MEMBERS,
        settings: DEFAULT_SETTINGS,
      },
    );

  it("[R13.2] sent as an automatic message on a 1-on-1 conversation", () => {
    const d = omo(conv({ status: "in_progress", followerId: "fol" }));
    expect(d.message).toEqual({ sender: "auto", senderId: AutoSender.omo_binding_success, text: "綁定成功" });
    expect(d.effects).toEqual([{ kind: "deliver_reply" }]);
  });

  it("[R13.2] refused on a collaborative conversation (NOT_FOR_COLLABORATIVE), whatever its status or the sender", () => {
    for (const status of ["in_progress", "closed"] as const) {
      for (const [who, role] of [
        ["fol", Role.agent],
        ["c1", Role.agent],
        ["adm", Role.admin],
      ] as const) {
        const c = conv({ status, followerId: "fol", collaboratorIds: ["c1"] });
        expect(() => omo(c, who, role)).toThrowError(new DomainError(ErrorCode.NOT_FOR_COLLABORATIVE));
      }
    }
  });

  it("[R13.2] a member who may not open the conversation is refused (VIEW_NOT_ALLOWED)", () => {
    expect(() => omo(conv({ status: "in_progress", followerId: "fol" }), "amy")).toThrowError(new DomainError(ErrorCode.VIEW_NOT_ALLOWED));
  });
});
