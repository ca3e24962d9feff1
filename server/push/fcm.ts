import { SignJWT, importPKCS8 } from "jose";
import type { DeviceRow } from "../../db/devices.ts";
import { DeviceKind, type PushPayload } from "../../domain/push.ts";
import { type PushResult, type PushSender, SEND_TIMEOUT_MS, networkFailure, resultOfStatus } from "./sender.ts";

/**
 * Firebase Cloud Messaging, HTTP v1 API (`POST {base}/v1/projects/{project}/messages:send`),
 * authorised with an OAuth 2.0 access token that the server obtains itself from a Google service
 * account key (the JSON file the Firebase console downloads): a JWT signed with the key's private
 * key (RS256) is exchanged at the key's `token_uri` (RFC 7523 JWT bearer grant). The token is kept
 * until a minute before it expires. Android apps receive the push directly; iOS apps through
 * FCM's APNs bridge (configured in the Firebase console).
 */

/** The fields of a Google service account key this sender reads. */
export interface ServiceAccount {
  readonly project_id: string;
  readonly client_email: string;
  readonly private_key: string;
  readonly token_uri?: string;
}

export interface FcmOptions {
  readonly account: ServiceAccount;
  /** `FCM_PROJECT_ID`, else the key's `project_id`. */
  readonly projectId: string;
  /** `FCM_BASE_URL` (https://fcm.googleapis.com). */
  readonly baseUrl: string;
  /** `FCM_TOKEN_URL`, else the key's `token_uri`, else https://oauth2.googleapis.com/token. */
  readonly tokenUrl: string;
  readonly now?: () => Date;
}

export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

export class FcmSender implements PushSender {
  readonly kind = DeviceKind.fcm;
  private token: { value: string; until: number } | null = null;
  private fetching: Promise<string> | null = null;

  constructor(private readonly opts: FcmOptions) {}

  async send(device: DeviceRow, payload: PushPayload): Promise<PushResult> {
    let accessToken: string;
    try {
      accessToken = await this.accessToken();
    } catch (err) {
      return networkFailure(err);
    }
    try {
      const res = await fetch(`${this.opts.baseUrl}/v1/projects/${encodeURIComponent(this.opts.projectId)}/messages:send`, {
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ message: fcmMessage(device.token, payload) }),
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      const text = await res.text().catch(() => "");
      if (res.status === 401) this.token = null; // expired or revoked early: fetch a new one next time
      const result = resultOfStatus(res.status, text.slice(0, 300));
      // FCM says a token is gone with 404 UNREGISTERED (older answers: 400 with that error code).
      if (!result.ok && text.includes("UNREGISTERED")) return { ...result, gone: true, transient: false };
      if (!result.ok && res.status === 401) return { ...result, transient: true };
      return result;
    } catch (err) {
      return networkFailure(err);
    }
  }

  /** A valid access token: the kept one, or a new one (one exchange at a time). */
  private async accessToken(): Promise<string> {
    const now = (this.opts.now ?? (() => new Date()))().getTime();
    if (this.token && this.token.until > now) return this.token.value;
    this.fetching ??= this.exchange(now).finally(() => {
      this.fetching = null;
    });
    return this.fetching;
  }

  private async exchange(now: number): Promise<string> {
    const { account, tokenUrl } = this.opts;
    const key = await importPKCS8(account.private_key, "RS256");
    const iat = Math.floor(now / 1000);
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT" })
      .setIssuer(account.client_email)
      .setSubject(account.client_email)
      .setAudience(tokenUrl)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(key);
    const res = await fetch(tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (!res.ok || typeof body.access_token !== "string") throw new Error(`FCM token exchange failed: HTTP ${res.status}`);
    const ttl = typeof body.expires_in === "number" ? body.expires_in : 3600;
    this.token = { value: body.access_token, until: now + Math.max(0, ttl - 60) * 1000 };
    return body.access_token;
  }
}

/**
 * The v1 `Message` for one device: a notification (title, body) shown by the system, the payload
 * as `data` (FCM data values are strings), collapsed per conversation on Android and iOS, the
 * app badge on iOS.
 */
export function fcmMessage(token: string, p: PushPayload) {
  return {
    token,
    notification: { title: p.title, body: p.body },
    data: {
      type: p.type,
      conversationId: p.conversationId,
      customerName: p.customerName,
      count: String(p.count),
      preview: p.preview,
      unread: String(p.unread),
      totalUnread: String(p.totalUnread),
      locale: p.locale,
    },
    android: { priority: "HIGH", collapse_key: p.conversationId, notification: { tag: p.conversationId } },
    apns: {
      headers: { "apns-priority": "10", "apns-collapse-id": p.conversationId.slice(0, 64) },
      payload: { aps: { badge: p.totalUnread, "thread-id": p.conversationId } },
    },
  };
}
