import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { callConversation } from "../../server/roomCalls.ts";
import { ID, NAME } from "../support/demo.ts";
import { conversationRow, createConversation, createMember, eventRows, memberState, messageRows } from "../support/fixtures.ts";
import { api, webchat } from "../support/http.ts";
import { connect, logTexts, openInbox, tokenOf } from "../support/rooms.ts";
import { useTestServer, waitFor } from "../support/server.ts";

/**
 * Automatic messages and assignment on a customer message, through a real server, its rooms and
 * the SDK (SPEC R13.1 away messages, R13.2 welcome message, keyword auto-assignment and OMO
 * binding messages), with the server's clock moved by the test.
 */

/** A Taipei wall-clock time (UTC+8). The week of Monday 2026-11-30. */
const taipei = (iso: string) => Date.parse(`${iso}+08:00`);
let clock = taipei("2026-11-30T10:00:00");
const app = useTestServer({ now: () => new Date(clock) });

const TAIPEI_HOURS = {
  timeZone: "Asia/Taipei",
  open: ["mon", "tue", "wed", "thu", "fri"].map((day) => ({ day, start: "09:00", end: "18:00" })),
};

async function settings(patch: Record<string, unknown>) {
  const r = await api(app, await tokenOf(app, "admin"), "/api/v2/workspace/settings", { method: "PATCH", body: patch });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.settings;
}

async function customerWrites(conversationId: string, customerId: string, text: string) {
  const answer = await callConversation(conversationId, { type: "customer_message", requestId: `c-${randomUUID()}`, text, customerId });
  if (!answer.ok) throw new Error(`customer message refused: ${JSON.stringify(answer)}`);
  return answer;
}

async function autoRows(conversationId: string) {
  return (await messageRows(app, conversationId)).filter((m) => m.sender === "auto");
}

describe("away messages (R13.1)", () => {
  it("[R13.1] outside business hours the customer's message and the away message commit together and the away message is delivered; once per closed period; none inside hours", async () => {
    await settings({ businessHours: TAIPEI_HOURS, awayText: "我們已下班，明天見", welcomeText: "", keywordRules: [] });
    const conv = await createConversation(app, { channel: "webchat", follower: ID.agent });
    const follower = await connect(app, "agent", conv.id);

    clock = taipei("2026-11-30T20:00:00"); // Monday evening: closed
    const first = await customerWrites(conv.id, conv.customerId, "還在嗎？");
    const rows = await messageRows(app, conv.id);
    const [customer, away] = rows.slice(-2);
    expect(customer).toMatchObject({ sender: "customer", body: "還在嗎？" });
    expect(away).toMatchObject({ sender: "auto", senderId: "away", body: "我們已下班，明天見", seq: customer!.seq + 1 });
    expect(away!.createdAt.getTime()).toBe(customer!.createdAt.getTime()); // one commit, one time
    expect(first.seq).toBe(away!.seq);
    await waitFor(() => follower.state.messages.find((m: { seq: number }) => m.seq === away!.seq)?.delivery === "sent");
    // The away message is no staff reply: the customer still waits (R13.3).
    expect((await conversationRow(app, conv.id)).waitingSince).not.toBeNull();

    clock = taipei("2026-12-01T03:00:00"); // the same night
    await customerWrites(conv.id, conv.customerId, "hello?");
    expect(await autoRows(conv.id)).toHaveLength(1);

    clock = taipei("2026-12-01T10:00:00"); // Tuesday, open
    await customerWrites(conv.id, conv.customerId, "早安");
    expect(await autoRows(conv.id)).toHaveLength(1);

    clock = taipei("2026-12-01T19:00:00"); // Tuesday evening: a new closed period
    await customerWrites(conv.id, conv.customerId, "晚上好");
    expect((await autoRows(conv.id)).map((m) => m.senderId)).toEqual(["away", "away"]);
  });

  it("[R13.1] a collaborative conversation gets the away message as a 1-on-1 does, open or closed (the message reopens it)", async () => {
    await settings({ businessHours: TAIPEI_HOURS, awayText: "下班了" });
    clock = taipei("2026-12-05T12:00:00"); // Saturday
    for (const status of ["in_progress", "closed"] as const) {
      const conv = await createConversation(app, { channel: "line", follower: ID.agent, collaborators: [ID.manager], status });
      await customerWrites(conv.id, conv.customerId, "週末有人嗎");
      expect((await autoRows(conv.id)).map((m) => [m.senderId, m.body])).toEqual([["away", "下班了"]]);
      expect(await conversationRow(app, conv.id)).toMatchObject({
        status: "in_progress",
        followerId: ID.agent,
        collaboratorIds: [ID.manager],
      });
    }
  });
});

