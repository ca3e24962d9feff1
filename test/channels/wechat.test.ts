import { randomUUID } from "node:crypto";
import { and, asc, eq } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { insertChannelAccount, updateChannelAccount } from "../../db/channels.ts";
import * as s from "../../db/schema.ts";
import { encryptSecrets, secretsKeyOf } from "../../server/channels/secrets.ts";
import type { ChannelAccount } from "../../server/channels/types.ts";
import { useWechatApiBaseUrl, WECHAT_API_DEFAULT_BASE_URL } from "../../server/channels/wechat/client.ts";
import { WechatCryptoError, wechatDecrypt } from "../../server/channels/wechat/crypto.ts";
import { parseWechatXml, toInboundMessage } from "../../server/channels/wechat/inbound.ts";
import { WechatSender } from "../../server/channels/wechat/outbound.ts";
import { isWechatSignatureValid } from "../../server/channels/wechat/signature.ts";
import { dbTokenStore, WechatTokens } from "../../server/channels/wechat/token.ts";
import { WORKSPACE } from "../support/demo.ts";
import { FakeWechat, signWechat, wechatEncodingAESKey, wechatOpenId, wechatSafeMode, wechatXml } from "../support/fakes/wechat.ts";
import { createConversation } from "../support/fixtures.ts";
import { connect } from "../support/rooms.ts";
import { useTestServer, waitFor } from "../support/server.ts";
import { deliveryRow } from "./delivery-support.ts";

/**
 * WeChat Official Account end to end (plaintext mode): webhooks signed as WeChat signs them, posted
 * over real HTTP to the real server (PGlite, or PostgreSQL with DATABASE_URL) and stored through
 * intake; staff replies sent by the server's delivery worker to a local fake of WeChat's API.
 */

const app = useTestServer();
const TOKEN = "wechat-webhook-token";
let fake: FakeWechat;
let channelId: string;
let disabledId: string;
let accounts = 0;

async function wechatAccount(
  status: "active" | "disabled" = "active",
  encodingAESKey?: string,
): Promise<{ id: string; appId: string; appSecret: string }> {
  const db = app.database.db;
  const id = `wechat-${randomUUID()}`;
  const appId = `wx${(++accounts).toString().padStart(16, "0")}`;
  const appSecret = randomUUID().replaceAll("-", "");
  fake.apps.set(appId, appSecret);
  await insertChannelAccount(db, {
    id,
    workspaceId: WORKSPACE,
    type: "wechat",
    name: `WeChat ${status}`,
    settings: {},
    secretsEnc: encryptSecrets(secretsKeyOf(db), { appId, appSecret, token: TOKEN, ...(encodingAESKey ? { encodingAESKey } : {}) }),
    secretHash: null,
  });
  if (status === "disabled") await updateChannelAccount(db, WORKSPACE, id, { status: "disabled" }, new Date());
  return { id, appId, appSecret };
}

beforeAll(async () => {
  fake = await FakeWechat.start();
  useWechatApiBaseUrl(fake.url);
  channelId = (await wechatAccount()).id;
  disabledId = (await wechatAccount("disabled")).id;
});
afterAll(async () => {
  useWechatApiBaseUrl(WECHAT_API_DEFAULT_BASE_URL);
  await fake.stop();
});
afterEach(async () => {
  await app.intake.idle();
  expect(fake.violations()).toEqual([]);
});

const db = () => app.database.db;

/** POSTs XML to the WeChat webhook, the query signed with the account's token unless `query` replaces it. */
async function post(xml: string, opts: { query?: Record<string, string>; channel?: string } = {}) {
  const query = new URLSearchParams(opts.query ?? signWechat(TOKEN));
  const res = await fetch(`${app.url}/webhooks/wechat/${opts.channel ?? channelId}?${query}`, {
    method: "POST",
    headers: { "content-type": "text/xml" },
    body: xml,
  });
  return { status: res.status, text: await res.text() };
}

function textXml(from: string, content: string, msgId = String(6_000_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e15)))) {
  return { msgId, xml: wechatXml({ from, type: "text", fields: { Content: content, MsgId: msgId } }) };
}

