/**
 * Push notifications (R12.1, issue 11): the pure parts — what kinds of device there are, how a
 * preview is cut, and what a push carries. Who gets one is decided in `decide()` (customerMessage's
 * `push` effect); server/push/ sends them.
 */
import type { Locale } from "./sets.ts";
import { renderPush } from "./texts.ts";

/**
 * Where a device receives pushes: a browser's Web Push subscription, a mobile app's FCM token, or
 * an iOS app's APNs device token (sent to Apple directly, without FCM).
 */
export const DeviceKind = { web: "web", fcm: "fcm", apns: "apns" } as const;
export type DeviceKind = (typeof DeviceKind)[keyof typeof DeviceKind];
export const DEVICE_KINDS = Object.values(DeviceKind) as readonly DeviceKind[];

/** A preview holds at most this many characters (Unicode code points) of the latest message, "…" included. */
export const PREVIEW_MAX_CHARS = 100;

/**
 * The message cut to `PREVIEW_MAX_CHARS` code points (never inside a surrogate pair), whitespace
 * runs folded to one space, with "…" when cut. A message with no text (an image) previews as "".
 */
export function previewOf(text: string, max = PREVIEW_MAX_CHARS): string {
  const folded = text.replace(/\s+/gu, " ").trim();
  const points = Array.from(folded);
  if (points.length <= max) return folded;
  return `${points.slice(0, max - 1).join("")}…`;
}

/** What every push carries, whatever the device (docs/protocol.md, "Push notifications"). */
export interface PushPayload {
  readonly type: "customer_message";
  readonly conversationId: string;
  readonly customerName: string;
  /** Customer messages since the last push to this member for this conversation. */
  readonly count: number;
  readonly preview: string;
  /** The member's unread count in this conversation (R11), when the push left. */
  readonly unread: number;
  /** The member's unread messages over all their conversations (an app badge). */
  readonly totalUnread: number;
  readonly locale: Locale;
  /** Rendered in the member's locale. */
  readonly title: string;
  readonly body: string;
}

export function pushPayload(input: {
  conversationId: string;
  customerName: string;
  count: number;
  latestText: string;
  unread: number;
  totalUnread: number;
  locale: Locale;
}): PushPayload {
  const preview = previewOf(input.latestText);
  const { title, body } = renderPush({ customerName: input.customerName, count: input.count, preview }, input.locale);
  return {
    type: "customer_message",
    conversationId: input.conversationId,
    customerName: input.customerName,
    count: input.count,
    preview,
    unread: input.unread,
    totalUnread: input.totalUnread,
    locale: input.locale,
    title,
    body,
  };
}