describe("welcome message (R13.2)", () => {
  it("[R13.2] a conversation created by the customer's first message gets the welcome message; the next messages do not; a closed conversation written to again is not new", async () => {
    await settings({ businessHours: null, welcomeText: "歡迎光臨！請問需要什麼協助？" });
    const customer = { id: `visitor-${randomUUID().slice(0, 8)}`, name: "新客人" };
    const first = await webchat(app, { messageId: randomUUID(), customer, text: "你好" });
    expect(first.status).toBe(202);
    const id = first.body.conversationId as string;
    expect((await messageRows(app, id)).map((m) => [m.sender, m.senderId === "welcome" ? "welcome" : "", m.body])).toEqual([
      ["customer", "", "你好"],
      ["auto", "welcome", "歡迎光臨！請問需要什麼協助？"],
    ]);
    const again = await webchat(app, { messageId: randomUUID(), customer, text: "有人在嗎" });
    expect(again.body.conversationId).toBe(id);
    expect(await autoRows(id)).toHaveLength(1);

    const closed = await createConversation(app, { channel: "webchat", follower: ID.agent, status: "closed" });
    await customerWrites(closed.id, closed.customerId, "我又來了");
    expect(await autoRows(closed.id)).toEqual([]);
  });

  it("[R13.2] never on a collaborative conversation, even one with an empty timeline (in progress or closed, direct or group)", async () => {
    await settings({ businessHours: null, welcomeText: "歡迎光臨！" });
    for (const status of ["in_progress", "closed"] as const) {
      for (const kind of ["direct", "group"] as const) {
        const conv = await createConversation(app, {
          channel: "whatsapp",
          kind,
          follower: ID.agent,
          collaborators: [ID.manager],
          status,
          texts: [],
        });
        await customerWrites(conv.id, conv.customerId, "hi");
        expect(await autoRows(conv.id)).toEqual([]);
      }
    }
    // The same empty 1-on-1 conversation is welcomed.
    const oneOnOne = await createConversation(app, { channel: "line", follower: null, texts: [] });
    await customerWrites(oneOnOne.id, oneOnOne.customerId, "hi");
    expect((await autoRows(oneOnOne.id)).map((m) => m.senderId)).toEqual(["welcome"]);
  });
});