async function eventsStored(providerEventId: string) {
  return db()
    .select()
    .from(s.inboundEvents)
    .where(and(eq(s.inboundEvents.channelId, channelId), eq(s.inboundEvents.providerEventId, providerEventId)));
}

async function customerMessages(openId: string) {
  await app.intake.idle();
  const [customer] = await db()
    .select()
    .from(s.customers)
    .where(and(eq(s.customers.channel, "wechat"), eq(s.customers.channelUserId, openId)));
  if (!customer) return { customer, conversations: [], messages: [] };
  const conversations = await db().select().from(s.conversations).where(eq(s.conversations.customerId, customer.id));
  const messages = conversations[0]
    ? (await db().select().from(s.messages).where(eq(s.messages.conversationId, conversations[0].id)).orderBy(asc(s.messages.seq))).filter(
        (m) => m.sender === "customer",
      )
    : [];
  return { customer, conversations, messages };
}

describe("WeChat signature and XML (server/channels/wechat)", () => {
  it("the signature is the hex SHA-1 of the sorted token, timestamp and nonce; any other value, token or missing part is refused", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }), fc.string({ minLength: 1, maxLength: 20 }), (timestamp, nonce) => {
        const q = signWechat(TOKEN, { timestamp, nonce });
        expect(isWechatSignatureValid(TOKEN, q)).toBe(true);
        expect(isWechatSignatureValid("other-token", q)).toBe(false);
        expect(isWechatSignatureValid(TOKEN, { ...q, nonce: `${nonce}x` })).toBe(false);
        expect(isWechatSignatureValid(TOKEN, { ...q, signature: q.signature.replace(/^./, (c) => (c === "0" ? "1" : "0")) })).toBe(false);
      }),
      { seed: 42, numRuns: 100 },
    );
    const q = signWechat(TOKEN);
    expect(isWechatSignatureValid(TOKEN, { ...q, signature: undefined })).toBe(false);
    expect(isWechatSignatureValid(TOKEN, { ...q, timestamp: undefined })).toBe(false);
    expect(isWechatSignatureValid(undefined, q)).toBe(false);
  });

  it("each message type becomes its part; MsgId (kept exact, 64-bit) is the provider event id, FromUserName the customer", () => {
    const from = wechatOpenId("parts");
    const parse = (type: string, fields: Record<string, string | number>) => {
      const r = parseWechatXml(wechatXml({ from, type, fields: { ...fields, MsgId: "9223372036854775807" } }));
      if (!r.ok || !("message" in r)) throw new Error(JSON.stringify(r));
      return toInboundMessage(r.message);
    };
    const text = parse("text", { Content: "你好 👋 <b>&amp;" });
    expect(text).toMatchObject({ kind: "message", providerEventId: "9223372036854775807", channelUserId: from });
    expect(text.parts).toEqual([{ type: "text", text: "你好 👋 <b>&amp;" }]);
    expect(parse("image", { PicUrl: "http://mmbiz.qpic.cn/x", MediaId: "M1" }).parts).toEqual([
      { type: "image", ref: "M1", url: "http://mmbiz.qpic.cn/x" },
    ]);
    expect(parse("voice", { MediaId: "M2", Format: "amr" }).parts).toEqual([{ type: "audio", ref: "M2" }]);
    expect(parse("video", { MediaId: "M3", ThumbMediaId: "T" }).parts).toEqual([{ type: "video", ref: "M3" }]);
    expect(parse("shortvideo", { MediaId: "M4", ThumbMediaId: "T" }).parts).toEqual([{ type: "video", ref: "M4" }]);
    expect(parse("location", { Location_X: 25.033, Location_Y: 121.565, Scale: 20, Label: "台北 101" }).parts).toEqual([
      { type: "location", latitude: 25.033, longitude: 121.565, title: "台北 101" },
    ]);
    expect(parse("link", { Title: "Order", Description: "d", Url: "https://x.example/o" }).parts).toEqual([
      { type: "text", text: "Order\nhttps://x.example/o" },
    ]);
  });

  it("events and unknown kinds are ignored; malformed XML, a DOCTYPE, a missing field or unstorable text are refused with issues", () => {
    const from = wechatOpenId("bad");
    expect(parseWechatXml(wechatXml({ from, type: "event", fields: { Event: "subscribe" } }))).toEqual({ ok: true, ignored: "event" });
    expect(parseWechatXml(wechatXml({ from, type: "futurekind", fields: { MsgId: "1" } }))).toEqual({ ok: true, ignored: "futurekind" });
    for (const bad of [
      "<xml><ToUserName>a</ToUserName>",
      "not xml at all",
      "",
      "<other><MsgType>text</MsgType></other>",
      '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><MsgType>text</MsgType><Content>&a;</Content></xml>',
      wechatXml({ from, type: "text", fields: { MsgId: "1" } }),
      wechatXml({ from, type: "text", fields: { Content: "nul \u0000 here", MsgId: "1" } }),
      wechatXml({ from, type: "location", fields: { Location_X: "north", Location_Y: 1, MsgId: "1" } }),
    ]) {
      const r = parseWechatXml(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.issues.length).toBeGreaterThan(0);
    }
  });
});

