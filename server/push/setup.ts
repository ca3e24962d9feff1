import { createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import webpush from "web-push";
import { z } from "zod";
import { type DeviceKind, DeviceKind as Kind } from "../../domain/push.ts";
import { type Config, ConfigError } from "../config.ts";
import { ApnsSender } from "./apns.ts";
import { FcmSender, type ServiceAccount } from "./fcm.ts";
import type { PushSender } from "./sender.ts";
import { type VapidKeys, WebPushSender } from "./webPush.ts";

/** What the HTTP API needs to know about push: which device kinds can be registered, the VAPID public key. */
export interface PushSetup {
  readonly senders: ReadonlyMap<DeviceKind, PushSender>;
  /** Null: Web Push is off (no keys, not embedded). */
  readonly vapidPublicKey: string | null;
  /** Accept http:// Web Push endpoints (tests only). */
  readonly allowHttpEndpoints: boolean;
}

/** Builds the senders the configuration enables. A bad FCM key stops the start, naming the variable. */
export function setUpPush(config: Config, log: Logger): PushSetup {
  const senders = new Map<DeviceKind, PushSender>();
  const vapid = vapidKeys(config, log);
  if (vapid) senders.set(Kind.web, new WebPushSender(vapid));
  const fcm = fcmSender(config);
  if (fcm) senders.set(Kind.fcm, fcm);
  const apns = apnsSender(config);
  if (apns) senders.set(Kind.apns, apns);
  log.info({ web: Boolean(vapid), fcm: Boolean(fcm), apns: Boolean(apns) }, "push senders");
  return { senders, vapidPublicKey: vapid?.publicKey ?? null, allowHttpEndpoints: config.push.allowHttpEndpoints };
}

/**
 * The VAPID keys: configured; else, on the embedded default, a pair generated once and kept in
 * `DATA_DIR/vapid.json` (browsers' subscriptions are bound to the public key, so it must survive
 * restarts); else none (Web Push off: several processes would each make their own pair).
 */
function vapidKeys(config: Config, log: Logger): VapidKeys | null {
  const subject = config.push.vapidSubject ?? `mailto:push@${hostOf(config.publicUrl)}`;
  if (config.push.vapid) return { ...config.push.vapid, subject };
  if (config.databaseUrl || config.dataDir === "memory://") {
    log.warn("VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY are not set: Web Push is off");
    return null;
  }
  const file = join(config.dataDir, "vapid.json");
  try {
    const kept = z.object({ publicKey: z.string(), privateKey: z.string() }).parse(JSON.parse(readFileSync(file, "utf8")));
    return { ...kept, subject };
  } catch {
    const made = webpush.generateVAPIDKeys();
    writeFileSync(file, JSON.stringify({ publicKey: made.publicKey, privateKey: made.privateKey }), { mode: 0o600 });
    return { publicKey: made.publicKey, privateKey: made.privateKey, subject };
  }
}

function hostOf(url: string | undefined): string {
  try {
    return url ? new URL(url).hostname : "localhost";
  } catch {
    return "localhost";
  }
}

const ServiceAccountKey = z.object({
  project_id: z.string().min(1),
  client_email: z.string().min(1),
  private_key: z.string().includes("PRIVATE KEY"),
  token_uri: z.string().url().optional(),
});

function fcmSender(config: Config): FcmSender | null {
  const f = config.push.fcm;
  if (!f.serviceAccountFile && !f.serviceAccountJson) return null;
  const name = f.serviceAccountJson ? "FCM_SERVICE_ACCOUNT_JSON" : "FCM_SERVICE_ACCOUNT";
  let account: ServiceAccount;
  try {
    const text = f.serviceAccountJson ?? readFileSync(f.serviceAccountFile!, "utf8");
    account = ServiceAccountKey.parse(JSON.parse(text));
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  ${name}: not a readable service account key (${err instanceof Error ? err.message.split("\n")[0] : err})`);
  }
  return new FcmSender({
    account,
    projectId: f.projectId ?? account.project_id,
    baseUrl: f.baseUrl,
    tokenUrl: f.tokenUrl ?? account.token_uri ?? "https://oauth2.googleapis.com/token",
  });
}

/** APNs with token-based auth: the `.p8` key must be a P-256 private key (PKCS #8 PEM), else the start stops naming the variable. */
function apnsSender(config: Config): ApnsSender | null {
  const a = config.push.apns;
  if (!a) return null;
  const name = a.keyPem ? "APNS_KEY_P8" : "APNS_KEY";
  let pem: string;
  try {
    pem = a.keyPem ?? readFileSync(a.keyFile!, "utf8");
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error("not a P-256 (ES256) key");
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  ${name}: not a readable APNs auth key (.p8) (${err instanceof Error ? err.message.split("\n")[0] : err})`);
  }
  return new ApnsSender({ privateKeyPem: pem, keyId: a.keyId, teamId: a.teamId, topic: a.topic, baseUrl: a.baseUrl });
}
