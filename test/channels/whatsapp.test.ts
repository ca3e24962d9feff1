import { randomUUID } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { insertChannelAccount, updateChannelAccount } from "../../db/channels.ts";
import * as s from "../../db/schema.ts";
import { useMetaGraphBaseUrl } from "../../server/channels/meta/client.ts";
import { encryptSecrets, secretsKeyOf } from "../../server/channels/secrets.ts";
import type { ChannelAccount } from "../../server/channels/types.ts";
import { WhatsAppSender } from "../../server/channels/whatsapp/outbound.ts";
import { channelRows } from "../support/channelRows.ts";
import { WEBCHAT, WORKSPACE } from "../support/demo.ts";
import { FakeWhatsApp, signWhatsApp, waStatus, waTextMessage, waWebhookBody } from "../support/fakes/whatsapp.ts";
import { connect } from "../support/rooms.ts";
import { ID, useTestServer, waitFor } from "../support/server.ts";

/**
 * WhatsApp Cloud API end to end: webhooks signed as Meta signs them, posted over real HTTP to the
 * real server (PGlite, or PostgreSQL with DATABASE_URL), stored through intake and applied by the
 * rooms; replies sent by the delivery worker to the fake Cloud API, and its status callbacks back.
 */

const app = useTestServer();
const APP_SECRET = "wa-app-secret-0123456789";
const TOKEN = "wa-access-token-abcdef";
const VERIFY = "wa-verify-token-xyz";
const PHONE_NUMBER_ID = "106540352242922";
let fake: FakeWhatsApp;
let channelId: string;
let disabledId: string;

async function whatsAppAccount(status: "active" | "disabled"): Promise<string> {
  const db = app.database.db;
  const id = `wa-${randomUUID()}`;
  await insertChannelAccount(db, {
    id,
    workspaceId: WORKSPACE,
    type: "whatsapp",
    name: `WhatsApp ${status}`,
    settings: { phoneNumberId: PHONE_NUMBER_ID },
    secretsEnc: encryptSecrets(secretsKeyOf(db), { appSecret: APP_SECRET, accessToken: TOKEN, verifyToken: VERIFY }),
    secretHash: null,
  });
  if (status === "disabled") await updateChannelAccount(db, WORKSPACE, id, { status: "disabled" }, new Date());
  return id;
}

beforeAll(async () => {
  fake = await FakeWhatsApp.start([TOKEN]);
  useMetaGraphBaseUrl(fake.url);
  channelId = await whatsAppAccount("active");
  disabledId = await whatsAppAccount("disabled");
});
afterAll(() => fake.stop());
afterEach(async () => {
  await app.intake.idle();
  expect(fake.violations()).toEqual([]);
});