describe("GET /webhooks/wechat/:channelId (the echostr handshake)", () => {
  it("answers echostr as text when the signature matches, else 401; an unknown or disabled channel 404", async () => {
    const get = (query: Record<string, string>, channel = channelId) =>
      fetch(`${app.url}/webhooks/wechat/${channel}?${new URLSearchParams(query)}`).then(async (r) => ({
        status: r.status,
        text: await r.text(),
        type: r.headers.get("content-type"),
      }));
    const ok = await get({ ...signWechat(TOKEN), echostr: "4216349845397438" });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe("4216349845397438");
    expect(ok.type).toMatch(/^text\/plain/);
    expect((await get({ ...signWechat("wrong-token"), echostr: "1" })).status).toBe(401);
    expect((await get({ echostr: "1" })).status).toBe(401);
    expect((await get({ ...signWechat(TOKEN), echostr: "1" }, disabledId)).status).toBe(404);
    expect((await get({ ...signWechat(TOKEN), echostr: "1" }, "no-such-channel")).status).toBe(404);
  });
});

describe("WeChat safe mode (encrypt_type=aes, server/channels/wechat/crypto.ts)", () => {
  const KEY = wechatEncodingAESKey();
  const APP = "wx0123456789abcdef";

  it("decrypts what WeChat encrypts, any text (4-byte characters included), and refuses another key or another AppID", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (text) => {
        const xml = wechatXml({ from: wechatOpenId("p"), type: "text", fields: { Content: text, MsgId: "1" } });
        const { encrypt } = wechatSafeMode({ token: TOKEN, encodingAESKey: KEY, appId: APP, xml });
        expect(wechatDecrypt(KEY, APP, encrypt)).toBe(xml);
        expect(() => wechatDecrypt(KEY, "wxanotherapp000000", encrypt)).toThrow(WechatCryptoError);
        expect(() => wechatDecrypt(wechatEncodingAESKey(), APP, encrypt)).toThrow(WechatCryptoError);
      }),
      { seed: 7, numRuns: 60 },
    );
    for (const bad of ["", "!!!!", "QUJD", Buffer.alloc(32).toString("base64")])
      expect(() => wechatDecrypt(KEY, APP, bad)).toThrow(WechatCryptoError);
  });

  it("a safe-mode message is checked by msg_signature, decrypted and stored once; compatibility mode reads Encrypt; a forged, altered or foreign one answers 401 and stores nothing", async () => {
    const key = wechatEncodingAESKey();
    const { id, appId } = await wechatAccount("active", key);
    const erin = wechatOpenId("erin-safe");
    const { msgId, xml } = textXml(erin, "加密的訊息 🔐");
    const safe = wechatSafeMode({ token: TOKEN, encodingAESKey: key, appId, xml });
    const forged: { body: string; query: Record<string, string> }[] = [
      { body: safe.body, query: { ...safe.query, msg_signature: "0".repeat(40) } },
      { body: safe.body, query: { ...safe.query, msg_signature: "" } },
      // The Encrypt text changed after signing (one character swapped).
      {
        body: safe.body.replace(
          safe.encrypt,
          `${safe.encrypt.slice(0, 10)}${safe.encrypt[10] === "A" ? "B" : "A"}${safe.encrypt.slice(11)}`,
        ),
        query: safe.query,
      },
      // Signed correctly, but encrypted for another AppID, or with another key.
      wechatSafeMode({ token: TOKEN, encodingAESKey: key, appId: "wxsomeoneelse00000", xml }),
      wechatSafeMode({ token: TOKEN, encodingAESKey: wechatEncodingAESKey(), appId, xml }),
    ];
    for (const f of forged) expect((await post(f.body, { query: f.query, channel: id })).status).toBe(401);
    const missing = await post(xml, { query: safe.query, channel: id });
    expect(missing.status).toBe(400);
    expect(missing.text).toContain("Encrypt");
    const stored = async (eventId: string) =>
      db()
        .select()
        .from(s.inboundEvents)
        .where(and(eq(s.inboundEvents.channelId, id), eq(s.inboundEvents.providerEventId, eventId)));
    expect(await stored(msgId)).toEqual([]);

    for (let i = 0; i < 2; i++) expect(await post(safe.body, { query: safe.query, channel: id })).toEqual({ status: 200, text: "success" });
    expect(await stored(msgId)).toHaveLength(1);
    // Compatibility mode: the plaintext fields next to Encrypt; the encrypted (signed) message is the one read.
    const second = textXml(erin, "相容模式");
    const compat = wechatSafeMode({ token: TOKEN, encodingAESKey: key, appId, xml: second.xml });
    const decoy = textXml(erin, "not this one").xml.replace("</xml>", "");
    expect(await post(`${decoy}<Encrypt><![CDATA[${compat.encrypt}]]></Encrypt></xml>`, { query: compat.query, channel: id })).toEqual({
      status: 200,
      text: "success",
    });
    await app.intake.idle();
    const [customer] = await db()
      .select()
      .from(s.customers)
      .where(and(eq(s.customers.channel, "wechat"), eq(s.customers.channelUserId, erin)));
    const [conversation] = await db()
      .select()
      .from(s.conversations)
      .where(eq(s.conversations.customerId, customer?.id ?? ""));
    const messages = await db()
      .select()
      .from(s.messages)
      .where(eq(s.messages.conversationId, conversation?.id ?? ""))
      .orderBy(asc(s.messages.seq));
    expect(messages.filter((m) => m.sender === "customer").map((m) => m.body)).toEqual(["加密的訊息 🔐", "相容模式"]);
  });
});

