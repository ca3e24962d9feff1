import { randomUUID } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { insertChannelAccount, updateChannelAccount } from "../../db/channels.ts";
import * as s from "../../db/schema.ts";
import { useMetaGraphBaseUrl } from "../../server/channels/meta/client.ts";
import { MetaMessagingSender } from "../../server/channels/meta/outbound.ts";
import { isMetaSignatureValid, verifyHandshake } from "../../server/channels/meta/signature.ts";
import { forgetProfiles } from "../../server/channels/profiles.ts";
import { encryptSecrets, secretsKeyOf } from "../../server/channels/secrets.ts";
import type { ChannelAccount, OutboundMessage } from "../../server/channels/types.ts";
import { channelRows } from "../support/channelRows.ts";
import { WEBCHAT, WORKSPACE } from "../support/demo.ts";
import { FakeMeta, metaMessageItem, metaWebhookBody, signMeta, WINDOW_CLOSED } from "../support/fakes/meta.ts";
import { connect } from "../support/rooms.ts";
import { ID, useTestServer, waitFor } from "../support/server.ts";

/**
 * Facebook Messenger and Instagram end to end: webhooks signed as Meta signs them, posted over real
 * HTTP to the real server (PGlite, or PostgreSQL with DATABASE_URL), stored through intake and
 * applied by the rooms; staff replies sent by the delivery worker to the fake Graph API Send API.
 */

const app = useTestServer();
const APP_SECRET = "meta-app-secret-0123456789";
const TOKEN = "EAAG-page-token";
const VERIFY = "verify-me-please";
const PAGE = "104857600123";
let fake: FakeMeta;
let messengerId: string;
let instagramId: string;
let disabledId: string;

async function account(type: "messenger" | "instagram", status: "active" | "disabled" = "active"): Promise<string> {
  const db = app.database.db;
  const id = `${type}-${randomUUID()}`;
  await insertChannelAccount(db, {
    id,
    workspaceId: WORKSPACE,
    type,
    name: `${type} ${status}`,
    settings: { pageId: PAGE },
    secretsEnc: encryptSecrets(secretsKeyOf(db), { appSecret: APP_SECRET, pageAccessToken: TOKEN, verifyToken: VERIFY }),
    secretHash: null,
  });
  if (status === "disabled") await updateChannelAccount(db, WORKSPACE, id, { status: "disabled" }, new Date());
  return id;
}

beforeAll(async () => {
  fake = await FakeMeta.start([TOKEN]);
  useMetaGraphBaseUrl(fake.url, "v21.0");
  messengerId = await account("messenger");
  instagramId = await account("instagram");
  disabledId = await account("messenger", "disabled");
});
afterAll(() => fake.stop());
afterEach(async () => {
  await app.intake.idle();
  expect(fake.violations()).toEqual([]);
});

const db = () => app.database.db;
let psids = 0;
/** A fresh page-scoped id (digits, as Meta's). */
const psid = () => `${7_000_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 1000n + BigInt(++psids)}`;

