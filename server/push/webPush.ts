import { createHash } from "node:crypto";
import webpush from "web-push";
import type { DeviceRow } from "../../db/devices.ts";
import { DeviceKind, type PushPayload } from "../../domain/push.ts";
import { type PushResult, type PushSender, SEND_TIMEOUT_MS, networkFailure, resultOfStatus } from "./sender.ts";

/** The server's VAPID identity (RFC 8292): browsers subscribe with the public key. */
export interface VapidKeys {
  /** Uncompressed P-256 public key, base64url (what `PushManager.subscribe` takes as `applicationServerKey`). */
  readonly publicKey: string;
  readonly privateKey: string;
  /** `mailto:` or `https:` contact the push service may use. */
  readonly subject: string;
}

/** How long a push service keeps an undelivered push (seconds): an hour-old "new message" is still worth showing. */
const TTL_SECONDS = 3600;

/**
 * Web Push (RFC 8030) with VAPID and aes128gcm payload encryption (RFC 8291), the `web-push`
 * package building the request (headers, encrypted body) and `fetch` sending it, so a send has a
 * deadline. The `Topic` header is per conversation: a push service holding an undelivered push
 * for the same conversation replaces it.
 */
export class WebPushSender implements PushSender {
  readonly kind = DeviceKind.web;

  constructor(private readonly vapid: VapidKeys) {}

  async send(device: DeviceRow, payload: PushPayload): Promise<PushResult> {
    let details: ReturnType<typeof webpush.generateRequestDetails>;
    try {
      details = webpush.generateRequestDetails(
        { endpoint: device.token, keys: { p256dh: device.p256dh ?? "", auth: device.auth ?? "" } },
        JSON.stringify(payload),
        {
          vapidDetails: this.vapid,
          TTL: TTL_SECONDS,
          urgency: "high",
          topic: topicOf(payload.conversationId),
          contentEncoding: "aes128gcm",
        },
      );
    } catch (err) {
      // Keys the library cannot use: the subscription can never receive a push.
      return { ok: false, gone: true, transient: false, status: 0, reason: err instanceof Error ? err.message : String(err) };
    }
    try {
      const res = await fetch(details.endpoint, {
        method: details.method,
        headers: details.headers as Record<string, string>,
        body: details.body ? new Uint8Array(details.body) : null,
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      const text = await res.text().catch(() => "");
      return resultOfStatus(res.status, text.slice(0, 200));
    } catch (err) {
      return networkFailure(err);
    }
  }
}

/** A Web Push `Topic`: at most 32 base64url characters, the same for every push of one conversation. */
export function topicOf(conversationId: string): string {
  return createHash("sha256").update(conversationId).digest("base64url").slice(0, 32);
}
