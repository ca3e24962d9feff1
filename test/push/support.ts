import { generateKeyPairSync, randomUUID } from "node:crypto";
import webpush from "web-push";
import { afterAll, beforeAll } from "vitest";
import { PushWorker } from "../../server/push/worker.ts";
import type { Fixture } from "../support/fixtures.ts";
import { api, webchat } from "../support/http.ts";
import { tokenOf } from "../support/rooms.ts";
import { type App, useTestServer } from "../support/server.ts";
import { FakeFcm, type FakeSubscription, FakeWebPush } from "./fakes.ts";

/** The coalescing window the push tests run with (PUSH_COALESCE_SECONDS). */
export const WINDOW_SECONDS = 10;

export interface PushRig {
  readonly app: App;
  readonly webPush: FakeWebPush;
  readonly fcm: FakeFcm;
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
  beforeAll(async () => {
    await webPush.start();
    await fcm.start();
  });
  const app = useTestServer({
    env: () => ({
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: "mailto:ops@inbox.test",
      WEB_PUSH_ALLOW_HTTP: "true",
      FCM_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...account, private_key: rsa.privateKey, token_uri: `${fcm.url}/token` }),
      FCM_BASE_URL: fcm.url,
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
    await webPush.stop();
    await fcm.stop();
  });
  const drain = async () => {
    await worker!.drainAll();
  };
  return {
    app,
    webPush,
    fcm,
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
