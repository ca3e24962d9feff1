import pino from "pino";
import { describe, expect, it } from "vitest";
import { timersOf } from "../../db/timers.ts";
import { Scheduler } from "../../server/scheduler.ts";
import { callConversation } from "../../server/roomCalls.ts";
import { CloseCode } from "../../rooms/closeCodes.ts";
import { createConversation, memberState, messageRows } from "../support/fixtures.ts";
import { connect, logTexts, openInbox } from "../support/rooms.ts";
import { EMAIL, ID, login, useTestServer, waitFor } from "../support/server.ts";

/**
 * The scheduler and auto-close (issue 11, items 3 and 4; SPEC R13.4, R13.1's reminder): durable
 * timers set and cleared with the actions that change them, fired through the conversation's room
 * by the scheduler, with the clock moved by the test (the server runs on the test's clock).
 */

let clock = Date.parse("2026-11-29T09:00:00Z");
const MIN = 60_000;
// The scheduler polls rarely: each test moves the clock, then fires what is due with `fire()`.
const app = useTestServer({ now: () => new Date(clock), env: { SCHEDULER_POLL_MS: "600000" } });

async function settings(patch: Record<string, unknown>) {
  const admin = await login(app, EMAIL.admin);
  const res = await app.http.request("/api/v2/workspace/settings", {
    method: "PATCH",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify(patch),
  });
  expect(res.status).toBe(200);
}

/** Moves the clock and runs the scheduler until nothing more is due. */
async function advance(ms: number) {
  clock += ms;
  await app.scheduler.drainAll();
}

async function status(id: string) {
  const rows = await app.database.db.query.conversations.findFirst({ where: (c, { eq }) => eq(c.id, id) });
  return rows?.status;
}

function customerWrites(conversationId: string, customerId: string, text: string) {
  return callConversation(conversationId, { type: "customer_message", requestId: `c-${Math.random().toString(36).slice(2)}`, text, customerId });
}

const AUTO_CLOSED_ZH = "系統自動結束了對話（客人逾時未回覆）";

