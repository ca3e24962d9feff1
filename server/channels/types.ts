import type { ChannelStatus, ChannelType, DeliveryStatus, MessagePart } from "../../domain/channels.ts";

/**
 * The seams between the channel modules (issue 9): what a provider's inbound half hands to intake,
 * and what the delivery worker asks of a provider's outbound half. One module per provider under
 * server/channels/<provider>/ implements both halves against these types.
 */

/** A channel account with its credentials decrypted (never logged, never returned over HTTP). */
export interface ChannelAccount {
  readonly id: string;
  readonly workspaceId: string;
  readonly type: ChannelType;
  readonly status: ChannelStatus;
  /** Non-secret settings (a page id, a phone number id …). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** The type's credentials, decrypted (e.g. LINE `channelSecret`, `channelAccessToken`). */
  readonly secrets: Readonly<Record<string, string>>;
}

/** A customer's message, normalized from any provider. */
export interface InboundMessage {
  readonly kind: "message";
  /** The provider's id of this event (LINE `webhookEventId`, Meta `mid`, WhatsApp `wamid`, WeChat `MsgId`): stored once. */
  readonly providerEventId: string;
  /** The customer's id on the provider (LINE `userId`, Meta PSID, WhatsApp `wa_id`, WeChat `OpenID`). */
  readonly channelUserId: string;
  /** A group chat the message was written in (WhatsApp groups, R2.2); absent for 1-on-1 chats. */
  readonly groupId?: string;
  readonly displayName?: string;
  readonly pictureUrl?: string;
  /** At least one part; `text` parts carry the text, media their provider reference or URL. */
  readonly parts: readonly MessagePart[];
  /** When the customer sent it (ISO 8601), as the provider says. */
  readonly sentAt: string;
}

/** A provider's report on a message we sent (Meta, WhatsApp). */
export interface InboundStatus {
  readonly kind: "status";
  readonly providerEventId: string;
  readonly providerMessageId: string;
  readonly status: Extract<DeliveryStatus, "delivered" | "read" | "failed">;
  readonly code?: string;
  readonly reason?: string;
}

export type InboundEvent = InboundMessage | InboundStatus;

/**
 * Intake (server/channels/intake.ts): commits the events (idempotent on `providerEventId`) and
 * returns once they are durable — the webhook may then be answered — and processes them into their
 * conversations through the rooms (now, and again after a restart for any left unprocessed).
 */
export type Receive = (
  account: ChannelAccount,
  events: readonly InboundEvent[],
) => Promise<{ readonly stored: number; readonly duplicates: number }>;

/** A staff message on its way to a customer. */
export interface OutboundMessage {
  readonly conversationId: string;
  readonly seq: number;
  /** Stable across retries of this message: sent as the provider's retry key where it has one (LINE `X-Line-Retry-Key`). */
  readonly retryKey: string;
  /** The customer's id on the provider (or the group's, with `groupId`). */
  readonly recipient: string;
  readonly groupId?: string;
  readonly text: string;
  readonly parts?: readonly MessagePart[];
}

/** What a send came to. A transient failure is retried (after `retryAfterMs` when the provider said); a permanent one fails the message. */
export type SendResult =
  | { readonly ok: true; readonly providerMessageId?: string }
  | { readonly ok: false; readonly transient: boolean; readonly code: string; readonly reason: string; readonly retryAfterMs?: number };

/** A provider's outbound half. */
export interface ChannelSender {
  send(account: ChannelAccount, message: OutboundMessage): Promise<SendResult>;
}
