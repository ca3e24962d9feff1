import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { insertChannelAccount, updateChannelAccount } from "../../db/channels.ts";
import { useLineApiBaseUrl } from "../../server/channels/line/client.ts";
import { forgetProfiles } from "../../server/channels/profiles.ts";
import { encryptSecrets, secretsKeyOf } from "../../server/channels/secrets.ts";
import { channelRows } from "../support/channelRows.ts";
import { WEBCHAT, WORKSPACE } from "../support/demo.ts";
import { FakeLine, lineGroupId, lineMessageEvent, lineUserId, lineWebhookBody, signLine } from "../support/fakes/line.ts";
import { connect } from "../support/rooms.ts";
import { ID, useTestServer, waitFor } from "../support/server.ts";

/**
 * LINE end to end: webhooks signed as LINE signs them, posted over real HTTP to the real server
 * (PGlite, or PostgreSQL with DATABASE_URL), stored through intake and applied by the rooms; the
 * profile read from the fake Messaging API.
 */

const app = useTestServer();
const SECRET = "line-secret-0123456789abcdef";
const TOKEN = "line-token-abcdef";
let fake: FakeLine;
let channelId: string;
let disabledId: string;

async function lineAccount(status: "active" | "disabled"): Promise<string> {
  const db = app.database.db;
  const id = `line-${randomUUID()}`;
  await insertChannelAccount(db, {
    id,
    workspaceId: WORKSPACE,
    type: "line",
    name: `LINE ${status}`,
    settings: {},
    secretsEnc: encryptSecrets(secretsKeyOf(db), { channelSecret: SECRET, channelAccessToken: TOKEN }),
    secretHash: null,
  });
  if (status === "disabled") await updateChannelAccount(db, WORKSPACE, id, { status: "disabled" }, new Date());
  return id;
}

beforeAll(async () => {
  fake = await FakeLine.start([TOKEN]);
  useLineApiBaseUrl(fake.url);
  channelId = await lineAccount("active");
  disabledId = await lineAccount("disabled");
});
afterAll(() => fake.stop());
afterEach(async () => {
  await app.intake.idle();
  expect(fake.violations()).toEqual([]);
});

