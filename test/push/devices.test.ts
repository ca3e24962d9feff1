import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createConversation } from "../support/fixtures.ts";
import { api } from "../support/http.ts";
import { tokenOf } from "../support/rooms.ts";
import { ID } from "../support/server.ts";
import { registerFcm, registerWeb, usePushServer } from "./support.ts";

/** `/api/v2/devices` and `/api/v2/push`: the caller's own devices and preferences, and bad input. */
const rig = usePushServer();
const { app } = rig;

async function del(token: string, path: string) {
  const res = await app.http.request(path, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as any) };
}

describe("devices API", () => {
  it("answers the configured VAPID public key", async () => {
    const r = await api(app, await tokenOf(app, "agent"), "/api/v2/devices/vapid-public-key");
    expect(r).toEqual({ status: 200, body: { publicKey: rig.vapidPublicKey } });
  });

  it("without a token every route is 401", async () => {
    for (const [method, path] of [
      ["GET", "/api/v2/devices"],
      ["POST", "/api/v2/devices"],
      ["DELETE", "/api/v2/devices/x"],
      ["GET", "/api/v2/push/preferences"],
    ] as const) {
      const res = await app.http.request(path, { method });
      expect(res.status).toBe(401);
    }
  });

  it("a member sees and removes only their own devices: another member's is 404 and stays", async () => {
    const eve = await tokenOf(app, "agent2");
    const finn = await tokenOf(app, "agent3");
    const evePhone = await registerFcm(rig, "agent2");
    const finnWeb = await registerWeb(rig, "agent3");
    const eveList = (await api(app, eve, "/api/v2/devices")).body.items.map((d: { id: string }) => d.id);
    expect(eveList).toContain(evePhone.deviceId);
    expect(eveList).not.toContain(finnWeb.deviceId);
    expect((await del(eve, `/api/v2/devices/${finnWeb.deviceId}`)).status).toBe(404);
    expect((await api(app, finn, "/api/v2/devices")).body.items.map((d: { id: string }) => d.id)).toContain(finnWeb.deviceId);
    expect((await del(eve, `/api/v2/devices/${evePhone.deviceId}`)).status).toBe(204);
    expect((await api(app, eve, "/api/v2/devices")).body.items.map((d: { id: string }) => d.id)).not.toContain(evePhone.deviceId);
  });

  it("registering a known token again updates it (200); another member registering it takes it over", async () => {
    const eve = await tokenOf(app, "agent2");
    const finn = await tokenOf(app, "agent3");
    const phone = await registerFcm(rig, "agent2");
    const again = await api(app, eve, "/api/v2/devices", { method: "POST", body: { kind: "fcm", token: phone.token, label: "renamed" } });
    expect(again).toMatchObject({ status: 200, body: { id: phone.deviceId, label: "renamed" } });
    const taken = await api(app, finn, "/api/v2/devices", { method: "POST", body: { kind: "fcm", token: phone.token } });
    expect(taken.status).toBe(201);
    expect((await api(app, eve, "/api/v2/devices")).body.items.map((d: { id: string }) => d.id)).not.toContain(phone.deviceId);
  });

  it("muting a conversation of another workspace, or none, is 404 NOT_FOUND", async () => {
    const r = await api(app, await tokenOf(app, "agent"), "/api/v2/push/mutes/no-such-conversation", { method: "PUT" });
    expect(r).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent });
    expect((await api(app, await tokenOf(app, "agent"), `/api/v2/push/mutes/${c.id}`, { method: "PUT" })).status).toBe(200);
  });

  it("a registration body that is not a valid subscription or token is 400 INVALID_PAYLOAD and stores nothing", async () => {
    const token = await tokenOf(app, "marketing");
    const sub = rig.webPush.subscribe();
    const good = { kind: "web", subscription: { endpoint: sub.endpoint, keys: sub.keys } };
    const bad = fc.oneof(
      fc.anything(),
      fc.record({ kind: fc.string(), token: fc.string() }),
      fc.record({ kind: fc.constant("fcm"), token: fc.oneof(fc.constant(""), fc.string({ minLength: 4097, maxLength: 4100 }), fc.constantFrom("a b", "ä", "x/y")) }),
      fc.record({
        kind: fc.constant("web"),
        subscription: fc.record({
          endpoint: fc.oneof(fc.string(), fc.constantFrom("ftp://x.test/a", "javascript:alert(1)")),
          keys: fc.record({ p256dh: fc.string(), auth: fc.string() }),
        }),
      }),
      fc.constantFrom(
        { ...good, subscription: { ...good.subscription, keys: { ...sub.keys, auth: "AAAA" } } },
        { ...good, subscription: { ...good.subscription, keys: { p256dh: Buffer.alloc(65, 1).toString("base64url"), auth: sub.keys.auth } } },
        { ...good, extra: true },
        { kind: "apns", token: "abc" },
      ),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (body) => {
        const r = await api(app, token, "/api/v2/devices", { method: "POST", body: body ?? "null" });
        expect(r.status).toBe(400);
        expect(r.body.code).toBe("INVALID_PAYLOAD");
      }),
      { numRuns: 60 },
    );
    expect((await api(app, token, "/api/v2/devices")).body.items).toEqual([]);
    // The same subscription, well formed, is accepted.
    expect((await api(app, token, "/api/v2/devices", { method: "POST", body: good })).status).toBe(201);
  });
});
