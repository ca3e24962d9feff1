import { Channel, assertNever } from "./sets.ts";
import { type TriggeredPart, cardOf, fallbackOf } from "./triggered.ts";

/**
 * Channel accounts and what travels through them (issue 9): the kinds of account a workspace
 * connects, their status, the parts a message is made of, and the delivery status of a staff
 * message on its way to the customer. Pure: no I/O.
 */

/** The kinds of channel account an admin connects (`/api/v2/channels`). */
export const ChannelType = {
  line: "line",
  messenger: "messenger",
  instagram: "instagram",
  whatsapp: "whatsapp",
  wechat: "wechat",
  webchat: "webchat",
} as const;
export type ChannelType = (typeof ChannelType)[keyof typeof ChannelType];
export const CHANNEL_TYPES = Object.values(ChannelType) as readonly ChannelType[];

/** The conversation channel (SPEC's set, R13.1) of an account type: Messenger conversations are `facebook`. */
export function conversationChannelOf(type: ChannelType): Channel {
  switch (type) {
    case ChannelType.line:
      return Channel.line;
    case ChannelType.messenger:
      return Channel.facebook;
    case ChannelType.instagram:
      return Channel.instagram;
    case ChannelType.whatsapp:
      return Channel.whatsapp;
    case ChannelType.wechat:
      return Channel.wechat;
    case ChannelType.webchat:
      return Channel.webchat;
    default:
      return assertNever(type);
  }
}

/** A disabled account refuses its webhooks (404) and holds its outbound messages. */
export const ChannelStatus = { active: "active", disabled: "disabled" } as const;
export type ChannelStatus = (typeof ChannelStatus)[keyof typeof ChannelStatus];

/**
 * Where a staff message is on its way to the customer. `queued` when committed; `sent` when the
 * provider's send API accepted it (a 200 means sent, not delivered); `delivered` / `read` when the
 * provider reports it; `failed` with a stable code when the provider refused it for good or the
 * retries ran out. `held` while its channel account is disabled.
 */
export const DeliveryStatus = {
  queued: "queued",
  held: "held",
  sent: "sent",
  delivered: "delivered",
  read: "read",
  failed: "failed",
} as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];
export const DELIVERY_STATUSES = Object.values(DeliveryStatus) as readonly DeliveryStatus[];

const RANK: Record<DeliveryStatus, number> = { queued: 0, held: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

/**
 * The status after a report of `next` on a message at `current`: statuses only move forward
 * (a late `delivered` after `read` changes nothing), `failed` is final, and `held` and `queued`
 * move between each other (a channel disabled, then enabled again).
 */
export function advanceDelivery(current: DeliveryStatus, next: DeliveryStatus): DeliveryStatus {
  if (current === DeliveryStatus.failed) return current;
  if (next === DeliveryStatus.failed) return next;
  return RANK[next] >= RANK[current] ? next : current;
}

/**
 * What a room does when told that a message's delivery changed to `told` (the status as stored
 * right after that change), given the status it shows: `"told"` — show the told delivery (it is
 * forward of what is shown); `"kept"` — keep what is shown (the telling arrived after a later
 * one: shown is forward of it, or shown is `failed`, which is final); `"read"` — read it from
 * storage, because the told status cannot be placed: `queued` and `held` move both ways (a
 * channel disabled, then enabled again), so their order of arrival may not be their order of
 * commit, and a status the room does not know has no order. Forward moves commute (statuses only
 * rise, `failed` ends them), so showing the furthest told one is showing what storage holds.
 */
export function deliveryAfterTold(shown: string | null, told: DeliveryStatus): "told" | "kept" | "read" {
  if (RANK[told] === 0) return "read";
  if (shown === null || !(shown in RANK)) return "read";
  const current = shown as DeliveryStatus;
  if (current === DeliveryStatus.failed) return "kept";
  return advanceDelivery(current, told) === told ? "told" : "kept";
}

/** The statuses a report of `next` moves a message from (`advanceDelivery` changes them): what storage may update in one statement. */
export function statusesMovedBy(next: DeliveryStatus): DeliveryStatus[] {
  return Object.values(DeliveryStatus).filter((current) => advanceDelivery(current, next) !== current);
}

/** One part of a message, as normalized from any provider. Media stay the provider's reference or URL. */
export type MessagePart =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image" | "video" | "audio" | "file"; readonly url?: string; readonly ref?: string; readonly name?: string }
  | { readonly type: "sticker"; readonly ref: string; readonly url?: string }
  | { readonly type: "location"; readonly latitude: number; readonly longitude: number; readonly title?: string; readonly address?: string }
  /** A triggered message's kind and payload (R13.1, domain/triggered.ts): staff to customer only. */
  | TriggeredPart;

/** The text a client that shows only text displays for a part (the fallback stored as the message body). */
export function fallbackText(part: MessagePart): string {
  switch (part.type) {
    case "text":
      return part.text;
    case "image":
      return "[image]";
    case "video":
      return "[video]";
    case "audio":
      return "[audio]";
    case "file":
      return part.name ? `[file] ${part.name}` : "[file]";
    case "sticker":
      return "[sticker]";
    case "location":
      return part.title ? `[location] ${part.title}` : `[location] ${part.latitude},${part.longitude}`;
    case "triggered":
      return fallbackOf(cardOf(part.payload));
    default:
      return assertNever(part);
  }
}
