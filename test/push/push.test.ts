import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as schema from "../../db/schema.ts";
import { PREVIEW_MAX_CHARS } from "../../domain/push.ts";
import { createConversation } from "../support/fixtures.ts";
import { api } from "../support/http.ts";
import { connect, tokenOf } from "../support/rooms.ts";
import { ID } from "../support/server.ts";
import { WINDOW_SECONDS, registerFcm, registerWeb, say, usePushServer } from "./support.ts";

/**
 * Pushes end to end (issue 11, R12.1): customer messages through the Webchat endpoint, the real
 * server and rooms, the push worker, and local fakes of a Web Push service (VAPID checked, payload
 * decrypted) and FCM (OAuth token exchange, each field of the v1 message checked).
 */
const rig = usePushServer();
const { app, webPush, fcm } = rig;

const webFor = (subId: string, conversationId: string) =>
  webPush.received.filter((r) => r.subscriptionId === subId && r.payload.conversationId === conversationId).map((r) => r.payload);
const fcmFor = (token: string, conversationId: string) =>
  fcm.received.filter((r) => r.token === token && r.message.data.conversationId === conversationId).map((r) => r.message);

describe("who gets a push", () => {
  it("[R12.1] a customer message in an in_progress collaborative conversation pushes once to the follower and to each collaborator, in their locale", async () => {
    const dan = await registerWeb(rig, "agent"); // follower, zh-TW
    const ben = await registerFcm(rig, "manager"); // collaborator, zh-TW
    const eveWeb = await registerWeb(rig, "agent2"); // collaborator, en, two devices
    const evePhone = await registerFcm(rig, "agent2");
    const amy = await registerWeb(rig, "supervisor"); // not a participant
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager, ID.agent2], customerName: "王小明" });

    expect((await say(app, c, "我的包裹 在哪裡？")).status).toBe(202);
    await rig.drain();
    expect(webFor(dan.id, c.id)).toEqual([]); // nothing before the window is over
    await rig.afterWindow();

    const [toDan] = webFor(dan.id, c.id);
    expect(webFor(dan.id, c.id)).toHaveLength(1);
    expect(toDan).toEqual({
      type: "customer_message",
      conversationId: c.id,
      customerName: "王小明",
      count: 1,
      preview: "我的包裹 在哪裡？",
      unread: 1, // this message (the fixture stores no unread)
      totalUnread: expect.any(Number),
      locale: "zh-TW",
      title: "王小明 傳來新訊息",
      body: "我的包裹 在哪裡？",
    });
    expect(webFor(eveWeb.id, c.id)).toMatchObject([{ locale: "en", title: "New message from 王小明", count: 1 }]);
    const [toEvePhone] = fcmFor(evePhone.token, c.id);
    expect(fcmFor(evePhone.token, c.id)).toHaveLength(1);
    expect(toEvePhone).toMatchObject({ notification: { title: "New message from 王小明", body: "我的包裹 在哪裡？" }, data: { count: "1", locale: "en" } });
    expect(fcmFor(ben.token, c.id)).toMatchObject([
      { notification: { title: "王小明 傳來新訊息" }, data: { conversationId: c.id, customerName: "王小明", count: "1", unread: "1" }, android: { collapse_key: c.id } },
    ]);
    expect(webFor(amy.id, c.id)).toEqual([]);
    expect(webPush.problems).toEqual([]);
    expect(fcm.problems).toEqual([]);
    expect(fcm.tokensIssued).toBe(1); // one OAuth token, kept for the next sends
  });

  it("[R12.1] in an in_progress 1-on-1 the follower gets the push; a pending conversation pushes nobody", async () => {
    const finn = await registerWeb(rig, "agent3");
    const direct = await createConversation(app, { channel: "webchat", follower: ID.agent3 });
    const pending = await createConversation(app, { channel: "webchat", follower: null });
    await say(app, direct, "hello?");
    await say(app, pending, "anyone?");
    await rig.afterWindow();
    expect(webFor(finn.id, direct.id)).toMatchObject([{ count: 1, preview: "hello?" }]);
    expect(webPush.received.filter((r) => r.payload.conversationId === pending.id)).toEqual([]);
  });

  it("a member viewing the conversation in a connected client gets none; the others get theirs", async () => {
    const dan = await registerWeb(rig, "agent");
    const ben = await registerWeb(rig, "manager");
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager] });
    await connect(app, "agent", c.id);
    await say(app, c, "are you there?");
    await rig.afterWindow();
    expect(webFor(dan.id, c.id)).toEqual([]);
    expect(webFor(ben.id, c.id)).toHaveLength(1);
  });

  it("ten customer messages within the window give one push saying ten, with the latest as preview", async () => {
    const dan = await registerWeb(rig, "agent");
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager] });
    for (let i = 1; i <= 10; i++) expect((await say(app, c, `message ${i}`)).status).toBe(202);
    await rig.afterWindow();
    expect(webFor(dan.id, c.id)).toMatchObject([{ count: 10, preview: "message 10", title: expect.stringContaining("10 則新訊息") }]);
    // The next message opens a new window: one more push, saying one.
    await say(app, c, "message 11");
    await rig.afterWindow();
    expect(webFor(dan.id, c.id).map((p) => p.count)).toEqual([10, 1]);
  });

  it(`a long message is cut to ${PREVIEW_MAX_CHARS} characters ending in "…"`, async () => {
    const dan = await registerWeb(rig, "agent");
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent });
    await say(app, c, "長".repeat(500));
    await rig.afterWindow();
    const [p] = webFor(dan.id, c.id);
    expect(Array.from(p!.preview as string)).toHaveLength(PREVIEW_MAX_CHARS);
    expect(p!.preview).toBe(`${"長".repeat(PREVIEW_MAX_CHARS - 1)}…`);
  });

  it("a refused customer message (too long, wrong secret, a re-delivered id) pushes nothing more", async () => {
    const dan = await registerWeb(rig, "agent");
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager] });
    expect((await say(app, c, "x".repeat(4001))).status).toBe(413);
    await rig.afterWindow();
    expect(webFor(dan.id, c.id)).toEqual([]);
    expect((await say(app, c, "once", "same-id")).status).toBe(202);
    expect((await say(app, c, "once", "same-id")).body.duplicate).toBe(true);
    await rig.afterWindow();
    expect(webFor(dan.id, c.id)).toMatchObject([{ count: 1, preview: "once" }]);
  });
});

