import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useLineApiBaseUrl } from "../../server/channels/line/client.ts";
import { isLineSignatureValid, lineParts, parseLineWebhook, toInboundMessage } from "../../server/channels/line/inbound.ts";
import { lineProfiles } from "../../server/channels/line/profile.ts";
import { forgetProfiles } from "../../server/channels/profiles.ts";
import type { ChannelAccount } from "../../server/channels/types.ts";
import { FakeLine, lineGroupId, lineMessageEvent, lineUserId, lineWebhookBody, signLine } from "../support/fakes/line.ts";

const SECRET = "line-channel-secret";
const ALICE = lineUserId("alice");

describe("LINE webhook signature (x-line-signature)", () => {
  it("accepts the base64 HMAC-SHA256 of the raw body with the channel secret, and nothing else", () => {
    const body = lineWebhookBody([lineMessageEvent({ userId: ALICE, message: { id: "1", type: "text", text: "héllo 👋" } })]);
    const sig = signLine(body, SECRET);
    expect(isLineSignatureValid(body, SECRET, sig)).toBe(true);
    expect(isLineSignatureValid(Buffer.from(body), SECRET, sig)).toBe(true);
    expect(isLineSignatureValid(body, "other-secret", sig)).toBe(false);
    expect(isLineSignatureValid(body, SECRET, undefined)).toBe(false);
    expect(isLineSignatureValid(body, SECRET, "")).toBe(false);
    expect(isLineSignatureValid(body, undefined, sig)).toBe(false);
    expect(isLineSignatureValid(body, SECRET, "not base64 at all")).toBe(false);
  });

  it("any change of the body after signing is refused (a re-serialization too)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (text, at, flip) => {
        const body = lineWebhookBody([
          lineMessageEvent({ eventId: "E1", userId: ALICE, message: { id: "1", type: "text", text }, timestamp: 1 }),
        ]);
        const sig = signLine(body, SECRET);
        const bytes = Buffer.from(body);
        const i = at % bytes.length;
        bytes[i] = bytes[i]! ^ flip;
        expect(isLineSignatureValid(bytes, SECRET, sig)).toBe(false);
        const pretty = JSON.stringify(JSON.parse(body), null, 1);
        expect(isLineSignatureValid(pretty, SECRET, sig)).toBe(false);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe("LINE webhook body: parsing and normalization", () => {
  it("each message kind becomes its typed part; media keep LINE's message id as ref", () => {
    const m = (message: Record<string, unknown>) => {
      const r = parseLineWebhook(JSON.parse(lineWebhookBody([lineMessageEvent({ userId: ALICE, message })])));
      if (!r.ok) throw new Error(r.issues.join("; "));
      return lineParts(r.value.messages[0]!.message);
    };
    expect(m({ id: "1", type: "text", text: "hi" })).toEqual([{ type: "text", text: "hi" }]);
    expect(m({ id: "2", type: "image", contentProvider: { type: "line" } })).toEqual([{ type: "image", ref: "2" }]);
    expect(m({ id: "3", type: "image", contentProvider: { type: "external", originalContentUrl: "https://x.example/a.jpg" } })).toEqual([
      { type: "image", ref: "3", url: "https://x.example/a.jpg" },
    ]);
    expect(m({ id: "4", type: "video", duration: 1000, contentProvider: { type: "line" } })).toEqual([{ type: "video", ref: "4" }]);
    expect(m({ id: "5", type: "audio", duration: 1000, contentProvider: { type: "line" } })).toEqual([{ type: "audio", ref: "5" }]);
    expect(m({ id: "6", type: "file", fileName: "invoice.pdf", fileSize: 2048 })).toEqual([
      { type: "file", ref: "6", name: "invoice.pdf" },
    ]);
    expect(m({ id: "7", type: "sticker", packageId: "446", stickerId: "1988", stickerResourceType: "STATIC" })).toEqual([
      { type: "sticker", ref: "446/1988" },
    ]);
    expect(m({ id: "8", type: "location", title: "Office", address: "Taipei", latitude: 25.03, longitude: 121.56 })).toEqual([
      { type: "location", latitude: 25.03, longitude: 121.56, title: "Office", address: "Taipei" },
    ]);
  });

  it("every message event of a batch is kept, in order; other event types and unknown message kinds are counted as ignored", () => {
    const events = [
      {
        type: "follow",
        timestamp: 1,
        source: { type: "user", userId: ALICE },
        webhookEventId: "F",
        deliveryContext: { isRedelivery: false },
        mode: "active",
      },
      lineMessageEvent({ eventId: "A", userId: ALICE, message: { id: "1", type: "text", text: "one" } }),
      { type: "postback", postback: { data: "x" }, source: { type: "user", userId: ALICE } },
      lineMessageEvent({ eventId: "B", userId: ALICE, message: { id: "2", type: "sticker", packageId: "1", stickerId: "2" } }),
      lineMessageEvent({ eventId: "C", userId: ALICE, message: { id: "3", type: "someFutureKind" } }),
      lineMessageEvent({ eventId: "D", userId: ALICE, message: { id: "4", type: "text", text: "four" }, redelivery: true }),
    ];
    const r = parseLineWebhook(JSON.parse(lineWebhookBody(events)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.messages.map((e) => e.webhookEventId)).toEqual(["A", "B", "D"]);
    expect(r.value.ignored).toBe(3);
    expect(r.value.redeliveries).toBe(1);
  });

  it("LINE's console verification (no events) parses to nothing to store", () => {
    expect(parseLineWebhook({ destination: "U".padEnd(33, "0"), events: [] })).toEqual({
      ok: true,
      value: { messages: [], ignored: 0, redeliveries: 0 },
    });
  });

  it("a body that is not LINE's shape is refused with issues that name the field", () => {
    for (const bad of [null, [], {}, { destination: "x" }, { destination: "x", events: {} }]) {
      const r = parseLineWebhook(bad);
      expect(r.ok).toBe(false);
    }
    const noText = parseLineWebhook({
      destination: "x",
      events: [lineMessageEvent({ userId: ALICE, message: { id: "1", type: "text" } })],
    });
    expect(noText.ok).toBe(false);
    if (!noText.ok) expect(noText.issues.join()).toContain("events.0.message.text");
    const noEventId = lineMessageEvent({ userId: ALICE, message: { id: "1", type: "text", text: "x" } });
    delete noEventId.webhookEventId;
    expect(parseLineWebhook({ destination: "x", events: [noEventId] }).ok).toBe(false);
  });

  it("a message becomes an InboundMessage: webhookEventId as the provider event id, the user, the time, the profile", () => {
    const r = parseLineWebhook(
      JSON.parse(
        lineWebhookBody([
          lineMessageEvent({ eventId: "EV1", userId: ALICE, timestamp: 1_700_000_000_000, message: { id: "1", type: "text", text: "hi" } }),
        ]),
      ),
    );
    if (!r.ok) throw new Error("parse");
    const event = r.value.messages[0]!;
    expect(toInboundMessage(event, { displayName: "Alice", pictureUrl: "https://p.example/a" })).toEqual({
      kind: "message",
      providerEventId: "EV1",
      channelUserId: ALICE,
      displayName: "Alice",
      pictureUrl: "https://p.example/a",
      parts: [{ type: "text", text: "hi" }],
      sentAt: new Date(1_700_000_000_000).toISOString(),
    });
    // Without a profile, no name: a known customer keeps theirs.
    expect(toInboundMessage(event, undefined)).not.toHaveProperty("displayName");
  });

  it("[R2.2] a group or room message carries the group (room) id and its writer", () => {
    const group = lineGroupId("team");
    const r = parseLineWebhook(
      JSON.parse(
        lineWebhookBody([lineMessageEvent({ userId: ALICE, groupId: group, message: { id: "1", type: "text", text: "hi all" } })]),
      ),
    );
    if (!r.ok) throw new Error("parse");
    expect(toInboundMessage(r.value.messages[0]!, undefined)).toMatchObject({ channelUserId: ALICE, groupId: group });
    const room = `R${"a".repeat(32)}`;
    const inRoom = parseLineWebhook({
      destination: "x",
      events: [
        { ...lineMessageEvent({ userId: ALICE, message: { id: "2", type: "text", text: "r" } }), source: { type: "room", roomId: room } },
      ],
    });
    if (!inRoom.ok) throw new Error("parse");
    // No userId (the user did not share it): the room itself is the writer.
    expect(toInboundMessage(inRoom.value.messages[0]!, undefined)).toMatchObject({ channelUserId: room, groupId: room });
  });
});

describe("LINE profiles through the Messaging API client (against the fake)", () => {
  const TOKEN = "profile-token";
  let fake: FakeLine;
  let account: ChannelAccount;
  beforeAll(async () => {
    fake = await FakeLine.start([TOKEN]);
    account = {
      id: "ch1",
      workspaceId: "ws",
      type: "line",
      status: "active",
      settings: {},
      secrets: { channelSecret: SECRET, channelAccessToken: TOKEN },
    };
  });
  afterAll(() => fake.stop());

  const events = (userId: string, groupId?: string) => {
    const r = parseLineWebhook(
      JSON.parse(
        lineWebhookBody([lineMessageEvent({ userId, ...(groupId ? { groupId } : {}), message: { id: "1", type: "text", text: "x" } })]),
      ),
    );
    if (!r.ok) throw new Error("parse");
    return r.value.messages;
  };

  it("reads the display name and picture once per user, then from the cache; group members through the group's member profile", async () => {
    forgetProfiles();
    useLineApiBaseUrl(fake.url);
    fake.setProfile(ALICE, { displayName: "Alice", pictureUrl: "https://profile.line-scdn.net/alice" });
    const first = await lineProfiles(account, events(ALICE));
    expect(first.get(ALICE)).toEqual({ displayName: "Alice", pictureUrl: "https://profile.line-scdn.net/alice" });
    const n = fake.requests.length;
    await lineProfiles(account, events(ALICE));
    expect(fake.requests.length).toBe(n);
    const bob = lineUserId("bob");
    fake.setProfile(bob, { displayName: "Bob" });
    expect((await lineProfiles(account, events(bob, lineGroupId("g")))).get(bob)).toEqual({ displayName: "Bob" });
    expect(fake.requests.at(-1)!.path).toBe(`/v2/bot/group/${lineGroupId("g")}/member/${bob}`);
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(fake.violations()).toEqual([]);
  });

  it("a profile LINE does not give (404, 500, no answer in time) is left out, and asked again next time", async () => {
    forgetProfiles();
    const carol = lineUserId("carol");
    expect((await lineProfiles(account, events(carol))).has(carol)).toBe(false); // 404: unknown to the fake
    fake.setProfile(carol, { displayName: "Carol" });
    fake.fail("profile", { status: 500 });
    expect((await lineProfiles(account, events(carol))).has(carol)).toBe(false);
    fake.fail("profile", { timeout: true });
    expect((await lineProfiles(account, events(carol), { deadlineMs: 200 })).has(carol)).toBe(false);
    expect((await lineProfiles(account, events(carol))).get(carol)).toEqual({ displayName: "Carol" });
  });
});
