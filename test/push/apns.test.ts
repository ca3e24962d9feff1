import { randomBytes } from "node:crypto";
import fc from "fast-check";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { DeviceRow } from "../../db/devices.ts";
import { pushPayload } from "../../domain/push.ts";
import { parseConfig } from "../../server/config.ts";
import { APNS_MAX_PAYLOAD_BYTES, ApnsSender, apnsPayload, collapseIdOf } from "../../server/push/apns.ts";
import { setUpPush } from "../../server/push/setup.ts";
import { createConversation } from "../support/fixtures.ts";
import { api } from "../support/http.ts";
import { tokenOf } from "../support/rooms.ts";
import { ID } from "../support/server.ts";
import { APNS, apnsKey, apnsToken, registerApns, registerWeb, say, usePushServer } from "./support.ts";

/**
 * APNs (issue 11): iOS devices registered with their APNs device token get pushes straight from
 * Apple's HTTP/2 provider API, authorised with a provider token (ES256 JWT from the team's .p8
 * key). The fake (test/push/fakeApns.ts) checks each header, the JWT and the JSON as Apple
 * documents them.
 */
const rig = usePushServer();
const { app, apns } = rig;

const apnsFor = (token: string, conversationId: string) =>
  apns.received.filter((r) => r.token === token && r.payload.conversationId === conversationId);

describe("APNs", () => {
  it("[R12.1] the follower's and the collaborator's iPhones get one push each over HTTP/2, checked field by field; a non-participant's gets none", async () => {
    const dan = await registerApns(rig, "agent"); // follower, zh-TW
    const eve = await registerApns(rig, "agent2"); // collaborator, en
    const amy = await registerApns(rig, "supervisor"); // not a participant
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.agent2], customerName: "陳小姐" });
    expect((await say(app, c, "請問 明天 有開嗎？")).status).toBe(202);
    expect((await say(app, c, "還有 停車位嗎？")).status).toBe(202);
    await rig.afterWindow();

    expect(apns.problems).toEqual([]);
    const toDan = apnsFor(dan.token, c.id);
    expect(toDan).toHaveLength(1);
    expect(toDan[0]!.headers).toMatchObject({
      ":method": "POST",
      ":path": `/3/device/${dan.token}`,
      "apns-topic": APNS.topic,
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-collapse-id": c.id,
    });
    expect(toDan[0]!.headers.authorization).toMatch(/^bearer ey/);
    expect(toDan[0]!.payload).toEqual({
      aps: {
        alert: { title: "陳小姐 傳來 2 則新訊息", body: "還有 停車位嗎？" },
        badge: expect.any(Number),
        sound: "default",
        "thread-id": c.id,
      },
      type: "customer_message",
      conversationId: c.id,
      customerName: "陳小姐",
      count: 2,
      preview: "還有 停車位嗎？",
      unread: 2,
      totalUnread: toDan[0]!.payload.aps.badge,
      locale: "zh-TW",
    });
    expect(toDan[0]!.payload.aps.badge).toBeGreaterThanOrEqual(2); // the app badge: unread over all the member's conversations
    expect(apnsFor(eve.token, c.id)).toMatchObject([
      { payload: { aps: { alert: { title: "2 new messages from 陳小姐" } }, locale: "en", count: 2 } },
    ]);
    expect(apnsFor(amy.token, c.id)).toEqual([]);
    // One provider token and one HTTP/2 connection for every send so far.
    expect(apns.providerTokens.size).toBe(1);
    expect(apns.sessionsOpened).toBe(1);
  });

  it("410 Unregistered removes the device, 400 BadDeviceToken too; the member's browser still gets its push", async () => {
    const token = await tokenOf(app, "agent3");
    const gone = await registerApns(rig, "agent3");
    const bad = await registerApns(rig, "agent3");
    const web = await registerWeb(rig, "agent3");
    apns.unregister(gone.token);
    apns.badToken(bad.token);
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent3 });
    await say(app, c, "hello?");
    await rig.afterWindow();
    const ids = (await api(app, token, "/api/v2/devices")).body.items.map((d: { id: string }) => d.id);
    expect(ids).not.toContain(gone.deviceId);
    expect(ids).not.toContain(bad.deviceId);
    expect(ids).toContain(web.deviceId);
    expect(rig.webPush.received.filter((r) => r.subscriptionId === web.id && r.payload.conversationId === c.id)).toHaveLength(1);
    expect(apns.problems).toEqual([]);
  });

  it("a device token is hex, stored lower-case: the same token in capitals is the same device (200); anything else is 400 INVALID_PAYLOAD", async () => {
    const token = await tokenOf(app, "marketing");
    const hex = apnsToken();
    const first = await api(app, token, "/api/v2/devices", { method: "POST", body: { kind: "apns", token: hex.toUpperCase() } });
    expect(first).toMatchObject({ status: 201, body: { kind: "apns" } });
    const again = await api(app, token, "/api/v2/devices", { method: "POST", body: { kind: "apns", token: hex, label: "iPhone 16" } });
    expect(again).toMatchObject({ status: 200, body: { id: first.body.id, label: "iPhone 16" } });
    const notHex = fc.oneof(
      fc.string({ maxLength: 300 }).filter((s) => !/^[0-9A-Fa-f]{64,200}$/.test(s)),
      fc.constantFrom("0".repeat(63), "a".repeat(201), `${"a".repeat(63)}\u0000`, `${"a".repeat(64)}😀`, `${"a".repeat(62)}-_`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          notHex.map((t) => ({ kind: "apns", token: t })),
          fc.constant({ kind: "apns", token: hex, extra: 1 }),
          fc.constant({ kind: "apns", token: 42 }),
        ),
        async (body) => {
          const r = await api(app, token, "/api/v2/devices", { method: "POST", body });
          expect(r).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
        },
      ),
      { numRuns: 40 },
    );
    expect((await api(app, token, "/api/v2/devices")).body.items).toHaveLength(1);
  });
});