describe("POST /webhooks/wechat/:channelId", () => {
  it("a signed text message is stored once, answered `success` after the commit, and lands in a `wechat` conversation", async () => {
    const alice = wechatOpenId("alice");
    const { msgId, xml } = textXml(alice, "我的訂單還沒到 📦");
    expect(await post(xml)).toEqual({ status: 200, text: "success" });
    // `success` came after the commit: the event is there as soon as the answer is.
    expect(await eventsStored(msgId)).toHaveLength(1);
    const { customer, conversations, messages } = await customerMessages(alice);
    expect(customer).toMatchObject({ workspaceId: WORKSPACE, channel: "wechat" });
    expect(conversations).toHaveLength(1);
    expect(conversations[0]).toMatchObject({ channel: "wechat", channelId, kind: "direct", status: "pending" });
    expect(messages.map((m) => m.body)).toEqual(["我的訂單還沒到 📦"]);
  });

  it("a wrong, missing or other account's signature, or a timestamp more than 5 minutes off, answers 401 and stores nothing", async () => {
    const bob = wechatOpenId("bob");
    const { msgId, xml } = textXml(bob, "forged");
    const good = signWechat(TOKEN);
    const forged: Record<string, string>[] = [
      signWechat("another-token"),
      { ...good, signature: "0".repeat(40) },
      { timestamp: good.timestamp, nonce: good.nonce },
      {},
      { ...good, nonce: `${good.nonce}1` },
      // Correctly signed, but 10 minutes old (or ahead): the body is not signed, so an old query could be replayed.
      signWechat(TOKEN, { timestamp: String(Math.floor(Date.now() / 1000) - 600) }),
      signWechat(TOKEN, { timestamp: String(Math.floor(Date.now() / 1000) + 600) }),
    ];
    for (const query of forged) {
      const r = await post(xml, { query });
      expect(r.status).toBe(401);
      expect(JSON.parse(r.text)).toMatchObject({ code: "UNAUTHENTICATED" });
    }
    expect(await eventsStored(msgId)).toEqual([]);
    expect((await customerMessages(bob)).customer).toBeUndefined();
  });

  it("the same MsgId delivered 3 times at once stores one message", async () => {
    const carol = wechatOpenId("carol");
    const { msgId, xml } = textXml(carol, "only once");
    const answers = await Promise.all([1, 2, 3].map(() => post(xml)));
    expect(answers).toEqual([1, 2, 3].map(() => ({ status: 200, text: "success" })));
    expect(await eventsStored(msgId)).toHaveLength(1);
    const { conversations, messages } = await customerMessages(carol);
    expect(conversations).toHaveLength(1);
    expect(messages.map((m) => m.body)).toEqual(["only once"]);
  });

  it("malformed XML, a missing field and safe mode (encrypt_type=aes) on an account without an encodingAESKey answer 400 INVALID_PAYLOAD and store nothing; events are acknowledged and ignored", async () => {
    const dave = wechatOpenId("dave");
    const before = await db().select().from(s.inboundEvents).where(eq(s.inboundEvents.channelId, channelId));
    for (const xml of ["<xml><MsgType>text</MsgType>", "<xml>", wechatXml({ from: dave, type: "text", fields: { MsgId: "77" } })]) {
      const r = await post(xml);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.text)).toMatchObject({ code: "INVALID_PAYLOAD" });
    }
    const aes = await post(textXml(dave, "encrypted?").xml, { query: { ...signWechat(TOKEN), encrypt_type: "aes", msg_signature: "x" } });
    expect(aes.status).toBe(400);
    expect(aes.text).toContain("safe mode");
    expect(await post(wechatXml({ from: dave, type: "event", fields: { Event: "subscribe", EventKey: "" } }))).toEqual({
      status: 200,
      text: "success",
    });
    const after = await db().select().from(s.inboundEvents).where(eq(s.inboundEvents.channelId, channelId));
    expect(after.length).toBe(before.length);
    expect((await customerMessages(dave)).customer).toBeUndefined();
    // The server keeps serving.
    expect((await post(textXml(dave, "still here").xml)).status).toBe(200);
  });

  it("20 concurrent first messages from one new contact land in ONE new conversation, each stored once", async () => {
    const frank = wechatOpenId("frank-burst");
    const bodies = Array.from({ length: 20 }, (_, i) => textXml(frank, `burst ${i}`));
    const answers = await Promise.all(bodies.map((b) => post(b.xml)));
    expect(answers.every((a) => a.status === 200 && a.text === "success")).toBe(true);
    const { conversations, messages } = await customerMessages(frank);
    expect(conversations).toHaveLength(1);
    expect(messages.map((m) => m.body).sort()).toEqual(bodies.map((_, i) => `burst ${i}`).sort());
  });

  it("a disabled or unknown channel answers 404 and stores nothing", async () => {
    const { xml } = textXml(wechatOpenId("erin"), "hello?");
    expect((await post(xml, { channel: disabledId })).status).toBe(404);
    expect((await post(xml, { channel: "no-such-channel" })).status).toBe(404);
    expect((await customerMessages(wechatOpenId("erin"))).customer).toBeUndefined();
  });
});

