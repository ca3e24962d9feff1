import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import webpush from "web-push";
import { afterAll, beforeAll } from "vitest";
import { PushWorker } from "../../server/push/worker.ts";
import type { Fixture } from "../support/fixtures.ts";
import { api, webchat } from "../support/http.ts";
import { tokenOf } from "../support/rooms.ts";
import { type App, useTestServer } from "../support/server.ts";
import { FakeApns } from "./fakeApns.ts";
import { FakeFcm, type FakeSubscription, FakeWebPush } from "./fakes.ts";

/** The coalescing window the push tests run with (PUSH_COALESCE_SECONDS). */
export const WINDOW_SECONDS = 10;

export interface PushRig {
  readonly app: App;
  readonly webPush: FakeWebPush;
  readonly fcm: FakeFcm;
  readonly apns: FakeApns;
  /** The .p8 key the server signs APNs provider tokens with (the fake knows its public half). */
  readonly apnsKeyPem: string;
  readonly vapidPublicKey: string;
  /** The server's push worker, on a clock the test moves (the app's own worker is stopped). */
  worker(): PushWorker;
  /** Folds and sends what is due now. */
  drain(): Promise<void>;
  /** Moves the clock past the coalescing window, then drains. */
  afterWindow(): Promise<void>;
}

/**
 * A real server whose Web Push and FCM senders point at local fakes (VAPID keys and a service
 * account key made here), and a push worker on a movable clock: messages are folded at "now", sent
 * once the clock passes the window. Call at the top of a test file.
 */
export function usePushServer(): PushRig {
  const vapid = webpush.generateVAPIDKeys();
  const rsa = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const account = { project_id: "inbox-push-test", client_email: "push@inbox-push-test.iam.gserviceaccount.com" };
  const webPush = new FakeWebPush(() => vapid.publicKey);
  const fcm = new FakeFcm({ ...account, publicKeyPem: rsa.publicKey });
  const p8 = apnsKey();
  const apns = new FakeApns({ keyId: APNS.keyId, teamId: APNS.teamId, topic: APNS.topic, publicKeyPem: p8.publicKey });
  beforeAll(async () => {
    await webPush.start();
    await fcm.start();
    await apns.start();
  });
  const app = useTestServer({
    env: () => ({
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: "mailto:ops@inbox.test",
      WEB_PUSH_ALLOW_HTTP: "true",
      FCM_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...account, private_key: rsa.privateKey, token_uri: `${fcm.url}/token` }),
      FCM_BASE_URL: fcm.url,
      APNS_KEY_P8: p8.privateKey,
      APNS_KEY_ID: APNS.keyId,
      APNS_TEAM_ID: APNS.teamId,
      APNS_TOPIC: APNS.topic,
      APNS_BASE_URL: apns.url,
      PUSH_COALESCE_SECONDS: String(WINDOW_SECONDS),
    }),
  });
  let skew = 0;
  let worker: PushWorker | null = null;
  beforeAll(async () => {
    await app.push.stop();
    worker = new PushWorker({ ...app.push.opts, now: () => new Date(Date.now() + skew) });
  });
  afterAll(async () => {
    await worker?.stop();
    await webPush.stop();
    await fcm.stop();
    await apns.stop();
  });
  const drain = async () => {
    await worker!.drainAll();
  };
  return {
    app,
    webPush,
    fcm,
    apns,
    apnsKeyPem: p8.privateKey,
    vapidPublicKey: vapid.publicKey,
    worker: () => worker!,
    drain,
    async afterWindow() {
      await drain(); // fold what committed so far at "now"
      skew += (WINDOW_SECONDS + 1) * 1000;
      await drain();
    },
  };
}

/** Registers a browser subscription for a demo member; returns it (the fake keeps its private key). */
export async function registerWeb(rig: PushRig, who: string): Promise<FakeSubscription & { deviceId: string }> {
  const sub = rig.webPush.subscribe();
  const r = await api(rig.app, await tokenOf(rig.app, who), "/api/v2/devices", {
    method: "POST",
    body: { kind: "web", subscription: { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }, label: `browser of ${who}` },
  });
  if (r.status !== 201) throw new Error(`web device not registered: ${r.status} ${JSON.stringify(r.body)}`);
  return { ...sub, deviceId: r.body.id };
}

/** Registers an FCM token for a demo member; returns the token. */
export async function registerFcm(rig: PushRig, who: string): Promise<{ token: string; deviceId: string }> {
  const token = `fcm-${randomUUID()}:APA91b${randomUUID().replaceAll("-", "")}`;
  const r = await api(rig.app, await tokenOf(rig.app, who), "/api/v2/devices", { method: "POST", body: { kind: "fcm", token, label: `phone of ${who}` } });
  if (r.status !== 201) throw new Error(`fcm device not registered: ${r.status} ${JSON.stringify(r.body)}`);
  return { token, deviceId: r.body.id };
}

/** A customer message into the conversation through the Webchat channel endpoint. */
export function say(app: App, c: Fixture, text: string, messageId: string = randomUUID()) {
  return webchat(app, { messageId, customer: { id: c.channelUserId, name: c.customerName }, text });
}

/** The APNs identity the tests' server signs provider tokens with. */
export const APNS = { keyId: "ABC123DEFG", teamId: "TEAM123456", topic: "tw.example.inbox" } as const;

/** An APNs auth key as Apple's `.p8` holds it: a P-256 private key, PKCS #8 PEM (and its public half for the fake). */
export function apnsKey(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync("ec", {
    namedCurve: "prime256v1",
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
}

/** A device token as iOS gives it: 32 random bytes, hex. */
export function apnsToken(): string {
  return randomBytes(32).toString("hex");
}

/** Registers an APNs device token for a demo member; returns it. */
export async function registerApns(rig: PushRig, who: string, token: string = apnsToken()): Promise<{ token: string; deviceId: string }> {
  const r = await api(rig.app, await tokenOf(rig.app, who), "/api/v2/devices", { method: "POST", body: { kind: "apns", token, label: `iPhone of ${who}` } });
  if (r.status !== 201) throw new Error(`apns device not registered: ${r.status} ${JSON.stringify(r.body)}`);
  return { token: token.toLowerCase(), deviceId: r.body.id };
}
