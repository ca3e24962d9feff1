import { createHash } from "node:crypto";
import { type ClientHttp2Session, connect, constants } from "node:http2";
import { type CryptoKey, SignJWT, importPKCS8 } from "jose";
import type { DeviceRow } from "../../db/devices.ts";
import { DeviceKind, type PushPayload, previewOf } from "../../domain/push.ts";
import { type PushResult, type PushSender, SEND_TIMEOUT_MS, networkFailure, resultOfStatus } from "./sender.ts";

/**
 * Apple Push Notification service, the HTTP/2 provider API (`POST {base}/3/device/{token}` over
 * one kept HTTP/2 connection, as Apple requires), authorised with a provider token: a JWT signed
 * with the team's APNs auth key (the `.p8` file from the developer account, ES256), header `kid`
 * the key id, claims `iss` the team id and `iat`. Apple refuses a token older than an hour and
 * one renewed more often than every 20 minutes: it is kept for 50 minutes (and renewed at once
 * when Apple says `ExpiredProviderToken`).
 *
 * Apple's answers: 200 sent; 410 `Unregistered` and 400 `BadDeviceToken` (the token is not, or no
 * longer, an app install's for this topic) remove the device; 429 and 5xx are tried again later.
 */

export interface ApnsOptions {
  /** The `.p8` auth key's text (PKCS #8 PEM, P-256). */
  readonly privateKeyPem: string;
  /** `APNS_KEY_ID`: the key's 10-character id (the JWT's `kid`). */
  readonly keyId: string;
  /** `APNS_TEAM_ID`: the developer team's 10-character id (the JWT's `iss`). */
  readonly teamId: string;
  /** `APNS_TOPIC`: the app's bundle id (`apns-topic`). */
  readonly topic: string;
  /** `APNS_BASE_URL`: https://api.push.apple.com (or the sandbox); tests point it at a local fake (h2c). */
  readonly baseUrl: string;
  readonly now?: () => Date;
}

/** A provider token is used this long, then a new one is signed (Apple: between 20 and 60 minutes). */
export const APNS_TOKEN_REUSE_MS = 50 * 60_000;
/** How long Apple keeps an undelivered push (seconds), as Web Push's TTL. */
const EXPIRATION_SECONDS = 3600;
/** Apple's limit on a notification's JSON payload (bytes). */
export const APNS_MAX_PAYLOAD_BYTES = 4096;

export class ApnsSender implements PushSender {
  readonly kind = DeviceKind.apns;
  private session: ClientHttp2Session | null = null;
  private token: { value: string; issuedAt: number } | null = null;
  private key: Promise<CryptoKey> | null = null;
  private signing: Promise<string> | null = null;

  constructor(private readonly opts: ApnsOptions) {}

  private now(): number {
    return (this.opts.now ?? (() => new Date()))().getTime();
  }

  async send(device: DeviceRow, payload: PushPayload): Promise<PushResult> {
    let bearer: string;
    try {
      bearer = await this.providerToken();
    } catch (err) {
      return networkFailure(err);
    }
    const body = JSON.stringify(apnsPayload(payload));
    const headers = {
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: `/3/device/${encodeURIComponent(device.token)}`,
      authorization: `bearer ${bearer}`,
      "apns-topic": this.opts.topic,
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-expiration": String(Math.floor(this.now() / 1000) + EXPIRATION_SECONDS),
      "apns-collapse-id": collapseIdOf(payload.conversationId),
      "content-type": "application/json",
    };
    let answer: { status: number; text: string };
    try {
      answer = await this.request(headers, body);
    } catch (err) {
      return networkFailure(err);
    }
    const reason = reasonOf(answer.text);
    if (answer.status === 403 && (reason === "ExpiredProviderToken" || reason === "InvalidProviderToken")) {
      this.token = null; // sign a new one for the next try
      return { ok: false, gone: false, transient: reason === "ExpiredProviderToken", status: 403, reason };
    }
    const result = resultOfStatus(answer.status, reason || answer.text.slice(0, 200));
    if (result.ok) return result;
    // 410 Unregistered, or 400 BadDeviceToken (a token of another environment or app): the device goes.
    if (answer.status === 410 || (answer.status === 400 && reason === "BadDeviceToken")) return { ...result, gone: true, transient: false };
    // 404 is Apple's "bad path" (BadPath, BadMethod), not a gone device.
    if (answer.status === 404) return { ...result, gone: false };
    return result;
  }