describe("WeChat outbound (customer-service messages)", () => {
  async function setup() {
    const account = await wechatAccount();
    const f = await createConversation(app, { channel: "wechat" });
    const openId = wechatOpenId(f.id);
    await db().update(s.conversations).set({ channelId: account.id }).where(eq(s.conversations.id, f.id));
    await db().update(s.customers).set({ channelUserId: openId }).where(eq(s.customers.id, f.customerId));
    return { account, conv: f, openId };
  }

  async function reply(conversationId: string, text: string, want: string) {
    const conn = await connect(app, "admin", conversationId);
    const r = await conn.act("reply", { text });
    expect(r.ok).toBe(true);
    const seq = r.seq as number;
    await waitFor(() => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === want);
    return { conn, seq };
  }

  it("a staff reply reaches WeChat with the customer's OpenID and text and ends `sent`; the token is fetched once for two sends", async () => {
    const { account, conv, openId } = await setup();
    const first = await reply(conv.id, "您好，我們正在處理 🙏", "sent");
    const second = await reply(conv.id, "second reply", "sent");
    expect(fake.sends.filter((x) => x.touser === openId).map((x) => x.content)).toEqual(["您好，我們正在處理 🙏", "second reply"]);
    expect(fake.tokenFetches.get(account.appId)).toBe(1);
    // WeChat gives no message id for customer-service messages.
    expect(await deliveryRow(app, conv.id, first.seq)).toMatchObject({ status: "sent", code: null, providerMessageId: null });
    expect(await deliveryRow(app, conv.id, second.seq)).toMatchObject({ status: "sent" });
  });

  it("an expired token (42001) is refetched once and the send retried: the reply is sent", async () => {
    const { account, conv, openId } = await setup();
    await reply(conv.id, "warm the cache", "sent");
    expect(fake.tokenFetches.get(account.appId)).toBe(1);
    fake.expireTokens();
    const before = fake.requests.filter((r) => r.path === "/cgi-bin/message/custom/send").length;
    const { seq } = await reply(conv.id, "after expiry", "sent");
    expect(fake.tokenFetches.get(account.appId)).toBe(2);
    expect(fake.requests.filter((r) => r.path === "/cgi-bin/message/custom/send").length - before).toBe(2);
    expect(fake.sends.filter((x) => x.touser === openId).map((x) => x.content)).toEqual(["warm the cache", "after expiry"]);
    expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "sent" });
  });

  it("45015 (the 48-hour window closed) fails the reply at once with WECHAT_WINDOW_CLOSED and WeChat's reason", async () => {
    const { conv } = await setup();
    await reply(conv.id, "warm the cache", "sent");
    const before = fake.requests.filter((r) => r.path === "/cgi-bin/message/custom/send").length;
    fake.fail({ errcode: 45015, errmsg: "response out of time limit or subscription is canceled" });
    const { conn, seq } = await reply(conv.id, "too late", "failed");
    const item = conn.state.messages.find((m: { seq: number }) => m.seq === seq);
    expect(item.deliveryCode).toBe("WECHAT_WINDOW_CLOSED");
    expect(item.deliveryReason).toContain("45015");
    expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "failed", code: "WECHAT_WINDOW_CLOSED" });
    expect(fake.requests.filter((r) => r.path === "/cgi-bin/message/custom/send").length - before).toBe(1);
  });
});