describe("auto-close (R13.4)", () => {
  it("[R13.4] on a channel without the reminder (Webchat) the conversation closes by itself once the last staff reply is older than the duration: the log line, collaborators' views closed, pins removed, everyone told — once", async () => {
    await settings({ autoCloseAfterMinutes: 60, csatOnClose: false });
    const conv = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager], pinned: [ID.agent, ID.manager] });
    const follower = await connect(app, "agent", conv.id);
    const collaborator = await connect(app, "manager", conv.id);
    const inbox = await openInbox(app, "manager");
    expect((await follower.act("reply", { text: "Anything else?" })).ok).toBe(true);
    expect((await timersOf(app.database.db, conv.id)).map((t) => [t.kind, t.dueAt.getTime() - clock])).toEqual([["auto_close", 60 * MIN]]);

    await advance(59 * MIN);
    expect(await status(conv.id)).toBe("in_progress");
    await advance(2 * MIN);
    expect(await status(conv.id)).toBe("closed");
    await waitFor(() => collaborator.closed !== null);
    expect(collaborator.closed?.code).toBe(CloseCode.closed);
    await waitFor(() => follower.state.status === "closed");
    expect((await logTexts(follower)).filter((t) => t === AUTO_CLOSED_ZH)).toHaveLength(1);
    expect(await memberState(app, conv.id, ID.agent)).toMatchObject({ pinned: false });
    expect(await memberState(app, conv.id, ID.manager)).toMatchObject({ pinned: false });
    await waitFor(() => inbox.notices.some((n) => n.kind === "auto_closed" && n.conversationId === conv.id));
    expect(inbox.notices.find((n) => n.kind === "auto_closed")?.text).toBe(`${conv.customerName} 的對話已由系統自動結束`);
    expect(await timersOf(app.database.db, conv.id)).toEqual([]);

    // Nothing more fires: one close, one log line.
    await advance(600 * MIN);
    expect((await logTexts(follower)).filter((t) => t === AUTO_CLOSED_ZH)).toHaveLength(1);
  });

  it("[R13.4] a collaborator's reply counts as the last staff reply: it moves the due time", async () => {
    await settings({ autoCloseAfterMinutes: 60 });
    const conv = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager] });
    const follower = await connect(app, "agent", conv.id);
    const collaborator = await connect(app, "manager", conv.id);
    await follower.act("reply", { text: "first" });
    await advance(30 * MIN);
    await collaborator.act("reply", { text: "the collaborator's" });
    await advance(31 * MIN); // 61 min after the follower's reply, 31 after the collaborator's
    expect(await status(conv.id)).toBe("in_progress");
    await advance(30 * MIN);
    expect(await status(conv.id)).toBe("closed");
  });

  it("[R13.4] the customer replying since the last staff reply keeps the conversation open", async () => {
    await settings({ autoCloseAfterMinutes: 60 });
    const conv = await createConversation(app, { channel: "webchat", follower: ID.agent });
    const follower = await connect(app, "agent", conv.id);
    await follower.act("reply", { text: "Anything else?" });
    await advance(10 * MIN);
    expect((await customerWrites(conv.id, conv.customerId, "yes, one more thing")).ok).toBe(true);
    expect(await timersOf(app.database.db, conv.id)).toEqual([]);
    await advance(600 * MIN);
    expect(await status(conv.id)).toBe("in_progress");
  });

  it("[R13.1][R13.4] on LINE the customer is reminded first (an automatic message), and the close follows after the grace period", async () => {
    await settings({ autoCloseAfterMinutes: 60, autoCloseGraceMinutes: 30, autoCloseReminderText: "還需要協助嗎？" });
    const conv = await createConversation(app, { channel: "line", follower: ID.agent });
    const follower = await connect(app, "agent", conv.id);
    await follower.act("reply", { text: "Done!" });
    expect((await timersOf(app.database.db, conv.id)).map((t) => t.kind)).toEqual(["auto_close_reminder"]);
    await advance(61 * MIN);
    const auto = (await messageRows(app, conv.id)).filter((m) => m.sender === "auto");
    expect(auto.map((m) => [m.body, m.senderId])).toEqual([["還需要協助嗎？", "auto_close_reminder"]]);
    await waitFor(() => follower.state.messages.some((m: { sender: string }) => m.sender === "auto"));
    expect(await status(conv.id)).toBe("in_progress");
    expect((await timersOf(app.database.db, conv.id)).map((t) => t.kind)).toEqual(["auto_close"]);
    await advance(29 * MIN);
    expect(await status(conv.id)).toBe("in_progress");
    await advance(2 * MIN);
    expect(await status(conv.id)).toBe("closed");
    // One reminder in all.
    expect((await messageRows(app, conv.id)).filter((m) => m.sender === "auto")).toHaveLength(1);
  });

  it("[R13.4] a customer reply in the grace period cancels the close; the reminder does not count as a staff reply", async () => {
    await settings({ autoCloseAfterMinutes: 60, autoCloseGraceMinutes: 30, autoCloseReminderText: "還需要協助嗎？" });
    const conv = await createConversation(app, { channel: "line", follower: ID.agent });
    const follower = await connect(app, "agent", conv.id);
    await follower.act("reply", { text: "Done!" });
    await advance(61 * MIN);
    expect((await messageRows(app, conv.id)).some((m) => m.sender === "auto")).toBe(true);
    await customerWrites(conv.id, conv.customerId, "wait!");
    await advance(600 * MIN);
    expect(await status(conv.id)).toBe("in_progress");
    const row = await app.database.db.query.conversations.findFirst({ where: (c, { eq }) => eq(c.id, conv.id) });
    expect(row?.waitingSince).not.toBeNull(); // the customer waits: the reminder answered nothing
  });

  it("[R13.4] off (0) sets no timer, and turning it off drops timers already set without closing", async () => {
    await settings({ autoCloseAfterMinutes: 0 });
    const a = await createConversation(app, { channel: "webchat", follower: ID.agent });
    const ca = await connect(app, "agent", a.id);
    await ca.act("reply", { text: "x" });
    expect(await timersOf(app.database.db, a.id)).toEqual([]);

    await settings({ autoCloseAfterMinutes: 60 });
    const b = await createConversation(app, { channel: "webchat", follower: ID.agent });
    const cb = await connect(app, "agent", b.id);
    await cb.act("reply", { text: "y" });
    expect(await timersOf(app.database.db, b.id)).toHaveLength(1);
    await settings({ autoCloseAfterMinutes: 0 });
    await advance(120 * MIN);
    expect(await status(b.id)).toBe("in_progress");
    expect(await timersOf(app.database.db, b.id)).toEqual([]);
  });

  it("[R13.4] a manual close clears the timer; a conversation closed by hand is not closed again", async () => {
    await settings({ autoCloseAfterMinutes: 60 });
    const conv = await createConversation(app, { channel: "webchat", follower: ID.agent });
    const follower = await connect(app, "agent", conv.id);
    await follower.act("reply", { text: "bye" });
    expect((await follower.act("close")).ok).toBe(true);
    expect(await timersOf(app.database.db, conv.id)).toEqual([]);
    await advance(120 * MIN);
    expect((await logTexts(follower)).filter((t) => t === AUTO_CLOSED_ZH)).toHaveLength(0);
  });

  it("[R13.4] two schedulers draining at once (as two processes would) close the conversation once", async () => {
    await settings({ autoCloseAfterMinutes: 60 });
    const convs = await Promise.all([1, 2, 3, 4, 5].map(() => createConversation(app, { channel: "webchat", follower: ID.agent })));
    for (const c of convs) await (await connect(app, "agent", c.id)).act("reply", { text: "r" });
    clock += 61 * MIN;
    const other = new Scheduler({ db: app.database.db, log: pino({ level: "silent" }), now: () => new Date(clock), leaseMs: 30_000, pollMs: 600_000 });
    await Promise.all([app.scheduler.drainAll(), other.drainAll(), app.scheduler.drainAll()]);
    for (const c of convs) {
      expect(await status(c.id)).toBe("closed");
      const lines = await app.database.db.query.conversationEvents.findMany({ where: (e, { and, eq }) => and(eq(e.conversationId, c.id), eq(e.kind, "auto_closed")) });
      expect(lines).toHaveLength(1);
    }
  });
});