describe("keyword auto-assignment (R13.2)", () => {
  it("[R13.2] a keyword in a pending 1-on-1 conversation without follower makes the first matching rule's member the follower: in progress, log line, system message, notice", async () => {
    await settings({
      businessHours: null,
      welcomeText: "",
      keywordRules: [
        { keyword: "退款", memberId: ID.agent2 },
        { keyword: "Refund", memberId: ID.agent },
      ],
    });
    const inbox = await openInbox(app, "agent");
    const conv = await createConversation(app, { channel: "line", follower: null });
    await customerWrites(conv.id, conv.customerId, "I want a REFUND");
    expect(await conversationRow(app, conv.id)).toMatchObject({ status: "in_progress", followerId: ID.agent, collaboratorIds: [] });
    const notice = await inbox.next(conv.id, "keyword_assigned");
    expect(notice.text).toBe(`系統已依關鍵字將 ${conv.customerName} 的對話指派給你`);
    const follower = await connect(app, "agent", conv.id);
    expect(await logTexts(follower)).toContain(`系統依關鍵字將對話指派給了 ${NAME.agent}`);
    const system = (await messageRows(app, conv.id)).filter((m) => m.sender === "system");
    expect(system.map((m) => [m.systemKind, m.subjectIds])).toEqual([["followed", [ID.agent]]]);
    expect((await memberState(app, conv.id, ID.agent)).unreadCount).toBe(1); // the new follower's unread (R11.1)

    // In order: both match, the first rule wins.
    const both = await createConversation(app, { channel: "line", follower: null });
    await customerWrites(both.id, both.customerId, "退款 refund");
    expect((await conversationRow(app, both.id)).followerId).toBe(ID.agent2);
    // No keyword: stays pending.
    const none = await createConversation(app, { channel: "line", follower: null });
    await customerWrites(none.id, none.customerId, "hello");
    expect(await conversationRow(app, none.id)).toMatchObject({ status: "pending", followerId: null });
  });

  it("[R13.2] a new Webchat conversation whose first message holds a keyword is welcomed and assigned in the same commit", async () => {
    await settings({ businessHours: null, welcomeText: "歡迎！", keywordRules: [{ keyword: "訂單", memberId: ID.agent3 }] });
    const r = await webchat(app, {
      messageId: randomUUID(),
      customer: { id: `visitor-${randomUUID().slice(0, 8)}`, name: "查訂單" },
      text: "我的訂單呢",
    });
    expect(r.status).toBe(202);
    const id = r.body.conversationId as string;
    expect(await conversationRow(app, id)).toMatchObject({ status: "in_progress", followerId: ID.agent3 });
    const rows = await messageRows(app, id);
    expect(rows.map((m) => [m.sender, m.sender === "system" ? m.systemKind : m.body])).toEqual([
      ["customer", "我的訂單呢"],
      ["auto", "歡迎！"],
      ["system", "followed"],
    ]);
    expect(new Set(rows.map((m) => m.createdAt.getTime())).size).toBe(1);
    await settings({ welcomeText: "" });
  });

  it("[R13.2] a rule whose member was deactivated since it was saved is skipped; the next matching rule applies", async () => {
    const leaving = await createMember(app, { name: "Leaving" });
    await settings({
      businessHours: null,
      keywordRules: [
        { keyword: "發票", memberId: leaving.id },
        { keyword: "發票", memberId: ID.agent3 },
      ],
    });
    await app.database.db.update(s.members).set({ status: "deactivated" }).where(eq(s.members.id, leaving.id));
    const conv = await createConversation(app, { channel: "line", follower: null });
    await customerWrites(conv.id, conv.customerId, "請問發票");
    expect((await conversationRow(app, conv.id)).followerId).toBe(ID.agent3);
  });

  it("[R13.2] never on a collaborative conversation: in progress or closed, direct or group, a keyword reassigns nothing", async () => {
    await settings({ businessHours: null, keywordRules: [{ keyword: "refund", memberId: ID.agent2 }] });
    for (const status of ["in_progress", "closed"] as const) {
      for (const kind of ["direct", "group"] as const) {
        const conv = await createConversation(app, {
          channel: "whatsapp",
          kind,
          follower: ID.agent,
          collaborators: [ID.manager, ID.agent3],
          status,
        });
        await customerWrites(conv.id, conv.customerId, "refund refund");
        expect(await conversationRow(app, conv.id), `${status} ${kind}`).toMatchObject({
          status: "in_progress",
          followerId: ID.agent,
          collaboratorIds: [ID.manager, ID.agent3],
        });
        expect((await eventRows(app, conv.id)).map((e) => e.kind)).toEqual([]);
      }
    }
    // The same message in a pending 1-on-1 does assign it (the rule is live).
    const oneOnOne = await createConversation(app, { channel: "whatsapp", follower: null });
    await customerWrites(oneOnOne.id, oneOnOne.customerId, "refund");
    expect((await conversationRow(app, oneOnOne.id)).followerId).toBe(ID.agent2);
  });
});

