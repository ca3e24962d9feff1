import { validateSignature } from "@line/bot-sdk";
import { z } from "zod";
import type { MessagePart } from "../../../domain/channels.ts";
import type { CustomerProfile } from "../profiles.ts";
import type { InboundMessage } from "../types.ts";

/**
 * LINE's inbound half, pure: the webhook signature, the webhook body as LINE documents it
 * (Messaging API reference, "Webhook Event Objects"), and its message events normalized into
 * `InboundMessage`s. Media (image, video, audio, file) are kept as LINE's message id in `ref`:
 * their bytes are fetched later through the content API
 * (`GET https://api-data.line.me/v2/bot/message/{id}/content`), not at intake.
 */

/**
 * Whether `signature` (`x-line-signature`) is the base64 HMAC-SHA256 of the RAW body with the
 * channel secret. False when either is missing. Checked before the body is parsed or stored.
 */
export function isLineSignatureValid(rawBody: string | Buffer, channelSecret: string | undefined, signature: string | undefined): boolean {
  if (!channelSecret || !signature) return false;
  return validateSignature(rawBody, channelSecret, signature);
}

const Source = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("user"), userId: z.string().min(1).max(100) }),
  z.looseObject({ type: z.literal("group"), groupId: z.string().min(1).max(100), userId: z.string().min(1).max(100).optional() }),
  z.looseObject({ type: z.literal("room"), roomId: z.string().min(1).max(100), userId: z.string().min(1).max(100).optional() }),
]);

const Id = z.string().min(1).max(100);
/** Media LINE hosts (`contentProvider.type: "line"`) or the sender's own URLs (`external`). */
const ContentProvider = z.looseObject({ type: z.enum(["line", "external"]), originalContentUrl: z.string().optional() }).optional();

const Message = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text"), id: Id, text: z.string().min(1).max(10_000) }),
  z.looseObject({ type: z.literal("image"), id: Id, contentProvider: ContentProvider }),
  z.looseObject({ type: z.literal("video"), id: Id, contentProvider: ContentProvider }),
  z.looseObject({ type: z.literal("audio"), id: Id, contentProvider: ContentProvider }),
  z.looseObject({ type: z.literal("file"), id: Id, fileName: z.string().max(1000), fileSize: z.number().optional() }),
  z.looseObject({ type: z.literal("sticker"), id: Id, packageId: z.string().min(1).max(100), stickerId: z.string().min(1).max(100) }),
  z.looseObject({
    type: z.literal("location"),
    id: Id,
    title: z.string().max(1000).optional(),
    address: z.string().max(1000).optional(),
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
  }),
]);

/** The kinds of message this server normalizes; other kinds (a future one) are acknowledged and ignored. */
const MESSAGE_TYPES = new Set(["text", "image", "video", "audio", "file", "sticker", "location"]);

const MessageEvent = z.looseObject({
  type: z.literal("message"),
  webhookEventId: z.string().min(1).max(100),
  deliveryContext: z.looseObject({ isRedelivery: z.boolean() }),
  timestamp: z.number().int().nonnegative(),
  source: Source,
  replyToken: z.string().optional(),
  message: Message,
});
export type LineMessageEvent = z.infer<typeof MessageEvent>;

/** The webhook body: `{ destination, events[] }` (an empty `events` is LINE's "verify" call from the console). */
export const LineWebhook = z.object({
  destination: z.string().min(1).max(100),
  events: z.array(z.looseObject({ type: z.string().min(1).max(100) })).max(1000),
});

/** What a webhook body parsed to: its message events (in order), and how many others were ignored. */
export interface ParsedLineWebhook {
  readonly messages: readonly LineMessageEvent[];
  readonly ignored: number;
  readonly redeliveries: number;
}

export type ParseResult =
  | { readonly ok: true; readonly value: ParsedLineWebhook }
  | { readonly ok: false; readonly issues: readonly string[] };

function issuesOf(error: z.ZodError, prefix: string): string[] {
  return error.issues.slice(0, 10).map((i) => `${[prefix, ...i.path].filter((p) => p !== "").join(".")}: ${i.message}`);
}

/**
 * Parses a webhook body (already JSON-decoded). Every `message` event whose message is of a kind
 * we handle must match LINE's shape (else the whole body is refused with the issues); events of
 * other types (follow, unfollow, postback, join …) and messages of unknown kinds are counted as ignored.
 */
export function parseLineWebhook(body: unknown): ParseResult {
  const top = LineWebhook.safeParse(body);
  if (!top.success) return { ok: false, issues: issuesOf(top.error, "") };
  const messages: LineMessageEvent[] = [];
  let ignored = 0;
  let redeliveries = 0;
  for (const [i, event] of top.data.events.entries()) {
    const kind = (event as { message?: { type?: unknown } }).message?.type;
    if (event.type !== "message" || typeof kind !== "string" || !MESSAGE_TYPES.has(kind)) {
      ignored += 1;
      continue;
    }
    const parsed = MessageEvent.safeParse(event);
    if (!parsed.success) return { ok: false, issues: issuesOf(parsed.error, `events.${i}`) };
    if (parsed.data.deliveryContext.isRedelivery) redeliveries += 1;
    messages.push(parsed.data);
  }
  return { ok: true, value: { messages, ignored, redeliveries } };
}

/** The message's parts, as `domain/channels.ts` shapes them. */
export function lineParts(message: LineMessageEvent["message"]): MessagePart[] {
  switch (message.type) {
    case "text":
      return [{ type: "text", text: message.text }];
    case "image":
    case "video":
    case "audio": {
      const url = message.contentProvider?.type === "external" ? message.contentProvider.originalContentUrl : undefined;
      return [{ type: message.type, ref: message.id, ...(url ? { url } : {}) }];
    }
    case "file":
      return [{ type: "file", ref: message.id, name: message.fileName }];
    case "sticker":
      return [{ type: "sticker", ref: `${message.packageId}/${message.stickerId}` }];
    case "location":
      return [
        {
          type: "location",
          latitude: message.latitude,
          longitude: message.longitude,
          ...(message.title ? { title: message.title } : {}),
          ...(message.address ? { address: message.address } : {}),
        },
      ];
  }
}

/** The group or room a message was written in (LINE groups and rooms are group conversations), else undefined. */
export function lineGroupOf(source: LineMessageEvent["source"]): string | undefined {
  return source.type === "group" ? source.groupId : source.type === "room" ? source.roomId : undefined;
}

/**
 * Who wrote it: the user id; a group or room message without one (LINE leaves it out when the
 * user has not agreed to share it) is attributed to the group or room itself.
 */
export function lineSenderOf(source: LineMessageEvent["source"]): string {
  return source.userId ?? lineGroupOf(source) ?? "";
}

/** A message event as our `InboundMessage` (the profile, when read, names the customer and gives the picture). */
export function toInboundMessage(event: LineMessageEvent, profile: CustomerProfile | undefined): InboundMessage {
  const channelUserId = lineSenderOf(event.source);
  const groupId = lineGroupOf(event.source);
  return {
    kind: "message",
    providerEventId: event.webhookEventId,
    channelUserId,
    ...(groupId ? { groupId } : {}),
    // No profile (LINE did not answer in time): no name, so a known customer keeps theirs; a new one
    // is named by intake until a later message reads the profile.
    ...(profile ? { displayName: profile.displayName } : {}),
    ...(profile?.pictureUrl ? { pictureUrl: profile.pictureUrl } : {}),
    parts: lineParts(event.message),
    sentAt: new Date(event.timestamp).toISOString(),
  };
}
