import { randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertChannelAccount } from "../../db/channels.ts";
import * as s from "../../db/schema.ts";
import type { Channel } from "../../domain/sets.ts";
import { TRIGGERED_CHANNELS } from "../../domain/triggered.ts";
import { LINE_API_DEFAULT_BASE_URL, useLineApiBaseUrl } from "../../server/channels/line/client.ts";
import { MetaMessagingSender } from "../../server/channels/meta/outbound.ts";
import { encryptSecrets, secretsKeyOf } from "../../server/channels/secrets.ts";
import { WhatsAppSender } from "../../server/channels/whatsapp/outbound.ts";
import { createLineAccount, lineConversation } from "../channels/delivery-support.ts";
import { WORKSPACE } from "../support/demo.ts";
import { FakeLine } from "../support/fakes/line.ts";
import { FakeMeta } from "../support/fakes/meta.ts";
import { FakeWhatsApp } from "../support/fakes/whatsapp.ts";
import { createConversation, messageRows } from "../support/fixtures.ts";
import { connect, tokenOf } from "../support/rooms.ts";
import { ID, useTestServer, waitFor } from "../support/server.ts";

/**
 * Triggered messages (issue 11, SPEC R13.1): `POST /api/v2/conversations/{id}/triggered` sends the
 * kinds of R13.1's table that staff send, on the channels the table gives each, through the room
 * (an automatic message in the timeline, with its payload) and the channel's delivery, checked
 * field by field by the providers' fakes. On the other channels it is refused and nothing happens.
 */

const app = useTestServer();
let line: FakeLine;
let meta: FakeMeta;
let wa: FakeWhatsApp;
const META_TOKEN = "meta-token-triggered";
const WA_TOKEN = "wa-token-triggered";
const PAGE = "1234567890";
const PHONE_NUMBER_ID = "1098765432";
const restore: (() => void)[] = [];

beforeAll(async () => {
  line = await FakeLine.start([]);
  meta = await FakeMeta.start([META_TOKEN]);
  wa = await FakeWhatsApp.start([WA_TOKEN]);
  useLineApiBaseUrl(line.url);
  restore.push(
    app.delivery.senders.register("messenger", new MetaMessagingSender({ baseUrl: meta.url, version: "v21.0" })),
    app.delivery.senders.register("instagram", new MetaMessagingSender({ baseUrl: meta.url, version: "v21.0" })),
    app.delivery.senders.register("whatsapp", new WhatsAppSender({ apiBaseUrl: wa.url, version: "v21.0" })),
  );
});
afterAll(async () => {
  for (const r of restore) r();
  useLineApiBaseUrl(LINE_API_DEFAULT_BASE_URL);
  await Promise.all([line.stop(), meta.stop(), wa.stop()]);
});

/** A conversation on `channel` with a channel account the fakes accept (LINE, Messenger, Instagram, WhatsApp), else none. */
async function conversationOn(channel: Channel, spec: Parameters<typeof createConversation>[1] = {}) {
  const db = app.database.db;
  if (channel === "line") {
    const account = await createLineAccount(app);
    line.tokens.add(account.token);
    return lineConversation(app, account, { follower: ID.agent, ...spec });
  }
  const conv = await createConversation(app, { channel, follower: ID.agent, ...spec });
  const type = channel === "facebook" ? "messenger" : channel === "instagram" ? "instagram" : channel === "whatsapp" ? "whatsapp" : null;
  if (!type) return { ...conv, lineUser: "" };
  const id = `${type}-${randomUUID().slice(0, 8)}`;
  const whatsapp = type === "whatsapp";
  await insertChannelAccount(db, {
    id,
    workspaceId: WORKSPACE,
    type,
    name: type,
    settings: whatsapp ? { phoneNumberId: PHONE_NUMBER_ID } : { pageId: PAGE },
    secretsEnc: encryptSecrets(
      secretsKeyOf(db),
      whatsapp
        ? { appSecret: "s", accessToken: WA_TOKEN, verifyToken: "v" }
        : { appSecret: "s", pageAccessToken: META_TOKEN, verifyToken: "v" },
    ),
    secretHash: null,
  });
  const user = whatsapp ? `8869${randomBytes(4).readUInt32BE() % 100_000_000}` : `${Date.now()}${randomBytes(3).readUIntBE(0, 3)}`;
  await db.update(s.conversations).set({ channelId: id }).where(eq(s.conversations.id, conv.id));
  await db.update(s.customers).set({ channelUserId: user }).where(eq(s.customers.id, conv.customerId));
  return { ...conv, channelUserId: user, lineUser: "" };
}