describe("OMO binding messages (R13.2)", () => {
  const path = (id: string) => `/api/v2/conversations/${id}/omo-binding`;

  it("[R13.2] sent as an automatic message on a 1-on-1 conversation, delivered, once per requestId", async () => {
    const conv = await createConversation(app, { channel: "webchat", follower: ID.agent });
    const follower = await connect(app, "agent", conv.id);
    const token = await tokenOf(app, "agent");
    const body = { kind: "success", text: "會員綁定成功 🎉", requestId: "omo-1" };
    const sent = await api(app, token, path(conv.id), { method: "POST", body });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ requestId: "omo-1", duplicate: false });
    const again = await api(app, token, path(conv.id), { method: "POST", body });
    expect(again.body).toMatchObject({ duplicate: true });
    const rows = await autoRows(conv.id);
    expect(rows.map((m) => [m.senderId, m.body, m.seq])).toEqual([["omo_binding_success", "會員綁定成功 🎉", sent.body.seq]]);
    await waitFor(() => follower.state.messages.find((m: { seq: number }) => m.seq === sent.body.seq)?.delivery === "sent");
    const extra = await api(app, await tokenOf(app, "admin"), path(conv.id), {
      method: "POST",
      body: { kind: "additional", text: "附加訊息", requestId: "omo-2" },
    });
    expect(extra.status).toBe(200);
    expect((await autoRows(conv.id)).map((m) => m.senderId)).toEqual(["omo_binding_success", "omo_binding_additional"]);
  });

  it("[R13.2] refused on a collaborative conversation (409 NOT_FOR_COLLABORATIVE), in progress or closed, nothing sent", async () => {
    for (const status of ["in_progress", "closed"] as const) {
      const conv = await createConversation(app, { channel: "line", follower: ID.agent, collaborators: [ID.manager], status });
      for (const who of ["agent", "manager", "admin"] as const) {
        const r = await api(app, await tokenOf(app, who), path(conv.id), {
          method: "POST",
          body: { kind: "success", text: "綁定成功", requestId: `x-${who}` },
        });
        expect(r.status).toBe(409);
        expect(r.body).toMatchObject({ code: "NOT_FOR_COLLABORATIVE", message: "協作對話不支援此功能" });
      }
      expect(await autoRows(conv.id)).toEqual([]);
      expect((await conversationRow(app, conv.id)).version).toBe(0);
    }
  });

  it("[R13.2] who may send: a member who cannot open the conversation is refused (403), an unknown one is 404; bad bodies are 400 and send nothing", async () => {
    const conv = await createConversation(app, { channel: "line", follower: ID.agent });
    const r = await api(app, await tokenOf(app, "agent2"), path(conv.id), {
      method: "POST",
      body: { kind: "success", text: "x", requestId: "a" },
    });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("VIEW_NOT_ALLOWED");
    const missing = await api(app, await tokenOf(app, "admin"), path("no-such-conversation"), {
      method: "POST",
      body: { kind: "success", text: "x", requestId: "a" },
    });
    expect(missing.status).toBe(404);

    const token = await tokenOf(app, "agent");
    const bad = fc.oneof(
      fc.record({
        kind: fc.string().filter((k) => k !== "success" && k !== "additional"),
        text: fc.constant("x"),
        requestId: fc.constant("r"),
      }),
      fc.record({
        kind: fc.constant("success"),
        text: fc.oneof(fc.constant(""), fc.constant("   "), fc.integer(), fc.constant("a\u0000b"), fc.constant("😀".repeat(4001))),
        requestId: fc.constant("r"),
      }),
      fc.record({
        kind: fc.constant("success"),
        text: fc.constant("x"),
        requestId: fc.oneof(fc.constant(""), fc.constant("r".repeat(101)), fc.integer(), fc.constant(null)),
      }),
      // An unknown key (JSON drops an `undefined` value, which would leave a valid body).
      fc.record({
        kind: fc.constant("success"),
        text: fc.constant("x"),
        requestId: fc.constant("r"),
        extra: fc.anything().filter((v) => v !== undefined),
      }),
      fc.anything().filter((v) => typeof v !== "object" || v === null || Array.isArray(v)),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (body) => {
        const res = await app.http.request(path(conv.id), {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body) ?? "null",
        });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { code: string }).code).toBe("INVALID_PAYLOAD");
      }),
      { numRuns: 40 },
    );
    expect(await autoRows(conv.id)).toEqual([]);
  });
});