describe("devices the service reports gone, and preferences", () => {
  it("a 410 from the Web Push service removes the subscription; FCM's UNREGISTERED removes the token", async () => {
    const token = await tokenOf(app, "agent3");
    const web = await registerWeb(rig, "agent3");
    const phone = await registerFcm(rig, "agent3");
    webPush.answer(web.id, 410);
    fcm.unregister(phone.token);
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent3 });
    await say(app, c, "hi");
    await rig.afterWindow();
    const ids = (await api(app, token, "/api/v2/devices")).body.items.map((d: { id: string }) => d.id);
    expect(ids).not.toContain(web.deviceId);
    expect(ids).not.toContain(phone.deviceId);
  });

  it("mute all and mute one conversation stop that member's pushes; unmuting brings them back", async () => {
    const dan = await registerWeb(rig, "agent");
    const ben = await registerWeb(rig, "manager");
    const eve = await registerWeb(rig, "agent2");
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager, ID.agent2] });
    const danToken = await tokenOf(app, "agent");
    const benToken = await tokenOf(app, "manager");
    expect((await api(app, danToken, `/api/v2/push/mutes/${c.id}`, { method: "PUT" })).body).toMatchObject({ mutedConversationIds: [c.id] });
    expect((await api(app, benToken, "/api/v2/push/preferences", { method: "PUT", body: { mutedAll: true } })).body).toEqual({ mutedAll: true, mutedConversationIds: [] });
    await say(app, c, "first");
    await rig.afterWindow();
    expect(webFor(dan.id, c.id)).toEqual([]);
    expect(webFor(ben.id, c.id)).toEqual([]);
    expect(webFor(eve.id, c.id)).toHaveLength(1);

    expect((await api(app, danToken, `/api/v2/push/mutes/${c.id}`, { method: "DELETE" })).body).toMatchObject({ mutedConversationIds: [] });
    expect((await api(app, benToken, "/api/v2/push/preferences", { method: "PUT", body: { mutedAll: false } })).body.mutedAll).toBe(false);
    await say(app, c, "second");
    await rig.afterWindow();
    expect(webFor(dan.id, c.id)).toMatchObject([{ preview: "second" }]);
    expect(webFor(ben.id, c.id)).toMatchObject([{ preview: "second" }]);
  });
});

describe("where a push is folded", () => {
  it("a customer message's push is in its members' batches once the message is committed, due a window later, with nothing queued for the worker", async () => {
    const db = app.database.db;
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager] });
    const before = Date.now();
    expect((await say(app, c, "folded at commit")).status).toBe(202);
    // No drain: the commit statement itself wrote the batches.
    const batches = await db
      .select()
      .from(schema.pushBatches)
      .where(eq(schema.pushBatches.conversationId, c.id))
      .orderBy(schema.pushBatches.memberId);
    const [conv] = await db.select({ lastSeq: schema.conversations.lastSeq }).from(schema.conversations).where(eq(schema.conversations.id, c.id));
    expect(batches.map((b) => [b.memberId, b.count, b.lastSeq])).toEqual(
      [ID.agent, ID.manager].sort().map((m) => [m, 1, conv!.lastSeq]),
    );
    for (const b of batches) {
      expect(b.dueAt.getTime()).toBeGreaterThanOrEqual(before + WINDOW_SECONDS * 1000);
      expect(b.dueAt.getTime()).toBeLessThanOrEqual(Date.now() + WINDOW_SECONDS * 1000);
    }
    const queued = await db
      .select({ id: schema.outbox.id })
      .from(schema.outbox)
      .where(and(eq(schema.outbox.topic, "push"), sql`${schema.outbox.payload}->>'conversationId' = ${c.id}`));
    expect(queued).toEqual([]);
  });

  it("a push effect queued in the outbox (a process of an earlier version, whose worker folded it) is still folded and sent, once", async () => {
    const db = app.database.db;
    const dan = await registerWeb(rig, "agent");
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent });
    expect((await say(app, c, "from the old process")).status).toBe(202);
    await rig.afterWindow();
    expect(webFor(dan.id, c.id)).toHaveLength(1);
    const [conv] = await db.select({ lastSeq: schema.conversations.lastSeq }).from(schema.conversations).where(eq(schema.conversations.id, c.id));
    await db.insert(schema.outbox).values({
      topic: "push",
      payload: { kind: "effect", conversationId: c.id, seq: conv!.lastSeq, effect: { kind: "push", memberIds: [ID.agent] } } as never,
    });
    await db.update(schema.memberConversationState).set({ unreadCount: 2 }).where(
      and(eq(schema.memberConversationState.memberId, ID.agent), eq(schema.memberConversationState.conversationId, c.id)),
    );
    await rig.afterWindow();
    await rig.afterWindow();
    expect(webFor(dan.id, c.id).map((p) => p.count)).toEqual([1, 1]);
  });
});