async function send(who: Parameters<typeof tokenOf>[1], conversationId: string, body: unknown, raw?: string) {
  const token = await tokenOf(app, who);
  const res = await app.http.request(`/api/v2/conversations/${encodeURIComponent(conversationId)}/triggered`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const rid = () => `t-${randomUUID()}`;
const PAYLOADS = {
  customer_journey: {
    kind: "customer_journey",
    title: "會員好禮",
    text: "感謝您加入會員！完成以下步驟即可領取好禮 🎁",
    imageUrl: "https://shop.example/img/gift.png",
    links: [
      { label: "領取好禮", url: "https://shop.example/gift" },
      { label: "會員中心", url: "https://shop.example/member" },
    ],
  },
  cart_remarketing: {
    kind: "cart_remarketing",
    text: "您的購物車還有商品喔！",
    items: [
      { name: "保溫瓶", quantity: 2, price: "NT$1,200", imageUrl: "https://shop.example/img/bottle.png", url: "https://shop.example/p/1" },
      { name: "帆布袋", quantity: 1 },
    ],
    checkout: { label: "前往結帳", url: "https://shop.example/cart" },
  },
  line_lon: { kind: "line_lon", text: "您的訂單已出貨", link: { label: "查看訂單", url: "https://shop.example/orders/42" } },
  omo_live_video: {
    kind: "omo_live_video",
    title: "今晚直播",
    text: "新品發表會，限時優惠！",
    thumbnailUrl: "https://shop.example/img/live.png",
    link: { label: "觀看直播", url: "https://live.example/w/abc" },
    startsAt: "2026-12-01T20:00:00+08:00",
  },
} as const;

/** An allowed channel with a fake for each kind, and a channel R13.1's table excludes. */
const CASES = [
  { kind: "customer_journey", allowed: "facebook", refused: "webchat" },
  { kind: "cart_remarketing", allowed: "whatsapp", refused: "instagram" },
  { kind: "line_lon", allowed: "line", refused: "facebook" },
  { kind: "omo_live_video", allowed: "line", refused: "wechat" },
] as const;

/** What the fake of `channel` received for the conversation's customer. */
function received(channel: Channel, recipient: string) {
  if (channel === "line") return line.pushes.filter((p) => p.to === recipient).flatMap((p) => p.messages);
  if (channel === "whatsapp") return wa.sends.filter((x) => x.to === recipient).map((x) => x.body);
  return meta.sends.filter((x) => x.recipient === recipient).map((x) => x.message);
}

describe("triggered messages (R13.1)", () => {
  it("[R13.1] the cases below pair every sendable kind with a channel the table gives it and one it excludes", () => {
    for (const c of CASES) {
      expect(TRIGGERED_CHANNELS[c.kind]).toContain(c.allowed);
      expect(TRIGGERED_CHANNELS[c.kind]).not.toContain(c.refused);
    }
  });

  for (const c of CASES) {
    it(`[R13.1] ${c.kind} on ${c.allowed}: an automatic message with its payload in the timeline and the room state, delivered in the provider's documented shape, once per request id`, async () => {
      const conv = await conversationOn(c.allowed);
      const conn = await connect(app, "agent", conv.id);
      const requestId = rid();
      const r = await send("agent", conv.id, { ...PAYLOADS[c.kind], requestId });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ duplicate: false, seq: expect.any(Number) });
      const seq = r.body.seq as number;
      // A retry with the same request id sends nothing more.
      expect((await send("agent", conv.id, { ...PAYLOADS[c.kind], requestId })).body).toMatchObject({ duplicate: true });

      const auto = (await messageRows(app, conv.id)).filter((m) => m.sender === "auto");
      expect(auto).toHaveLength(1);
      expect(auto[0]).toMatchObject({ senderId: c.kind, seq });
      const { kind, ...rest } = PAYLOADS[c.kind];
      expect(auto[0]!.parts).toEqual([{ type: "triggered", payload: { kind, ...rest } }]);
      await waitFor(() => conn.state.messages.some((m: { seq: number; delivery: string }) => m.seq === seq && m.delivery === "sent"));
      const item = conn.state.messages.find((m: { seq: number }) => m.seq === seq);
      expect(item.sender).toBe("auto");
      expect(JSON.parse(item.parts)[0].payload.kind).toBe(c.kind);
      // Every link is in the text fallback.
      const links = "links" in PAYLOADS[c.kind] ? (PAYLOADS[c.kind] as { links: readonly { url: string }[] }).links : [];
      for (const l of links) expect(item.body).toContain(l.url);

      const out = received(c.allowed, c.allowed === "line" ? conv.lineUser : conv.channelUserId);
      expect(out.length).toBeGreaterThan(0);
      expect(line.violations()).toEqual([]);
      expect(meta.violations()).toEqual([]);
      expect(wa.violations()).toEqual([]);
      const rendered = JSON.stringify(out);
      if (c.kind === "customer_journey")
        expect(out).toMatchObject([
          {
            attachment: {
              type: "template",
              payload: {
                template_type: "button",
                buttons: [{ type: "web_url", url: "https://shop.example/gift", title: "領取好禮" }, { title: "會員中心" }],
              },
            },
          },
        ]);
      if (c.kind === "cart_remarketing") {
        expect(out).toMatchObject([
          {
            type: "interactive",
            interactive: {
              type: "cta_url",
              action: { name: "cta_url", parameters: { display_text: "前往結帳", url: "https://shop.example/cart" } },
            },
          },
        ]);
        expect(rendered).toContain("保溫瓶 × 2 NT$1,200");
      }
      if (c.kind === "line_lon")
        expect(out).toMatchObject([
          {
            type: "template",
            template: {
              type: "buttons",
              text: "您的訂單已出貨",
              actions: [{ type: "uri", label: "查看訂單", uri: "https://shop.example/orders/42" }],
            },
          },
        ]);
      if (c.kind === "omo_live_video")
        expect(out).toMatchObject([
          {
            type: "template",
            template: {
              type: "buttons",
              title: "今晚直播",
              thumbnailImageUrl: "https://shop.example/img/live.png",
              actions: [{ uri: "https://live.example/w/abc" }],
            },
          },
        ]);
    });

    it(`[R13.1] ${c.kind} on ${c.refused} is refused with 422 TRIGGERED_NOT_SUPPORTED: nothing stored, nothing sent`, async () => {
      const conv = await conversationOn(c.refused);
      const before = await messageRows(app, conv.id);
      const sent = [line.requests.length, meta.requests.length, wa.requests.length];
      const r = await send("agent", conv.id, { ...PAYLOADS[c.kind], requestId: rid() });
      expect(r.status).toBe(422);
      expect(r.body).toMatchObject({ code: "TRIGGERED_NOT_SUPPORTED" });
      expect(await messageRows(app, conv.id)).toEqual(before);
      const outbox = await app.database.db.select().from(s.outbox);
      expect(outbox.filter((o) => (o.payload as { conversationId?: string }).conversationId === conv.id)).toEqual([]);
      expect([line.requests.length, meta.requests.length, wa.requests.length]).toEqual(sent);
    });
  }

  it("[R13.1] who may send: a participant or a team viewer; an agent who is neither gets 403 VIEW_NOT_ALLOWED; a closed conversation 409 CONVERSATION_CLOSED; an unknown one 404", async () => {
    const conv = await conversationOn("line");
    const body = () => ({ ...PAYLOADS.line_lon, requestId: rid() });
    expect((await send("agent2", conv.id, body())).body).toMatchObject({ code: "VIEW_NOT_ALLOWED" });
    expect((await send("supervisor", conv.id, body())).status).toBe(200);
    expect((await send("agent", conv.id, body())).status).toBe(200);
    expect((await send("agent", "no-such-conversation", body())).status).toBe(404);
    const closed = await conversationOn("line", { status: "closed" });
    expect((await send("agent", closed.id, body())).body).toMatchObject({ code: "CONVERSATION_CLOSED" });
    expect((await messageRows(app, closed.id)).filter((m) => m.sender === "auto")).toEqual([]);
  });

  it("[R13.1] bad bodies (wrong kinds and types, NUL, 4-byte characters past the limits, huge values, http links, unknown fields) get 400 INVALID_PAYLOAD and change nothing", async () => {
    const conv = await conversationOn("line");
    const base = { ...PAYLOADS.line_lon, requestId: "x" };
    const bad = fc.oneof(
      fc.record({ kind: fc.string(), requestId: fc.string({ minLength: 1 }), text: fc.string() }),
      fc.constantFrom<unknown>(
        null,
        [],
        "text",
        42,
        { ...base, kind: "away" },
        { ...base, kind: "csat" },
        { ...base, kind: "auto_close_reminder" },
        { ...base, text: "" },
        { ...base, text: "a\u0000b" },
        { ...base, text: "𠀀".repeat(1001) },
        { ...base, text: "x".repeat(5_000) },
        { ...base, text: 42 },
        { ...base, requestId: "" },
        { ...base, requestId: "r".repeat(101) },
        { ...base, link: { label: "x".repeat(21), url: "https://a.example" } },
        { ...base, link: { label: "ok", url: "http://insecure.example" } },
        { ...base, link: { label: "ok", url: "javascript:alert(1)" } },
        { ...base, extra: true },
        { ...PAYLOADS.cart_remarketing, requestId: "x", items: [] },
        { ...PAYLOADS.cart_remarketing, requestId: "x", items: [{ name: "a", quantity: 0 }] },
        { ...PAYLOADS.cart_remarketing, requestId: "x", items: [{ name: "a", quantity: 1.5 }] },
        { ...PAYLOADS.customer_journey, requestId: "x", links: [] },
        { ...PAYLOADS.omo_live_video, requestId: "x", startsAt: "tomorrow" },
      ),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (body) => {
        const r = await send("agent", conv.id, body);
        expect(r.status).toBe(400);
        expect(r.body.code).toBe("INVALID_PAYLOAD");
      }),
      { numRuns: 60 },
    );
    expect((await send("agent", conv.id, undefined, "{not json")).status).toBe(400);
    // Past the body limit: 413 before it is read.
    expect((await send("agent", conv.id, { ...base, text: "x".repeat(100_000) })).body).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    expect((await messageRows(app, conv.id)).filter((m) => m.sender === "auto")).toEqual([]);
  });
});