describe("the APNs sender", () => {
  const device = (token: string) =>
    ({
      id: "d",
      memberId: "m",
      kind: "apns",
      token,
      p256dh: null,
      auth: null,
      label: null,
      createdAt: new Date(),
      lastPushAt: null,
    }) as DeviceRow;
  const payload = (over: Partial<Parameters<typeof pushPayload>[0]> = {}) =>
    pushPayload({
      conversationId: "conv-1",
      customerName: "Ann",
      count: 1,
      latestText: "hi",
      unread: 1,
      totalUnread: 3,
      locale: "en",
      ...over,
    });

  it("reuses its provider token for 50 minutes, then signs a new one (Apple: between 20 and 60)", async () => {
    let clock = Date.now() - 55 * 60_000; // the first token is 55 minutes old at the second send
    const key = apnsKey();
    const sender = new ApnsSender({
      privateKeyPem: key.privateKey,
      keyId: APNS.keyId,
      teamId: APNS.teamId,
      topic: APNS.topic,
      baseUrl: apns.url,
      now: () => new Date(clock),
    });
    // The rig's fake knows another key: a provider token signed with this one is refused, as Apple would (403 InvalidProviderToken, not gone).
    const refused = await sender.send(device(apnsToken()), payload());
    expect(refused).toMatchObject({ ok: false, gone: false, status: 403, reason: "InvalidProviderToken" });
    sender.close();

    const good = new ApnsSender({
      privateKeyPem: PEM(),
      keyId: APNS.keyId,
      teamId: APNS.teamId,
      topic: APNS.topic,
      baseUrl: apns.url,
      now: () => new Date(clock),
    });
    const before = apns.providerTokens.size;
    const t = apnsToken();
    expect(await good.send(device(t), payload())).toEqual({ ok: true });
    clock += 10 * 60_000;
    expect(await good.send(device(t), payload())).toEqual({ ok: true });
    expect(apns.providerTokens.size).toBe(before + 1);
    clock = Date.now();
    expect(await good.send(device(t), payload())).toEqual({ ok: true });
    expect(apns.providerTokens.size).toBe(before + 2);
    good.close();
    expect(apns.problems).toEqual([]);
  });

  it("a service that does not answer is a transient failure, not a gone device", async () => {
    const sender = new ApnsSender({
      privateKeyPem: apnsKey().privateKey,
      keyId: APNS.keyId,
      teamId: APNS.teamId,
      topic: APNS.topic,
      baseUrl: "http://127.0.0.1:9",
    });
    expect(await sender.send(device(apnsToken()), payload())).toMatchObject({ ok: false, gone: false, transient: true, status: 0 });
    sender.close();
  });

  it("the payload stays within Apple's 4 KB: past it the preview key goes (the alert body shows it); a long conversation id is hashed into a 64-byte collapse id", () => {
    const big = apnsPayload(payload({ customerName: "😀".repeat(600), latestText: "😀".repeat(1000) }));
    expect(Buffer.byteLength(JSON.stringify(big))).toBeLessThanOrEqual(APNS_MAX_PAYLOAD_BYTES);
    expect(big).not.toHaveProperty("preview");
    expect(apnsPayload(payload())).toHaveProperty("preview", "hi");
    expect(collapseIdOf("c".repeat(64))).toBe("c".repeat(64));
    expect(Buffer.byteLength(collapseIdOf("長".repeat(30)))).toBeLessThanOrEqual(64);
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), (id) => Buffer.byteLength(collapseIdOf(id)) <= 64));
    // Any name and text (NUL, lone surrogates, 4-byte characters, thousands of them) stay within 4 KB.
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 3000 }),
        fc.string({ unit: "binary", maxLength: 3000 }),
        fc.nat(10_000),
        (name, text, n) => {
          const p = apnsPayload(payload({ customerName: name, latestText: text, count: n + 1 }));
          return Buffer.byteLength(JSON.stringify(p)) <= APNS_MAX_PAYLOAD_BYTES && Number.isInteger((p.aps as { badge: number }).badge);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("settings: all four APNs settings or none; a key that is not a P-256 .p8 stops the start naming the variable", () => {
    const base = { DATA_DIR: "memory://", JWT_SECRET: "x".repeat(40) };
    const four = { APNS_KEY_P8: PEM(), APNS_KEY_ID: APNS.keyId, APNS_TEAM_ID: APNS.teamId, APNS_TOPIC: APNS.topic };
    expect(parseConfig({ ...base, ...four }).push.apns).toMatchObject({ keyId: APNS.keyId, baseUrl: "https://api.push.apple.com" });
    expect(() => parseConfig({ ...base, APNS_KEY_ID: APNS.keyId })).toThrow(/set all or none/);
    expect(() => parseConfig({ ...base, ...four, APNS_KEY_ID: "short" })).toThrow(/APNS_KEY_ID/);
    const log = pino({ level: "silent" });
    expect(setUpPush(parseConfig({ ...base, ...four }), log).senders.has("apns")).toBe(true);
    expect(() => setUpPush(parseConfig({ ...base, ...four, APNS_KEY_P8: randomBytes(40).toString("base64") }), log)).toThrow(
      /APNS_KEY_P8: not a readable APNs auth key/,
    );
    const rsa = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+LQmlQ\n-----END PRIVATE KEY-----";
    expect(() => setUpPush(parseConfig({ ...base, ...four, APNS_KEY_P8: rsa }), log)).toThrow(/APNS_KEY_P8/);
  });
});

/** The rig's own .p8 (what its fake APNs verifies against). */
function PEM(): string {
  return rig.apnsKeyPem;
}