  /** Closes the kept connection (at shutdown; a next send opens a new one). */
  close(): void {
    this.session?.close();
    this.session = null;
  }

  /** The kept provider token, or a new one when it is 50 minutes old (one signing at a time: sends in parallel share it). */
  private providerToken(): Promise<string> {
    const now = this.now();
    if (this.token && now - this.token.issuedAt < APNS_TOKEN_REUSE_MS) return Promise.resolve(this.token.value);
    this.signing ??= this.sign(now).finally(() => {
      this.signing = null;
    });
    return this.signing;
  }

  private async sign(now: number): Promise<string> {
    this.key ??= importPKCS8(this.opts.privateKeyPem, "ES256");
    const key = await this.key.catch((err: unknown) => {
      this.key = null;
      throw err;
    });
    const value = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: this.opts.keyId })
      .setIssuer(this.opts.teamId)
      .setIssuedAt(Math.floor(now / 1000))
      .sign(key);
    this.token = { value, issuedAt: now };
    return value;
  }

  /** The kept HTTP/2 connection, opened again when it closed or failed (Apple closes idle ones). */
  private connection(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect(this.opts.baseUrl);
    session.on("error", () => {
      if (this.session === session) this.session = null;
    });
    session.on("goaway", () => {
      if (this.session === session) this.session = null;
    });
    session.on("close", () => {
      if (this.session === session) this.session = null;
    });
    session.unref(); // an idle connection never keeps the process alive
    this.session = session;
    return session;
  }

  private request(headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const session = this.connection();
      session.ref(); // while a request runs
      const req = session.request(headers);
      const done = () => {
        if (!session.destroyed) session.unref();
      };
      req.setTimeout(SEND_TIMEOUT_MS, () => req.close(constants.NGHTTP2_CANCEL));
      let status = 0;
      const chunks: Buffer[] = [];
      req.on("response", (h) => {
        status = Number(h[constants.HTTP2_HEADER_STATUS]);
      });
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        done();
        resolve({ status, text: Buffer.concat(chunks).toString("utf8") });
      });
      req.on("close", () => {
        done();
        if (status === 0) reject(new Error(`APNs stream closed without an answer (code ${req.rstCode})`));
      });
      req.on("error", (err) => {
        done();
        reject(err);
      });
      req.end(body);
    });
  }
}

/** Apple's error body is `{"reason": "...", "timestamp"?: ...}`. */
function reasonOf(text: string): string {
  try {
    const r = (JSON.parse(text) as { reason?: unknown }).reason;
    return typeof r === "string" ? r : "";
  } catch {
    return "";
  }
}

/** `apns-collapse-id`: at most 64 bytes, the same for every push of one conversation. */
export function collapseIdOf(conversationId: string): string {
  return Buffer.byteLength(conversationId) <= 64 ? conversationId : createHash("sha256").update(conversationId).digest("base64url");
}

/**
 * The notification's JSON: `aps` (the alert shown by iOS, the app badge = the member's unread
 * messages over all their conversations, grouped per conversation by `thread-id`) and our keys
 * beside it, as in every push (docs/protocol.md §10). Past Apple's 4 KB, the `preview` key (the
 * alert's body already shows it) is left out.
 */
export function apnsPayload(p: PushPayload): Record<string, unknown> {
  const full = {
    aps: { alert: { title: p.title, body: p.body }, badge: p.totalUnread, sound: "default", "thread-id": p.conversationId },
    type: p.type,
    conversationId: p.conversationId,
    customerName: p.customerName,
    count: p.count,
    preview: p.preview,
    unread: p.unread,
    totalUnread: p.totalUnread,
    locale: p.locale,
  };
  const fits = (v: unknown) => Buffer.byteLength(JSON.stringify(v)) <= APNS_MAX_PAYLOAD_BYTES;
  if (fits(full)) return full;
  const { preview: _dropped, ...rest } = full;
  if (fits(rest)) return rest;
  // A customer name of hundreds of characters: the texts are cut to what a lock screen shows anyway.
  const alert = { title: previewOf(p.title, 120), body: previewOf(p.body, 120) };
  return { ...rest, aps: { ...rest.aps, alert }, customerName: previewOf(p.customerName, 120) };
}