describe("settings of automatic messages (R13.1, R13.2)", () => {
  const PATH = "/api/v2/workspace/settings";

  it("[R13.1][R13.2] the new settings are read back as saved; defaults: always open, the zh-TW away text, no welcome, no rules", async () => {
    const admin = await tokenOf(app, "admin");
    const saved = await settings({
      businessHours: { timeZone: "Europe/London", open: [{ day: "sat", start: "00:00", end: "24:00" }] },
      awayText: "  𠮷野家 😀 closed  ",
      welcomeText: "歡迎",
      keywordRules: [{ keyword: " 𠮷 ", memberId: ID.agent }],
    });
    expect(saved).toMatchObject({
      businessHours: { timeZone: "Europe/London", open: [{ day: "sat", start: "00:00", end: "24:00" }] },
      awayText: "𠮷野家 😀 closed",
      keywordRules: [{ keyword: "𠮷", memberId: ID.agent }],
    });
    expect((await api(app, admin, "/api/v2/workspace")).body.settings).toMatchObject({ welcomeText: "歡迎", awayText: "𠮷野家 😀 closed" });
    // 1000 four-byte characters are 1000 characters.
    expect((await settings({ awayText: "😀".repeat(1000) })).awayText).toHaveLength(2000);
    const defaults = await settings({
      businessHours: null,
      awayText: "您好，目前為非營業時間，我們將於營業時間盡快回覆您。",
      welcomeText: "",
      keywordRules: [],
    });
    expect(defaults).toMatchObject({ businessHours: null, welcomeText: "", keywordRules: [] });
  });

  it("[R13.1][R13.2] bad values (NUL, 4-byte overflows, huge, wrong types, bad hours, bad zones) answer 400 and change nothing", async () => {
    const admin = await tokenOf(app, "admin");
    await settings({
      businessHours: TAIPEI_HOURS,
      awayText: "下班",
      welcomeText: "嗨",
      keywordRules: [{ keyword: "k", memberId: ID.agent }],
    });
    const before = (await api(app, admin, "/api/v2/workspace")).body.settings;
    const interval = (patch: Record<string, unknown>) => ({
      timeZone: "Asia/Taipei",
      open: [{ day: "mon", start: "09:00", end: "18:00", ...patch }],
    });
    const wrong = fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.integer(), { minLength: 1, maxLength: 3 }), fc.constant({}));
    const bad = fc.oneof(
      fc.record({ businessHours: fc.oneof(wrong, fc.string()) }),
      fc.record({
        businessHours: fc
          .string({ maxLength: 80 })
          .filter((z) => {
            try {
              new Intl.DateTimeFormat("en", { timeZone: z });
              return false;
            } catch {
              return true;
            }
          })
          .map((timeZone) => ({ timeZone, open: [] })),
      }),
      fc.record({
        businessHours: fc.constantFrom(
          interval({ start: "18:00", end: "09:00" }),
          interval({ start: "09:00", end: "09:00" }),
          interval({ start: "24:00", end: "24:00" }),
          interval({ start: "9:00" }),
          interval({ end: "24:01" }),
          interval({ end: "25:00" }),
          interval({ day: "monday" }),
          interval({ day: 1 }),
          interval({ extra: true }),
          { timeZone: "Asia/Taipei", open: Array.from({ length: 71 }, () => ({ day: "mon", start: "09:00", end: "10:00" })) },
          { timeZone: "Asia/Taipei" },
          { open: [] },
        ),
      }),
      fc.record({
        awayText: fc.oneof(
          wrong,
          fc.constant(null),
          fc.constant("a\u0000b"),
          fc.constant("😀".repeat(1001)),
          fc.constant("x".repeat(50_000)),
        ),
      }),
      fc.record({ welcomeText: fc.oneof(wrong, fc.constant(null), fc.constant("\u0000"), fc.constant("𠮷".repeat(1001))) }),
      fc.record({
        keywordRules: fc.oneof(
          wrong,
          fc.constant(null),
          fc.constant([{ keyword: "", memberId: ID.agent }]),
          fc.constant([{ keyword: "   ", memberId: ID.agent }]),
          fc.constant([{ keyword: "k".repeat(101), memberId: ID.agent }]),
          fc.constant([{ keyword: "k", memberId: "" }]),
          fc.constant([{ keyword: "k\u0000", memberId: ID.agent }]),
          fc.constant([{ keyword: "k", memberId: ID.agent, extra: 1 }]),
          fc.constant([{ keyword: 5, memberId: ID.agent }]),
          fc.constant(Array.from({ length: 101 }, () => ({ keyword: "k", memberId: ID.agent }))),
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (patch) => {
        const r = await api(app, admin, PATH, { method: "PATCH", body: patch });
        expect(r.status, JSON.stringify(patch).slice(0, 200)).toBe(400);
        expect(r.body.code).toBe("INVALID_PAYLOAD");
      }),
      { numRuns: 80 },
    );
    expect((await api(app, admin, "/api/v2/workspace")).body.settings).toEqual(before);
  });

  it("[R13.2] keyword rules naming a member outside the workspace or not active are refused (409) and change nothing; only an admin changes settings", async () => {
    const admin = await tokenOf(app, "admin");
    await settings({ keywordRules: [{ keyword: "k", memberId: ID.agent }] });
    const before = (await api(app, admin, "/api/v2/workspace")).body.settings;
    const gone = await createMember(app);
    await app.database.db.update(s.members).set({ status: "deactivated" }).where(eq(s.members.id, gone.id));
    const unknown = await api(app, admin, PATH, {
      method: "PATCH",
      body: {
        keywordRules: [
          { keyword: "a", memberId: ID.agent2 },
          { keyword: "b", memberId: "nobody" },
        ],
      },
    });
    expect(unknown.status).toBe(409);
    expect(unknown.body).toMatchObject({ code: "TARGET_NOT_FOUND", detail: { memberId: "nobody" } });
    const inactive = await api(app, admin, PATH, { method: "PATCH", body: { keywordRules: [{ keyword: "a", memberId: gone.id }] } });
    expect(inactive.status).toBe(409);
    expect(inactive.body).toMatchObject({ code: "TARGET_INACTIVE", detail: { memberId: gone.id } });
    const agent = await api(app, await tokenOf(app, "agent"), PATH, { method: "PATCH", body: { welcomeText: "hi" } });
    expect(agent.status).toBe(403);
    expect((await api(app, admin, "/api/v2/workspace")).body.settings).toEqual(before);
  });
});