/** POSTs a body to the WhatsApp webhook over HTTP; signed with the app secret unless `signature` says otherwise. */
async function post(body: string, opts: { signature?: string | null; channel?: string } = {}) {
  const signature = opts.signature === undefined ? signWhatsApp(body, APP_SECRET) : opts.signature;
  const res = await fetch(`${app.url}/webhooks/whatsapp/${opts.channel ?? channelId}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(signature !== null ? { "x-hub-signature-256": signature } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const db = () => app.database.db;
let counter = 0;
const wamid = () => `wamid.HBgL${randomUUID().replaceAll("-", "").toUpperCase()}${++counter}`;
/** A wa_id (digits) from a number. */
const waId = (n: number) => `4915${String(n).padStart(9, "0")}`;

const rows = channelRows(app);
const storedEvents = (channel = channelId) => rows.storedEvents(channel);
const customerOf = (userId: string) => rows.customerOf("whatsapp", userId);
const { conversationsOf, messagesOf } = rows;
/** The customer messages of a wa_id's (only) conversation, once processed. */
const customerMessages = (userId: string) => rows.customerMessages("whatsapp", userId);

/** A one-message webhook body from `from`. */
function textBody(from: string, text: string, name = "Someone") {
  return waWebhookBody(PHONE_NUMBER_ID, [{ contacts: [{ wa_id: from, name }], messages: [waTextMessage({ wamid: wamid(), from, text })] }]);
}

describe("GET /webhooks/whatsapp/:channelId (Meta's verification handshake)", () => {
  const get = (query: Record<string, string>, channel = channelId) =>
    fetch(`${app.url}/webhooks/whatsapp/${channel}?${new URLSearchParams(query)}`);

  it("echoes hub.challenge for hub.mode=subscribe with the right verify token; a wrong or missing token is 403; a disabled channel 404", async () => {
    const ok = await get({ "hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444" });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("1158201444");
    const wrong = await get({ "hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1" });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { code: string }).code).toBe("UNAUTHENTICATED");
    expect((await get({ "hub.mode": "subscribe", "hub.challenge": "1" })).status).toBe(403);
    expect((await get({ "hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1" })).status).toBe(403);
    expect((await get({ "hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1" }, disabledId)).status).toBe(404);
  });
});

describe("POST /webhooks/whatsapp/:channelId", () => {
  it("a signed webhook with two messages and a status (in two changes) stores both messages once, in order, named from contacts", async () => {
    const from = waId(1);
    const [m1, m2] = [wamid(), wamid()];
    const t = Math.floor(Date.now() / 1000);
    const body = waWebhookBody(PHONE_NUMBER_ID, [
      {
        contacts: [{ wa_id: from, name: "Maria Souza" }],
        messages: [
          waTextMessage({ wamid: m1, from, text: "Olá, my parcel?", timestamp: t }),
          { from, id: m2, timestamp: String(t + 1), type: "image", image: { id: "media-77", mime_type: "image/jpeg", caption: "the box" } },
          { from, id: wamid(), timestamp: String(t + 2), type: "reaction", reaction: { message_id: m1, emoji: "👍" } },
        ],
      },
      // A status for a message nobody sent here: stored as an event (its report finds no message).
      { statuses: [waStatus({ wamid: "wamid.UNKNOWN", status: "delivered", recipient: from })] },
    ]);
    const r = await post(body);
    expect(r).toEqual({ status: 200, body: { ok: true, stored: 3, duplicates: 0, ignored: 1 } });
    expect((await post(body)).body).toMatchObject({ stored: 0, duplicates: 3 });
    const ids = (await storedEvents()).map((e) => e.providerEventId);
    expect(ids.filter((id) => id === m1 || id === m2 || id === "wamid.UNKNOWN:delivered")).toEqual([m1, m2, "wamid.UNKNOWN:delivered"]);
    const { customer, conversations, messages } = await customerMessages(from);
    expect(customer).toMatchObject({ displayName: "Maria Souza", workspaceId: WORKSPACE });
    expect(conversations).toHaveLength(1);
    expect(conversations[0]).toMatchObject({ channel: "whatsapp", channelId, kind: "direct", status: "pending" });
    expect(messages).toHaveLength(2);
    expect(messages[0]!.body).toBe("Olá, my parcel?");
    expect(messages[1]!.body).toContain("the box");
    expect(messages[1]!.parts).toEqual([
      { type: "image", ref: "media-77" },
      { type: "text", text: "the box" },
    ]);
  });

  it("a wrong signature, a missing one and a body changed after signing are refused 401, and nothing is stored", async () => {
    const mallory = waId(666);
    const body = textBody(mallory, "transfer the money");
    const before = (await storedEvents()).length;
    const answers = [
      await post(body, { signature: signWhatsApp(body, "not-the-secret") }),
      await post(body, { signature: null }),
      await post(body.replace("transfer the money", "transfer the honey"), { signature: signWhatsApp(body, APP_SECRET) }),
      await post(body, { signature: signWhatsApp(body, APP_SECRET).replace("sha256=", "sha1=") }),
    ];
    for (const a of answers) expect(a).toMatchObject({ status: 401, body: { code: "UNAUTHENTICATED" } });
    expect((await storedEvents()).length).toBe(before);
    expect(await customerOf(mallory)).toBeUndefined();
  });

  it("the same webhook delivered 3× at once stores one event and one message", async () => {
    const bob = waId(3);
    const body = textBody(bob, "hello?");
    const answers = await Promise.all([post(body), post(body), post(body)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.reduce((n, a) => n + a.body.stored, 0)).toBe(1);
    expect(answers.reduce((n, a) => n + a.body.duplicates, 0)).toBe(2);
    const { messages } = await customerMessages(bob);
    expect(messages.map((m) => m.body)).toEqual(["hello?"]);
  });

  it("unknown fields and kinds are acknowledged 200 with nothing stored; a disabled, unknown or other-type channel is 404; malformed bodies 400", async () => {
    const dave = waId(4);
    const before = (await storedEvents()).length;
    const other = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [{ id: "1", changes: [{ field: "account_update", value: { event: "VERIFIED_ACCOUNT" } }] }],
    });
    expect(await post(other)).toEqual({ status: 200, body: { ok: true, stored: 0, duplicates: 0, ignored: 1 } });
    const sentOnly = waWebhookBody(PHONE_NUMBER_ID, [{ statuses: [waStatus({ wamid: wamid(), status: "sent", recipient: dave })] }]);
    expect(await post(sentOnly)).toEqual({ status: 200, body: { ok: true, stored: 0, duplicates: 0, ignored: 1 } });
    const body = textBody(dave, "hi");
    expect(await post(body, { channel: disabledId })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await post(body, { channel: "no-such-channel" })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await post(body, { channel: WEBCHAT.channelId })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await post('{"object":"whatsapp_business_account","entry":[')).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    const noBody = waWebhookBody(PHONE_NUMBER_ID, [{ messages: [{ from: dave, id: wamid(), timestamp: "1", type: "text", text: {} }] }]);
    expect(await post(noBody)).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    expect((await storedEvents()).length).toBe(before);
    expect(await customerOf(dave)).toBeUndefined();
  });

  it("20 concurrent first messages from a new contact land in one conversation, all 20 in it", async () => {
    const gina = waId(7);
    const bodies = Array.from({ length: 20 }, (_, i) => textBody(gina, `burst ${i}`, "Gina"));
    const answers = await Promise.all(bodies.map((b) => post(b)));
    expect(answers.every((a) => a.status === 200 && a.body.stored === 1)).toBe(true);
    const { conversations, messages } = await customerMessages(gina);
    expect(conversations).toHaveLength(1);
    expect(messages.map((m) => m.body).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `burst ${i}`).sort());
  });

  it("an oversized body is 413 PAYLOAD_TOO_LARGE with nothing stored, and the server keeps serving", async () => {
    const hugo = waId(8);
    const before = (await storedEvents()).length;
    expect(await post(textBody(hugo, "x".repeat(70 * 1024)))).toMatchObject({ status: 413, body: { code: "PAYLOAD_TOO_LARGE" } });
    expect((await storedEvents()).length).toBe(before);
    expect(await customerOf(hugo)).toBeUndefined();
    expect((await post(textBody(hugo, "still here"))).status).toBe(200);
  });

  it("[R2.2] a WhatsApp group with three writers is one group conversation whose messages name their writers", async () => {
    const group = "120363041234567890";
    const writers = [waId(21), waId(22), waId(23)];
    const names = ["Ana", "Bruno", "Carla"];
    // Two webhooks: the first carries two writers' messages, the second the third's.
    const first = waWebhookBody(PHONE_NUMBER_ID, [
      {
        contacts: writers.slice(0, 2).map((w, i) => ({ wa_id: w, name: names[i]! })),
        messages: writers.slice(0, 2).map((w, i) => waTextMessage({ wamid: wamid(), from: w, text: `from ${i}`, groupId: group })),
      },
    ]);
    const second = waWebhookBody(PHONE_NUMBER_ID, [
      {
        contacts: [{ wa_id: writers[2]!, name: names[2]! }],
        messages: [waTextMessage({ wamid: wamid(), from: writers[2]!, text: "from 2", groupId: group })],
      },
    ]);
    expect((await post(first)).body).toMatchObject({ stored: 2 });
    expect((await post(second)).body).toMatchObject({ stored: 1 });
    await app.intake.idle();
    const customers = await Promise.all(writers.map(customerOf));
    expect(customers.map((c) => c?.displayName)).toEqual(names);
    const groupCustomer = await customerOf(`group:${group}`);
    const conversations = await conversationsOf([groupCustomer!.id]);
    expect(conversations).toHaveLength(1);
    expect(conversations[0]).toMatchObject({ kind: "group", channel: "whatsapp" });
    const messages = (await messagesOf(conversations[0]!.id)).filter((m) => m.sender === "customer");
    expect(messages.map((m) => [m.senderId, m.body])).toEqual(customers.map((c, i) => [c!.id, `from ${i}`]));
    // Nobody wrote 1-on-1: no direct conversation for the writers.
    expect(await conversationsOf(customers.map((c) => c!.id))).toHaveLength(0);
  });
});

describe("WhatsApp replies and status callbacks", () => {
  /** A customer's first message, and the conversation assigned to the agent (who then replies). */
  async function openConversation(from: string, text: string) {
    expect((await post(textBody(from, text, "Customer"))).status).toBe(200);
    const { conversations } = await customerMessages(from);
    const conversationId = conversations[0]!.id;
    const supervisor = await connect(app, "supervisor", conversationId, "team");
    expect(await supervisor.act("transfer", { memberId: ID.agent })).toMatchObject({ ok: true });
    return { conversationId, agent: await connect(app, "agent", conversationId) };
  }

  async function stored(conversationId: string, seq: number) {
    const rows = await db()
      .select()
      .from(s.messages)
      .where(and(eq(s.messages.conversationId, conversationId), eq(s.messages.seq, seq)));
    return rows[0]!;
  }

  it("a staff reply reaches the fake and ends sent with its wamid; delivered then read moves it to read; a late delivered changes nothing", async () => {
    const from = waId(31);
    const { conversationId, agent } = await openConversation(from, "Is it in stock?");
    const reply = await agent.act("reply", { text: "Yes — 3 left 🙂" });
    expect(reply).toMatchObject({ ok: true });
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "sent");
    const sends = fake.sends.filter((x) => x.to === from);
    expect(sends.map((x) => [x.phoneNumberId, x.recipientType, x.text])).toEqual([[PHONE_NUMBER_ID, "individual", "Yes — 3 left 🙂"]]);
    expect(fake.requests.find((q) => (q.body as { to?: string })?.to === from)?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const wamidSent = sends[0]!.wamid;
    expect((await stored(conversationId, reply.seq as number)).providerMessageId).toBe(wamidSent);

    const statuses = (st: "delivered" | "read") =>
      waWebhookBody(PHONE_NUMBER_ID, [{ statuses: [waStatus({ wamid: wamidSent, status: st, recipient: from })] }]);
    // delivered and read in one body, as two changes
    const both = waWebhookBody(PHONE_NUMBER_ID, [
      { statuses: [waStatus({ wamid: wamidSent, status: "delivered", recipient: from })] },
      { statuses: [waStatus({ wamid: wamidSent, status: "read", recipient: from })] },
    ]);
    expect((await post(both)).body).toMatchObject({ stored: 2 });
    await app.intake.idle();
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "read");
    expect((await stored(conversationId, reply.seq as number)).deliveryStatus).toBe("read");

    // Meta's late re-delivery of `delivered` is the same event (wamid:delivered): stored nothing, and read stays read.
    expect((await post(statuses("delivered"))).body).toMatchObject({ stored: 0, duplicates: 1 });
    await app.intake.idle();
    expect((await stored(conversationId, reply.seq as number)).deliveryStatus).toBe("read");
    expect(agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery).toBe("read");
  });

  it("a read that overtakes its delivered: a later delivered (a new event) leaves it read; a failed callback fails a sent reply with its code; statuses of every entry count", async () => {
    const from = waId(32);
    const { conversationId, agent } = await openConversation(from, "two questions");
    const first = await agent.act("reply", { text: "answer one" });
    const second = await agent.act("reply", { text: "answer two" });
    const delivery = (seq: number) => agent.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery;
    await waitFor(() => delivery(first.seq as number) === "sent" && delivery(second.seq as number) === "sent");
    const [w1, w2] = fake.sends.filter((x) => x.to === from).map((x) => x.wamid);
    // Two entries in one body: the second entry's change must be processed too.
    const entryOf = (body: string) => (JSON.parse(body) as { entry: unknown[] }).entry[0];
    const body = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [
        entryOf(waWebhookBody(PHONE_NUMBER_ID, [{ statuses: [waStatus({ wamid: w1!, status: "read", recipient: from })] }])),
        entryOf(
          waWebhookBody(PHONE_NUMBER_ID, [{ statuses: [waStatus({ wamid: w2!, status: "failed", recipient: from, errorCode: 131026 })] }]),
        ),
      ],
    });
    expect((await post(body)).body).toMatchObject({ stored: 2 });
    await app.intake.idle();
    await waitFor(() => delivery(first.seq as number) === "read" && delivery(second.seq as number) === "failed");
    const late = waWebhookBody(PHONE_NUMBER_ID, [{ statuses: [waStatus({ wamid: w1!, status: "delivered", recipient: from })] }]);
    expect((await post(late)).body).toMatchObject({ stored: 1 });
    await app.intake.idle();
    expect((await stored(conversationId, first.seq as number)).deliveryStatus).toBe("read");
    expect(await stored(conversationId, second.seq as number)).toMatchObject({
      deliveryStatus: "failed",
      deliveryCode: "WHATSAPP_UNDELIVERABLE",
    });
    expect((await stored(conversationId, second.seq as number)).deliveryReason).toContain("131026");
  });

  it("a group reply goes out with recipient_type group to the group id", async () => {
    const group = "120363049999999999";
    const writer = waId(41);
    const body = waWebhookBody(PHONE_NUMBER_ID, [
      {
        contacts: [{ wa_id: writer, name: "Gabi" }],
        messages: [waTextMessage({ wamid: wamid(), from: writer, text: "team question", groupId: group })],
      },
    ]);
    expect((await post(body)).status).toBe(200);
    await app.intake.idle();
    const conversationId = (await conversationsOf([(await customerOf(`group:${group}`))!.id]))[0]!.id;
    const supervisor = await connect(app, "supervisor", conversationId, "team");
    expect(await supervisor.act("transfer", { memberId: ID.agent })).toMatchObject({ ok: true });
    const agent = await connect(app, "agent", conversationId);
    const reply = await agent.act("reply", { text: "Hello all" });
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "sent");
    expect(fake.sends.filter((x) => x.to === group).map((x) => [x.recipientType, x.text])).toEqual([["group", "Hello all"]]);
  });

  it("131047 (24-hour window closed) fails the reply at once with WHATSAPP_WINDOW_CLOSED and Meta's reason", async () => {
    const from = waId(51);
    const { conversationId, agent } = await openConversation(from, "hi");
    const before = fake.requests.length;
    fake.fail({ metaCode: 131047 });
    const reply = await agent.act("reply", { text: "Sorry for the delay" });
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "failed");
    const row = await stored(conversationId, reply.seq as number);
    expect(row).toMatchObject({ deliveryStatus: "failed", deliveryCode: "WHATSAPP_WINDOW_CLOSED" });
    expect(row.deliveryReason).toContain("Re-engagement message");
    expect(fake.requests.length - before).toBe(1); // permanent: no retry
    expect(fake.sends.filter((x) => x.to === from)).toHaveLength(0);
  });
});

describe("WhatsAppSender: Meta's answers as delivery results", () => {
  const account: ChannelAccount = {
    id: "wa-unit",
    workspaceId: WORKSPACE,
    type: "whatsapp",
    status: "active",
    settings: { phoneNumberId: PHONE_NUMBER_ID },
    secrets: { appSecret: APP_SECRET, accessToken: TOKEN, verifyToken: VERIFY },
  };
  const message = { conversationId: "c-unit", seq: 1, retryKey: "k", recipient: waId(61), text: "hello" };
  const sender = () => new WhatsAppSender({ apiBaseUrl: fake.url, version: "v21.0", timeoutMs: 3000 }); // a loaded machine must not turn answers into timeouts

  it("2xx is sent with the wamid; each documented Meta error maps to its stable code, permanent or transient", async () => {
    expect(await sender().send(account, message)).toEqual({ ok: true, providerMessageId: fake.sends.at(-1)!.wamid });
    const cases: [Parameters<FakeWhatsApp["fail"]>[0], { transient: boolean; code: string; retryAfterMs?: number }][] = [
      [{ metaCode: 131047 }, { transient: false, code: "WHATSAPP_WINDOW_CLOSED" }],
      [{ metaCode: 131026 }, { transient: false, code: "WHATSAPP_UNDELIVERABLE" }],
      [{ metaCode: 190 }, { transient: false, code: "META_TOKEN_INVALID" }],
      [
        { metaCode: 130429, retryAfter: "7" },
        { transient: true, code: "WHATSAPP_RATE_LIMITED", retryAfterMs: 7000 },
      ],
      [
        { metaCode: 131056, status: 400 },
        { transient: true, code: "WHATSAPP_RATE_LIMITED" },
      ],
      [{ metaCode: 4 }, { transient: true, code: "WHATSAPP_RATE_LIMITED" }],
      [{ metaCode: 80007 }, { transient: true, code: "WHATSAPP_RATE_LIMITED" }],
      [{ status: 503 }, { transient: true, code: "WHATSAPP_UNAVAILABLE" }],
      [{ timeout: true }, { transient: true, code: "WHATSAPP_TIMEOUT" }],
    ];
    for (const [failure, expected] of cases) {
      fake.fail(failure);
      const result = await sender().send(account, message);
      expect({ failure, result }).toMatchObject({ failure, result: { ok: false, ...expected } });
      if (!expected.retryAfterMs) expect(result).not.toHaveProperty("retryAfterMs");
    }
    const down = await new WhatsAppSender({ apiBaseUrl: "http://127.0.0.1:1", timeoutMs: 300 }).send(account, message);
    expect(down).toMatchObject({ ok: false, transient: true, code: "WHATSAPP_NETWORK" });
    const noToken = await sender().send({ ...account, secrets: {} }, message);
    expect(noToken).toMatchObject({ ok: false, transient: false, code: "WHATSAPP_NOT_CONFIGURED" });
  });

  it("a group message goes out with recipient_type group and the group id as `to`; a long text is cut to 4,096 characters", async () => {
    expect(await sender().send(account, { ...message, groupId: "120363040000000001" })).toMatchObject({ ok: true });
    expect(fake.sends.at(-1)).toMatchObject({ recipientType: "group", to: "120363040000000001", text: "hello" });
    expect(await sender().send(account, { ...message, text: "x".repeat(5000) })).toMatchObject({ ok: true });
    expect(fake.sends.at(-1)!.text).toHaveLength(4096);
  });
});