async function post(path: "messenger" | "instagram", body: string, opts: { signature?: string | null; channel?: string } = {}) {
  const signature = opts.signature === undefined ? signMeta(body, APP_SECRET) : opts.signature;
  const channel = opts.channel ?? (path === "messenger" ? messengerId : instagramId);
  const res = await fetch(`${app.url}/webhooks/${path}/${channel}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(signature !== null ? { "x-hub-signature-256": signature } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const rows = channelRows(app);
const storedEvents = (channel: string) => rows.storedEvents(channel);
/** The customer, conversations and customer messages of a Meta user on `channel` (facebook / instagram). */
const customerMessages = (channel: "facebook" | "instagram", userId: string) => rows.customerMessages(channel, userId);

describe("Meta signature and handshake (server/channels/meta/signature.ts)", () => {
  it("accepts exactly Meta's sha256= hex HMAC of the raw body; refuses other secrets, changed bodies, other prefixes and garbage", () => {
    const body = '{"object":"page","entry":[]}';
    const good = signMeta(body, APP_SECRET);
    expect(isMetaSignatureValid(body, good, APP_SECRET)).toBe(true);
    expect(isMetaSignatureValid(body, good.toUpperCase().replace("SHA256=", "sha256="), APP_SECRET)).toBe(true);
    expect(isMetaSignatureValid(body, signMeta(body, "other"), APP_SECRET)).toBe(false);
    expect(isMetaSignatureValid(`${body} `, good, APP_SECRET)).toBe(false);
    expect(isMetaSignatureValid(body, good.replace("sha256=", "sha1="), APP_SECRET)).toBe(false);
    expect(isMetaSignatureValid(body, undefined, APP_SECRET)).toBe(false);
    expect(isMetaSignatureValid(body, "sha256=zz", APP_SECRET)).toBe(false);
    expect(isMetaSignatureValid(body, good, "")).toBe(false);
  });

  it("the handshake answers the challenge only for subscribe with the right token", () => {
    expect(verifyHandshake({ "hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42" }, VERIFY)).toBe("42");
    expect(verifyHandshake({ "hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42" }, VERIFY)).toBeNull();
    expect(verifyHandshake({ "hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "42" }, VERIFY)).toBeNull();
    expect(verifyHandshake({ "hub.mode": "subscribe", "hub.challenge": "42" }, VERIFY)).toBeNull();
    expect(verifyHandshake({ "hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "42" }, "")).toBeNull();
  });
});

describe("Messenger and Instagram webhooks", () => {
  it("GET handshake: the challenge as text/plain with the right verify token, 403 with a wrong one, 404 for a disabled channel", async () => {
    for (const [path, id] of [
      ["messenger", messengerId],
      ["instagram", instagramId],
    ] as const) {
      const ok = await fetch(`${app.url}/webhooks/${path}/${id}?hub.mode=subscribe&hub.verify_token=${VERIFY}&hub.challenge=1158201444`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await ok.text()).toBe("1158201444");
      const wrong = await fetch(`${app.url}/webhooks/${path}/${id}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444`);
      expect(wrong.status).toBe(403);
      const refused = await wrong.text();
      expect(refused).not.toContain("1158201444");
      expect(JSON.parse(refused)).toMatchObject({ code: "UNAUTHENTICATED" });
    }
    const disabled = await fetch(
      `${app.url}/webhooks/messenger/${disabledId}?hub.mode=subscribe&hub.verify_token=${VERIFY}&hub.challenge=1`,
    );
    expect(disabled.status).toBe(404);
  });

  it("a signed Messenger webhook is stored once and lands in a `facebook` conversation; an Instagram one in an `instagram` conversation", async () => {
    const alice = psid();
    const item = metaMessageItem({ senderId: alice, pageId: PAGE, text: "Where is my parcel? 📦" });
    const r = await post("messenger", metaWebhookBody("page", PAGE, [item]));
    expect(r).toEqual({ status: 200, body: { ok: true, stored: 1, duplicates: 0, ignored: 0 } });
    const mid = (item.message as { mid: string }).mid;
    expect((await storedEvents(messengerId)).filter((e) => e.providerEventId === mid)).toHaveLength(1);
    const fb = await customerMessages("facebook", alice);
    expect(fb.conversations).toHaveLength(1);
    expect(fb.conversations[0]).toMatchObject({ channel: "facebook", channelId: messengerId, kind: "direct", status: "pending" });
    expect(fb.messages.map((m) => m.body)).toEqual(["Where is my parcel? 📦"]);

    const bob = psid();
    const ig = await post(
      "instagram",
      metaWebhookBody("instagram", PAGE, [metaMessageItem({ senderId: bob, pageId: PAGE, text: "hi from IG" })]),
    );
    expect(ig).toMatchObject({ status: 200, body: { stored: 1 } });
    const igc = await customerMessages("instagram", bob);
    expect(igc.conversations[0]).toMatchObject({ channel: "instagram", channelId: instagramId });
    expect(igc.messages.map((m) => m.body)).toEqual(["hi from IG"]);
    // A Messenger body posted to the Instagram route (or the other way round) is refused.
    expect(
      await post("instagram", metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: bob, pageId: PAGE, text: "x" })])),
    ).toMatchObject({
      status: 400,
      body: { code: "INVALID_PAYLOAD" },
    });
  });

  it("a new sender's name and picture come from Meta's profile APIs (Messenger: name, else first and last; Instagram: name, else username), read once per sender while cached; a user Meta has no profile for still gets the message stored", async () => {
    forgetProfiles();
    const [ann, ig, anon] = [psid(), psid(), psid()];
    fake.profiles.set(ann, { first_name: "Ann", last_name: "Lee", profile_pic: "https://scontent.example/ann.jpg" });
    fake.profiles.set(ig, { username: "bo.wang", profile_pic: "https://scontent.example/bo.jpg" });
    const two = [
      metaMessageItem({ senderId: ann, pageId: PAGE, text: "one" }),
      metaMessageItem({ senderId: ann, pageId: PAGE, text: "two" }),
    ];
    expect((await post("messenger", metaWebhookBody("page", PAGE, two))).body).toMatchObject({ stored: 2 });
    expect(
      (await post("messenger", metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: ann, pageId: PAGE, text: "three" })]))).body,
    ).toMatchObject({ stored: 1 });
    expect(fake.profileReads.get(ann)).toBe(1);
    expect((await customerMessages("facebook", ann)).customer).toMatchObject({
      displayName: "Ann Lee",
      pictureUrl: "https://scontent.example/ann.jpg",
    });

    expect(
      (await post("instagram", metaWebhookBody("instagram", PAGE, [metaMessageItem({ senderId: ig, pageId: PAGE, text: "hey" })]))).status,
    ).toBe(200);
    expect((await customerMessages("instagram", ig)).customer).toMatchObject({
      displayName: "bo.wang",
      pictureUrl: "https://scontent.example/bo.jpg",
    });
    const igRead = fake.requests.find((r) => r.method === "GET" && r.path.endsWith(`/${ig}`));
    expect(igRead?.headers.authorization).toBe(`Bearer ${TOKEN}`);

    expect(
      (await post("messenger", metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: anon, pageId: PAGE, text: "no profile" })])))
        .body,
    ).toMatchObject({ stored: 1 });
    const anonRows = await customerMessages("facebook", anon);
    expect(anonRows.messages.map((m) => m.body)).toEqual(["no profile"]);
    expect(anonRows.customer?.pictureUrl ?? null).toBeNull();
  });

  it("a wrong signature, a missing one and a body changed after signing are refused 401, and nothing is stored", async () => {
    const mallory = psid();
    const body = metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: mallory, pageId: PAGE, text: "transfer the money" })]);
    const before = (await storedEvents(messengerId)).length;
    const answers = [
      await post("messenger", body, { signature: signMeta(body, "not-the-secret") }),
      await post("messenger", body, { signature: null }),
      await post("messenger", body.replace("the money", "the honey"), { signature: signMeta(body, APP_SECRET) }),
      await post("messenger", body, { signature: "sha256=" }),
    ];
    for (const a of answers) expect(a).toMatchObject({ status: 401, body: { code: "UNAUTHENTICATED" } });
    expect((await storedEvents(messengerId)).length).toBe(before);
    expect((await customerMessages("facebook", mallory)).customer).toBeUndefined();
  });

  it("the same webhook delivered 3× at once stores one message", async () => {
    const carol = psid();
    const body = metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: carol, pageId: PAGE, text: "hello?" })]);
    const answers = await Promise.all([post("messenger", body), post("messenger", body), post("messenger", body)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.reduce((n, a) => n + a.body.stored, 0)).toBe(1);
    expect(answers.reduce((n, a) => n + a.body.duplicates, 0)).toBe(2);
    expect((await customerMessages("facebook", carol)).messages.map((m) => m.body)).toEqual(["hello?"]);
  });

  it("every messaging item of every entry is stored, with its parts; echoes, watermark reads and unknown kinds are acknowledged and ignored", async () => {
    const dave = psid();
    const t = Date.now();
    const body = JSON.stringify({
      object: "page",
      entry: [
        {
          id: PAGE,
          time: t,
          messaging: [
            metaMessageItem({ senderId: dave, pageId: PAGE, timestamp: t + 1, text: "first" }),
            metaMessageItem({
              senderId: dave,
              pageId: PAGE,
              timestamp: t + 2,
              attachments: [{ type: "image", payload: { url: "https://cdn.example/p.jpg" } }],
            }),
            {
              sender: { id: PAGE },
              recipient: { id: dave },
              timestamp: t + 3,
              message: { mid: `m_echo${t}`, is_echo: true, text: "our own" },
            },
            { sender: { id: dave }, recipient: { id: PAGE }, timestamp: t + 4, read: { watermark: t } },
            { sender: { id: dave }, recipient: { id: PAGE }, timestamp: t + 5, postback: { title: "Start", payload: "GET_STARTED" } },
          ],
        },
        {
          id: PAGE,
          time: t + 10,
          messaging: [
            metaMessageItem({
              senderId: dave,
              pageId: PAGE,
              timestamp: t + 11,
              attachments: [{ type: "location", payload: { coordinates: { lat: 25.034, long: 121.5645 } } }],
            }),
            metaMessageItem({
              senderId: dave,
              pageId: PAGE,
              timestamp: t + 12,
              attachments: [{ type: "file", payload: { url: "https://cdn.example/r.pdf" } }],
            }),
          ],
        },
      ],
    });
    expect(await post("messenger", body)).toEqual({ status: 200, body: { ok: true, stored: 4, duplicates: 0, ignored: 3 } });
    const { conversations, messages } = await customerMessages("facebook", dave);
    expect(conversations).toHaveLength(1);
    expect(messages.map((m) => m.parts)).toEqual([
      null,
      [{ type: "image", url: "https://cdn.example/p.jpg" }],
      [{ type: "location", latitude: 25.034, longitude: 121.5645 }],
      [{ type: "file", url: "https://cdn.example/r.pdf" }],
    ]);
    expect(messages[0]!.body).toBe("first");
  });

  it("a disabled channel and another type's channel answer 404; malformed JSON and a body not of Meta's shape 400; nothing stored", async () => {
    const erin = psid();
    const body = metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: erin, pageId: PAGE, text: "hi" })]);
    expect(await post("messenger", body, { channel: disabledId })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await post("messenger", body, { channel: WEBCHAT.channelId })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await post("messenger", body, { channel: instagramId })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await post("messenger", '{"object":"page","entry":[')).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    expect(
      await post(
        "messenger",
        JSON.stringify({ object: "page", entry: [{ id: PAGE, messaging: [{ sender: {}, recipient: { id: PAGE } }] }] }),
      ),
    ).toMatchObject({
      status: 400,
      body: { code: "INVALID_PAYLOAD" },
    });
    expect(await storedEvents(disabledId)).toHaveLength(0);
    expect((await customerMessages("facebook", erin)).customer).toBeUndefined();
  });
});

describe("Messenger bursts and limits", () => {
  it("20 concurrent first messages from a new contact land in one conversation, all 20 in it", async () => {
    const hal = psid();
    const bodies = Array.from({ length: 20 }, (_, i) =>
      metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: hal, pageId: PAGE, text: `burst ${i}` })]),
    );
    const answers = await Promise.all(bodies.map((b) => post("messenger", b)));
    expect(answers.every((a) => a.status === 200 && a.body.stored === 1)).toBe(true);
    const { conversations, messages } = await customerMessages("facebook", hal);
    expect(conversations).toHaveLength(1);
    expect(messages.map((m) => m.body).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `burst ${i}`).sort());
  });

  it("an oversized body is 413 PAYLOAD_TOO_LARGE, nothing stored, and the server keeps serving", async () => {
    const jan = psid();
    const before = (await storedEvents(messengerId)).length;
    const big = metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: jan, pageId: PAGE, text: "x".repeat(70 * 1024) })]);
    expect(await post("messenger", big)).toMatchObject({ status: 413, body: { code: "PAYLOAD_TOO_LARGE" } });
    expect((await storedEvents(messengerId)).length).toBe(before);
    expect(
      (await post("messenger", metaWebhookBody("page", PAGE, [metaMessageItem({ senderId: jan, pageId: PAGE, text: "still here" })])))
        .status,
    ).toBe(200);
  });
});

describe("Messenger replies through the Send API", () => {
  async function replyTo(userId: string, text: string, via: "messenger" | "instagram" = "messenger") {
    const object = via === "messenger" ? "page" : "instagram";
    expect(
      (await post(via, metaWebhookBody(object, PAGE, [metaMessageItem({ senderId: userId, pageId: PAGE, text: "question" })]))).status,
    ).toBe(200);
    const { conversations } = await customerMessages(via === "messenger" ? "facebook" : "instagram", userId);
    const conversationId = conversations[0]!.id;
    const supervisor = await connect(app, "supervisor", conversationId, "team");
    expect(await supervisor.act("transfer", { memberId: ID.agent })).toMatchObject({ ok: true });
    const agent = await connect(app, "agent", conversationId);
    const reply = await agent.act("reply", { text });
    expect(reply).toMatchObject({ ok: true });
    expect(typeof reply.seq).toBe("number");
    return { agent, reply: { seq: reply.seq as number }, conversationId };
  }

  it("a staff reply reaches the fake with the page token, the customer's PSID, RESPONSE and the text, and ends sent with Meta's message id; Meta's delivery report moves it to delivered", async () => {
    const frank = psid();
    const { agent, reply, conversationId } = await replyTo(frank, "Your parcel ships today 🙂");
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "sent");
    const sent = fake.sends.filter((x) => x.recipient === frank);
    expect(sent.map((x) => [x.pageId, x.text])).toEqual([[PAGE, "Your parcel ships today 🙂"]]);
    const req = fake.requests.find((q) => (q.body as { recipient?: { id: string } })?.recipient?.id === frank)!;
    expect(req.path).toBe(`/v21.0/${PAGE}/messages`);
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.body).toEqual({ recipient: { id: frank }, messaging_type: "RESPONSE", message: { text: "Your parcel ships today 🙂" } });
    const [row] = await db()
      .select()
      .from(s.messages)
      .where(and(eq(s.messages.conversationId, conversationId), eq(s.messages.seq, reply.seq)));
    expect(row).toMatchObject({ deliveryStatus: "sent", providerMessageId: sent[0]!.messageId });

    const delivery = {
      sender: { id: frank },
      recipient: { id: PAGE },
      timestamp: Date.now(),
      delivery: { mids: [sent[0]!.messageId], watermark: Date.now() },
    };
    expect(await post("messenger", metaWebhookBody("page", PAGE, [delivery]))).toMatchObject({ status: 200, body: { stored: 1 } });
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "delivered");
  });

  it("an Instagram reply goes out through the Send API and Instagram's read report (read.mid) moves it to read; a repeated report changes nothing", async () => {
    const ivy = psid();
    const { agent, reply } = await replyTo(ivy, "Thanks for writing on Instagram", "instagram");
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "sent");
    const sent = fake.sends.filter((x) => x.recipient === ivy);
    expect(sent.map((x) => x.text)).toEqual(["Thanks for writing on Instagram"]);
    const read = metaWebhookBody("instagram", PAGE, [
      { sender: { id: ivy }, recipient: { id: PAGE }, timestamp: Date.now(), read: { mid: sent[0]!.messageId } },
    ]);
    expect(await post("instagram", read)).toMatchObject({ status: 200, body: { stored: 1, duplicates: 0 } });
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "read");
    expect(await post("instagram", read)).toMatchObject({ status: 200, body: { stored: 0, duplicates: 1 } });
  });

  it("Meta's 24-hour window error (code 10 / subcode 2018278) fails the reply at once with META_WINDOW_CLOSED and Meta's reason", async () => {
    const gina = psid();
    const before = fake.requests.length;
    fake.fail(WINDOW_CLOSED);
    const { agent, reply, conversationId } = await replyTo(gina, "Sorry for the wait");
    await waitFor(() => agent.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "failed");
    const [row] = await db()
      .select()
      .from(s.messages)
      .where(and(eq(s.messages.conversationId, conversationId), eq(s.messages.seq, reply.seq)));
    expect(row).toMatchObject({ deliveryStatus: "failed", deliveryCode: "META_WINDOW_CLOSED" });
    expect(row!.deliveryReason).toContain("outside of allowed window");
    // Permanent: tried once, not retried.
    expect(fake.requests.slice(before).filter((q) => (q.body as { recipient?: { id: string } })?.recipient?.id === gina)).toHaveLength(1);
    expect(fake.sends.filter((x) => x.recipient === gina)).toHaveLength(0);
  });
});

describe("Meta sender error mapping against the fake", () => {
  const acct: ChannelAccount = {
    id: "ch-m",
    workspaceId: "ws",
    type: "messenger",
    status: "active",
    settings: { pageId: PAGE },
    secrets: { appSecret: APP_SECRET, pageAccessToken: TOKEN, verifyToken: VERIFY },
  };
  const msg = (): OutboundMessage => ({ conversationId: "c", seq: 1, retryKey: randomUUID(), recipient: "1234567890", text: "hi" });
  let sender: MetaMessagingSender;
  beforeAll(() => {
    sender = new MetaMessagingSender({ baseUrl: fake.url, version: "v21.0", timeoutMs: 3000 }); // the timeout case waits it out once; a loaded machine must not turn the other answers into timeouts
  });

  it.each([
    [
      "rate limit 613",
      { status: 400, error: { code: 613, message: "Calls to this api have exceeded the rate limit." } },
      true,
      "META_RATE_LIMITED",
    ],
    ["app rate limit 4", { status: 400, error: { code: 4, message: "Application request limit reached" } }, true, "META_RATE_LIMITED"],
    ["5xx", { status: 503 }, true, "META_UNAVAILABLE"],
    ["invalid token 190", { status: 400, error: { code: 190, message: "Error validating access token" } }, false, "META_TOKEN_INVALID"],
    [
      "unavailable user 551",
      { status: 400, error: { code: 551, message: "This person isn't available right now." } },
      false,
      "META_RECIPIENT_UNAVAILABLE",
    ],
    [
      "no matching user 100/2018001",
      { status: 400, error: { code: 100, error_subcode: 2018001, message: "No matching user found" } },
      false,
      "META_RECIPIENT_UNAVAILABLE",
    ],
    ["window closed", WINDOW_CLOSED, false, "META_WINDOW_CLOSED"],
  ] as const)("%s → %s", async (_name, failure, transient, code) => {
    fake.fail(failure);
    expect(await sender.send(acct, msg())).toMatchObject({ ok: false, transient, code });
  });

  it("a Send API that does not answer is a transient META_TIMEOUT; a token Meta does not know is META_TOKEN_INVALID", async () => {
    fake.fail({ timeout: true });
    expect(await sender.send(acct, msg())).toMatchObject({ ok: false, transient: true, code: "META_TIMEOUT" });
    expect(await sender.send({ ...acct, secrets: { ...acct.secrets, pageAccessToken: "stolen" } }, msg())).toMatchObject({
      ok: false,
      transient: false,
      code: "META_TOKEN_INVALID",
    });
  });
});