describe("WeChat sender against the fake API (WechatSender: token and errcode handling)", () => {
  const APP_ID = "wxsender000000001";
  const APP_SECRET = "sender-secret";
  const account = (secret = APP_SECRET): ChannelAccount => ({
    id: `wechat-sender-${secret}`,
    workspaceId: WORKSPACE,
    type: "wechat",
    status: "active",
    settings: {},
    secrets: { appId: APP_ID, appSecret: secret, token: TOKEN },
  });
  const to = wechatOpenId("sender-target");
  const msg = (text: string) => ({ conversationId: "c", seq: 1, retryKey: "k", recipient: to, text });
  const sender = () => new WechatSender({ apiBaseUrl: () => fake.url, tokens: new WechatTokens({ apiBaseUrl: () => fake.url }) });
  const fetches = () => fake.tokenFetches.get(APP_ID) ?? 0;

  beforeAll(() => {
    fake.apps.set(APP_ID, APP_SECRET);
  });

  it("10 concurrent sends on an empty cache fetch the token once", async () => {
    const before = fetches();
    const s = sender();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.send(account(), msg(`c${i}`))));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(fetches() - before).toBe(1);
  });

  it("processes share one token through the database: two caches sending at once fetch it once; after WeChat refuses it, once more in all; the stored token is encrypted", async () => {
    const { id, appId, appSecret } = await wechatAccount();
    const shared: ChannelAccount = {
      id,
      workspaceId: WORKSPACE,
      type: "wechat",
      status: "active",
      settings: {},
      secrets: { appId, appSecret, token: TOKEN },
    };
    // Two processes' senders: each its own in-memory cache, one database.
    const [a, b] = [1, 2].map(
      () =>
        new WechatSender({
          apiBaseUrl: () => fake.url,
          tokens: new WechatTokens({ apiBaseUrl: () => fake.url, store: dbTokenStore(db()) }),
        }),
    );
    const burst = async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a! : b!).send(shared, msg(`${id}:${i}`))));
      expect(results.every((r) => r.ok)).toBe(true);
    };
    await burst();
    expect(fake.tokenFetches.get(appId)).toBe(1);
    const sendTokens = () => new Set(fake.sends.filter((x) => x.content.startsWith(`${id}:`)).map((x) => x.token));
    expect(sendTokens().size).toBe(1);
    const [row] = await db().select().from(s.channelTokens).where(eq(s.channelTokens.channelId, id));
    expect(row?.tokenEnc).toBeTruthy();
    expect(row!.tokenEnc).not.toContain([...sendTokens()][0]!);
    fake.expireTokens();
    await burst();
    expect(fake.tokenFetches.get(appId)).toBe(2);
    expect(sendTokens().size).toBe(2);
    // A new cache (a process started later) takes the stored token without fetching.
    const c = new WechatTokens({ apiBaseUrl: () => fake.url, store: dbTokenStore(db()) });
    expect(await c.get(shared)).toBe(await new WechatTokens({ apiBaseUrl: () => fake.url, store: dbTokenStore(db()) }).get(shared));
    expect(fake.tokenFetches.get(appId)).toBe(2);
  });

  it("errcodes and HTTP failures map to their codes: transient ones retried later, permanent ones not", async () => {
    const s = sender();
    const cases: [Parameters<FakeWechat["fail"]>[0], { transient: boolean; code: string }][] = [
      [{ status: 502 }, { transient: true, code: "WECHAT_UNAVAILABLE" }],
      [
        { errcode: -1, errmsg: "system error" },
        { transient: true, code: "WECHAT_UNAVAILABLE" },
      ],
      [
        { errcode: 45047, errmsg: "out of customer service message limit" },
        { transient: true, code: "WECHAT_RATE_LIMITED" },
      ],
      [
        { errcode: 45009, errmsg: "reach max api daily quota limit" },
        { transient: true, code: "WECHAT_RATE_LIMITED" },
      ],
      [{ errcode: 45015 }, { transient: false, code: "WECHAT_WINDOW_CLOSED" }],
      [
        { errcode: 40003, errmsg: "invalid openid" },
        { transient: false, code: "WECHAT_RECIPIENT_INVALID" },
      ],
      [{ errcode: 48001 }, { transient: false, code: "WECHAT_FORBIDDEN" }],
      [{ errcode: 44003 }, { transient: false, code: "WECHAT_REJECTED" }],
    ];
    for (const [failure, want] of cases) {
      fake.fail(failure);
      const r = await s.send(account(), msg("x"));
      expect(r, JSON.stringify(failure)).toMatchObject({ ok: false, ...want });
    }
    expect(await s.send(account(), msg("after all that"))).toEqual({ ok: true });
  });

  it("a token refused again after the one refetch (40001 twice) is transient WECHAT_TOKEN_INVALID after exactly two sends and two fetches", async () => {
    const s = sender();
    expect((await s.send(account(), msg("warm"))).ok).toBe(true);
    const fetchesBefore = fetches();
    const sendsBefore = fake.requests.filter((r) => r.path === "/cgi-bin/message/custom/send").length;
    fake.fail({ errcode: 40001, errmsg: "invalid credential" }, 2);
    expect(await s.send(account(), msg("x"))).toMatchObject({ ok: false, transient: true, code: "WECHAT_TOKEN_INVALID" });
    expect(fetches() - fetchesBefore).toBe(1);
    expect(fake.requests.filter((r) => r.path === "/cgi-bin/message/custom/send").length - sendsBefore).toBe(2);
  });

  it("a wrong appSecret (the token fetch refused) fails permanently WECHAT_UNAUTHORIZED and sends nothing", async () => {
    const sendsBefore = fake.requests.filter((r) => r.path === "/cgi-bin/message/custom/send").length;
    expect(await sender().send(account("wrong-secret"), msg("x"))).toMatchObject({
      ok: false,
      transient: false,
      code: "WECHAT_UNAUTHORIZED",
    });
    expect(fake.requests.filter((r) => r.path === "/cgi-bin/message/custom/send").length).toBe(sendsBefore);
  });
});