/** POSTs a body to the LINE webhook over HTTP; signed with the channel secret unless `signature` says otherwise. */
async function post(body: string, opts: { signature?: string | null; channel?: string; contentType?: string } = {}) {
  const signature = opts.signature === undefined ? signLine(body, SECRET) : opts.signature;
  const res = await fetch(`${app.url}/webhooks/line/${opts.channel ?? channelId}`, {
    method: "POST",
    headers: {
      "content-type": opts.contentType ?? "application/json; charset=utf-8",
      ...(signature !== null ? { "x-line-signature": signature } : {}),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const rows = channelRows(app);
const storedEvents = (channel = channelId) => rows.storedEvents(channel);
const customerOf = (userId: string) => rows.customerOf("line", userId);
const { conversationsOf, messagesOf } = rows;
/** The customer messages of a LINE user's (only) conversation, once processed. */
const customerMessages = (userId: string) => rows.customerMessages("line", userId);

function textEvent(userId: string, text: string, over: Partial<Parameters<typeof lineMessageEvent>[0]> = {}) {
  return lineMessageEvent({ userId, message: { id: String(Math.floor(Math.random() * 1e15)), type: "text", text }, ...over });
}

describe("POST /webhooks/line/:channelId", () => {
  it("a correctly signed webhook is stored once and the customer's message appears in the conversation's room, named from the LINE profile", async () => {
    forgetProfiles();
    const alice = lineUserId("alice-1");
    fake.setProfile(alice, { displayName: "Alice Chen", pictureUrl: "https://profile.line-scdn.net/alice" });
    const event = textEvent(alice, "My order has not arrived 📦");
    const r = await post(lineWebhookBody([event]));
    expect(r).toEqual({ status: 200, body: { ok: true, stored: 1, duplicates: 0, ignored: 0 } });

    const events = (await storedEvents()).filter((e) => e.providerEventId === event.webhookEventId);
    expect(events).toHaveLength(1);
    const { customer, conversations, messages } = await customerMessages(alice);
    expect(customer).toMatchObject({
      displayName: "Alice Chen",
      pictureUrl: "https://profile.line-scdn.net/alice",
      workspaceId: WORKSPACE,
    });
    expect(conversations).toHaveLength(1);
    expect(conversations[0]).toMatchObject({ channel: "line", channelId, kind: "direct", status: "pending" });
    expect(messages.map((m) => m.body)).toEqual(["My order has not arrived 📦"]);
    expect(fake.requests.some((q) => q.path === `/v2/bot/profile/${alice}`)).toBe(true);

    const admin = await connect(app, "admin", conversations[0]!.id, "team");
    await waitFor(() => admin.state.messages.length > 0);
    const last = admin.state.messages.at(-1);
    expect({ sender: last.sender, body: last.body, senderName: last.senderName }).toEqual({
      sender: "customer",
      body: "My order has not arrived 📦",
      senderName: "Alice Chen",
    });
  });

  it("a wrong signature, a missing one and a body changed after signing are refused 401, and nothing is stored", async () => {
    const mallory = lineUserId("mallory");
    const body = lineWebhookBody([textEvent(mallory, "transfer the money")]);
    const before = (await storedEvents()).length;
    const wrong = await post(body, { signature: signLine(body, "not-the-secret") });
    const missing = await post(body, { signature: null });
    const changed = await post(body.replace("transfer the money", "transfer the honey"), { signature: signLine(body, SECRET) });
    const garbage = await post(body, { signature: "%%%" });
    for (const r of [wrong, missing, changed, garbage]) expect(r).toMatchObject({ status: 401, body: { code: "UNAUTHENTICATED" } });
    expect((await storedEvents()).length).toBe(before);
    expect(await customerOf(mallory)).toBeUndefined();
  });

  it("the same webhook delivered 3× at once stores one event and one message", async () => {
    const bob = lineUserId("bob-3x");
    const body = lineWebhookBody([textEvent(bob, "hello?")]);
    const answers = await Promise.all([post(body), post(body), post(body)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.reduce((n, a) => n + a.body.stored, 0)).toBe(1);
    expect(answers.reduce((n, a) => n + a.body.duplicates, 0)).toBe(2);
    // …and LINE's redelivery of it later (isRedelivery: true, same webhookEventId) stores nothing either.
    const again = JSON.parse(body);
    again.events[0].deliveryContext.isRedelivery = true;
    expect((await post(JSON.stringify(again))).body).toMatchObject({ stored: 0, duplicates: 1 });
    const { messages } = await customerMessages(bob);
    expect(messages.map((m) => m.body)).toEqual(["hello?"]);
  });

  it("every message event of a batch is stored and lands in order with its parts; other event kinds are acknowledged and ignored", async () => {
    const carol = lineUserId("carol-batch");
    const t = Date.now();
    const events = [
      {
        type: "follow",
        mode: "active",
        timestamp: t,
        source: { type: "user", userId: carol },
        webhookEventId: `F${randomUUID()}`,
        deliveryContext: { isRedelivery: false },
        replyToken: "r",
      },
      lineMessageEvent({ userId: carol, timestamp: t + 1, message: { id: "m1", type: "text", text: "first" } }),
      lineMessageEvent({ userId: carol, timestamp: t + 2, message: { id: "m2", type: "image", contentProvider: { type: "line" } } }),
      {
        type: "postback",
        mode: "active",
        timestamp: t + 3,
        source: { type: "user", userId: carol },
        webhookEventId: `P${randomUUID()}`,
        deliveryContext: { isRedelivery: false },
        postback: { data: "a=1" },
      },
      lineMessageEvent({ userId: carol, timestamp: t + 4, message: { id: "m3", type: "sticker", packageId: "446", stickerId: "1988" } }),
      lineMessageEvent({
        userId: carol,
        timestamp: t + 5,
        message: { id: "m4", type: "location", title: "Taipei 101", address: "Xinyi", latitude: 25.034, longitude: 121.5645 },
      }),
      lineMessageEvent({ userId: carol, timestamp: t + 6, message: { id: "m5", type: "file", fileName: "receipt.pdf", fileSize: 1234 } }),
    ];
    const r = await post(lineWebhookBody(events));
    expect(r).toEqual({ status: 200, body: { ok: true, stored: 5, duplicates: 0, ignored: 2 } });
    const { conversations, messages } = await customerMessages(carol);
    expect(conversations).toHaveLength(1);
    expect(messages.map((m) => m.body)).toEqual(["first", "[image]", "[sticker]", "[location] Taipei 101", "[file] receipt.pdf"]);
    expect(messages.map((m) => m.parts)).toEqual([
      null,
      [{ type: "image", ref: "m2" }],
      [{ type: "sticker", ref: "446/1988" }],
      [{ type: "location", latitude: 25.034, longitude: 121.5645, title: "Taipei 101", address: "Xinyi" }],
      [{ type: "file", ref: "m5", name: "receipt.pdf" }],
    ]);
  });

  it("a body of only unhandled event kinds (and LINE's console verification) is acknowledged 200 with nothing stored", async () => {
    const dave = lineUserId("dave-unfollow");
    const before = (await storedEvents()).length;
    const unfollow = {
      type: "unfollow",
      mode: "active",
      timestamp: Date.now(),
      source: { type: "user", userId: dave },
      webhookEventId: "U1",
      deliveryContext: { isRedelivery: false },
    };
    const join = {
      type: "memberJoined",
      mode: "active",
      timestamp: Date.now(),
      source: { type: "group", groupId: lineGroupId("x") },
      webhookEventId: "J1",
      deliveryContext: { isRedelivery: false },
    };
    expect(await post(lineWebhookBody([unfollow, join]))).toEqual({
      status: 200,
      body: { ok: true, stored: 0, duplicates: 0, ignored: 2 },
    });
    expect(await post(lineWebhookBody([]))).toEqual({ status: 200, body: { ok: true, stored: 0, duplicates: 0, ignored: 0 } });
    expect((await storedEvents()).length).toBe(before);
    expect(await customerOf(dave)).toBeUndefined();
  });

  it("a disabled channel, an unknown one and another type's channel answer 404 NOT_FOUND, nothing stored", async () => {
    const body = lineWebhookBody([textEvent(lineUserId("erin"), "hi")]);
    expect(await post(body, { channel: disabledId })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await post(body, { channel: "no-such-channel" })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await post(body, { channel: WEBCHAT.channelId })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await storedEvents(disabledId)).toHaveLength(0);
    expect(await customerOf(lineUserId("erin"))).toBeUndefined();
  });

  it("an oversized body is 413 PAYLOAD_TOO_LARGE, malformed JSON and unstorable text 400 INVALID_PAYLOAD, nothing stored, and the server keeps serving", async () => {
    const frank = lineUserId("frank-bad");
    const before = (await storedEvents()).length;
    const big = lineWebhookBody([textEvent(frank, "x".repeat(70 * 1024))]);
    expect(await post(big)).toMatchObject({ status: 413, body: { code: "PAYLOAD_TOO_LARGE" } });
    expect(await post('{"destination":"x","events":[')).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    const nul = lineWebhookBody([textEvent(frank, "a\u0000b")]);
    expect(nul).toContain("\\u0000");
    expect(await post(nul)).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    expect(await post(nul, { contentType: "text/plain" })).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    const notLine = JSON.stringify({ destination: "x", events: [{ ...textEvent(frank, "x"), message: { id: "1", type: "text" } }] });
    expect(await post(notLine)).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    expect((await storedEvents()).length).toBe(before);
    expect(await customerOf(frank)).toBeUndefined();
    expect((await post(lineWebhookBody([textEvent(frank, "still here")]))).status).toBe(200);
  });

  it("20 concurrent first messages from a new contact land in one conversation, all 20 in it", async () => {
    const gina = lineUserId("gina-burst");
    const bodies = Array.from({ length: 20 }, (_, i) => lineWebhookBody([textEvent(gina, `burst ${i}`)]));
    const answers = await Promise.all(bodies.map((b) => post(b)));
    expect(answers.every((a) => a.status === 200 && a.body.stored === 1)).toBe(true);
    const { conversations, messages } = await customerMessages(gina);
    expect(conversations).toHaveLength(1);
    expect(messages.map((m) => m.body).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `burst ${i}`).sort());
  });

  it("[R2.2] a LINE group with three customers is one group conversation whose messages name their writers", async () => {
    forgetProfiles();
    const group = lineGroupId("family");
    const users = ["hana", "ivan", "jo"].map((n) => lineUserId(`grp-${n}`));
    for (const [i, u] of users.entries()) fake.setProfile(u, { displayName: ["Hana", "Ivan", "Jo"][i]! });
    const r = await post(
      lineWebhookBody(
        users.map((u, i) => lineMessageEvent({ userId: u, groupId: group, message: { id: `g${i}`, type: "text", text: `from ${i}` } })),
      ),
    );
    expect(r.body).toMatchObject({ stored: 3 });
    await app.intake.idle();
    const customers = await Promise.all(users.map(customerOf));
    expect(customers.map((c) => c?.displayName)).toEqual(["Hana", "Ivan", "Jo"]);
    const groupCustomer = await customerOf(`group:${group}`);
    const conversations = await conversationsOf([groupCustomer!.id]);
    expect(conversations).toHaveLength(1);
    expect(conversations[0]).toMatchObject({ kind: "group", channel: "line" });
    const messages = (await messagesOf(conversations[0]!.id)).filter((m) => m.sender === "customer");
    expect(messages.map((m) => [m.senderId, m.body])).toEqual(customers.map((c, i) => [c!.id, `from ${i}`]));
    expect(fake.requests.filter((q) => q.path.startsWith(`/v2/bot/group/${group}/member/`))).toHaveLength(3);
  });

  it("a profile LINE cannot give does not hold the webhook: stored, and the customer is named by intake", async () => {
    forgetProfiles();
    const kim = lineUserId("kim-noprofile");
    fake.fail("profile", { status: 500 });
    expect((await post(lineWebhookBody([textEvent(kim, "anyone?")]))).status).toBe(200);
    const { customer, messages } = await customerMessages(kim);
    expect(customer?.displayName).toBeTruthy();
    expect(messages.map((m) => m.body)).toEqual(["anyone?"]);
  });
  it("the whole loop: a LINE customer writes, a supervisor assigns it to an agent who replies, the reply is pushed to that LINE user and ends sent; the customer's next message lands in the same conversation", async () => {
    const lena = lineUserId("lena-loop");
    fake.setProfile(lena, { displayName: "Lena" });
    expect((await post(lineWebhookBody([textEvent(lena, "Can I change my address?")]))).status).toBe(200);
    const { conversations } = await customerMessages(lena);
    const conversationId = conversations[0]!.id;
    // A team viewer assigns the pending conversation (R4.2: it cannot be joined), then the agent replies.
    const supervisor = await connect(app, "supervisor", conversationId, "team");
    expect(await supervisor.act("transfer", { memberId: ID.agent })).toMatchObject({ ok: true });
    const agent = await connect(app, "agent", conversationId);
    const reply = await agent.act("reply", { text: "Yes — which address? 🙂" });
    expect(reply).toMatchObject({ ok: true });
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "sent");
    const pushes = fake.pushes.filter((p) => p.to === lena);
    expect(pushes.map((p) => p.texts)).toEqual([["Yes — which address? 🙂"]]);
    expect(
      fake.requests.find((q) => q.path === "/v2/bot/message/push" && (q.body as { to: string }).to === lena)?.headers.authorization,
    ).toBe(`Bearer ${TOKEN}`);

    expect((await post(lineWebhookBody([textEvent(lena, "12 Main St")]))).status).toBe(200);
    const after = await customerMessages(lena);
    expect(after.conversations.map((c) => c.id)).toEqual([conversationId]);
    expect(after.messages.map((m) => m.body)).toEqual(["Can I change my address?", "12 Main St"]);
  });
});
