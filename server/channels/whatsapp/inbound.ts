import { z } from "zod";
import type { MessagePart } from "../../../domain/channels.ts";
import type { InboundMessage, InboundStatus } from "../types.ts";
import { whatsAppCodeOf } from "./outbound.ts";

/**
 * WhatsApp Cloud API's inbound half, pure: the webhook body as Meta documents it
 * (`object: "whatsapp_business_account"`, `entry[].changes[]` with `field: "messages"`), and EVERY
 * message and EVERY status of EVERY change of EVERY entry normalized — not only the first of each
 * (one webhook can carry several). Media are kept as the media id in `ref` (their bytes are fetched
 * later through `GET /{media-id}`, not at intake). The signature is checked by the route with
 * `isMetaSignatureValid` (server/channels/meta/signature.ts) before this runs.
 */

const Id = z.string().min(1).max(200);
const Media = z.looseObject({ id: Id, mime_type: z.string().max(200).optional(), caption: z.string().max(10_000).optional() });

const Common = {
  id: Id,
  from: Id,
  timestamp: z.string().regex(/^\d{1,13}$/),
  /** Set when the message was written in a WhatsApp group (Cloud API groups). */
  group_id: Id.optional(),
};

const Message = z.discriminatedUnion("type", [
  z.looseObject({ ...Common, type: z.literal("text"), text: z.looseObject({ body: z.string().min(1).max(10_000) }) }),
  z.looseObject({ ...Common, type: z.literal("image"), image: Media }),
  z.looseObject({ ...Common, type: z.literal("video"), video: Media }),
  z.looseObject({ ...Common, type: z.literal("audio"), audio: Media }),
  z.looseObject({ ...Common, type: z.literal("document"), document: Media.extend({ filename: z.string().max(1000).optional() }) }),
  z.looseObject({ ...Common, type: z.literal("sticker"), sticker: Media }),
  z.looseObject({
    ...Common,
    type: z.literal("location"),
    location: z.looseObject({
      latitude: z.number().min(-90).max(90),
      longitude: z.number().min(-180).max(180),
      name: z.string().max(1000).optional(),
      address: z.string().max(1000).optional(),
    }),
  }),
]);
export type WhatsAppMessage = z.infer<typeof Message>;

/** The kinds of message this server normalizes; others (reaction, interactive, a future one) are acknowledged and ignored. */
const MESSAGE_TYPES = new Set(["text", "image", "video", "audio", "document", "sticker", "location"]);

const Status = z.looseObject({
  id: Id,
  status: z.string().min(1).max(50),
  recipient_id: z.string().max(200).optional(),
  timestamp: z.string().optional(),
  errors: z
    .array(z.looseObject({ code: z.number().int(), title: z.string().max(2000).optional(), message: z.string().max(2000).optional() }))
    .optional(),
});
export type WhatsAppStatus = z.infer<typeof Status>;

const Contact = z.looseObject({ wa_id: Id, profile: z.looseObject({ name: z.string().max(1000).optional() }).optional() });

const Value = z.looseObject({
  messaging_product: z.literal("whatsapp").optional(),
  metadata: z.looseObject({ phone_number_id: Id, display_phone_number: z.string().optional() }),
  contacts: z.array(Contact).max(1000).optional(),
  messages: z
    .array(z.looseObject({ type: z.string().min(1).max(100) }))
    .max(1000)
    .optional(),
  statuses: z.array(z.unknown()).max(1000).optional(),
});

/** The webhook body (the top level; each change's `value` is checked when its `field` is `messages`). */
export const WhatsAppWebhook = z.object({
  object: z.literal("whatsapp_business_account"),
  entry: z
    .array(
      z.looseObject({
        id: Id,
        changes: z.array(z.looseObject({ field: z.string().min(1).max(100), value: z.unknown() })).max(1000),
      }),
    )
    .max(1000),
});

/** What a webhook body parsed to, in body order. */
export interface ParsedWhatsAppWebhook {
  readonly messages: readonly InboundMessage[];
  readonly statuses: readonly InboundStatus[];
  /** Changes of other fields, messages of other kinds and statuses we do not track (e.g. `sent`). */
  readonly ignored: number;
}

export type ParseResult =
  | { readonly ok: true; readonly value: ParsedWhatsAppWebhook }
  | { readonly ok: false; readonly issues: readonly string[] };

function issuesOf(error: z.ZodError, prefix: string): string[] {
  return error.issues.slice(0, 10).map((i) => `${[prefix, ...i.path].filter((p) => p !== "").join(".")}: ${i.message}`);
}

/** The message's parts, as `domain/channels.ts` shapes them (a media caption becomes a following text part). */
export function whatsAppParts(message: WhatsAppMessage): MessagePart[] {
  switch (message.type) {
    case "text":
      return [{ type: "text", text: message.text.body }];
    case "image":
    case "video":
    case "audio": {
      const media = message.type === "image" ? message.image : message.type === "video" ? message.video : message.audio;
      return [{ type: message.type, ref: media.id }, ...captionOf(media.caption)];
    }
    case "document":
      return [
        { type: "file", ref: message.document.id, ...(message.document.filename ? { name: message.document.filename } : {}) },
        ...captionOf(message.document.caption),
      ];
    case "sticker":
      return [{ type: "sticker", ref: message.sticker.id }];
    case "location":
      return [
        {
          type: "location",
          latitude: message.location.latitude,
          longitude: message.location.longitude,
          ...(message.location.name ? { title: message.location.name } : {}),
          ...(message.location.address ? { address: message.location.address } : {}),
        },
      ];
  }
}

function captionOf(caption: string | undefined): MessagePart[] {
  return caption ? [{ type: "text", text: caption }] : [];
}

/** A status we track as a delivery report (`sent` is already what a 2xx send meant), else undefined. */
export function toInboundStatus(status: WhatsAppStatus): InboundStatus | undefined {
  if (status.status !== "delivered" && status.status !== "read" && status.status !== "failed") return undefined;
  const error = status.errors?.[0];
  return {
    kind: "status",
    // One event per (message, status): a `read` after a `delivered` is a new event, the same `read` twice is not.
    providerEventId: `${status.id}:${status.status}`,
    providerMessageId: status.id,
    status: status.status,
    // A failed report keeps Meta's code and title in the reason; the code is ours (the send's mapping).
    ...(status.status === "failed" && error
      ? { code: whatsAppCodeOf(error.code).code, reason: `${error.code} ${error.title ?? error.message ?? ""}`.trim() }
      : {}),
  };
}

/**
 * Parses a webhook body (already JSON-decoded). Every message of a handled kind and every status
 * must match Meta's shape (else the whole body is refused with the issues, nothing stored);
 * changes of other fields and messages of other kinds are counted as ignored.
 */
export function parseWhatsAppWebhook(body: unknown): ParseResult {
  const top = WhatsAppWebhook.safeParse(body);
  if (!top.success) return { ok: false, issues: issuesOf(top.error, "") };
  const messages: InboundMessage[] = [];
  const statuses: InboundStatus[] = [];
  let ignored = 0;
  for (const [e, entry] of top.data.entry.entries()) {
    for (const [c, change] of entry.changes.entries()) {
      const at = `entry.${e}.changes.${c}.value`;
      if (change.field !== "messages") {
        ignored += 1;
        continue;
      }
      const value = Value.safeParse(change.value);
      if (!value.success) return { ok: false, issues: issuesOf(value.error, at) };
      const names = new Map((value.data.contacts ?? []).map((k) => [k.wa_id, k.profile?.name]));
      for (const [i, raw] of (value.data.messages ?? []).entries()) {
        if (!MESSAGE_TYPES.has(raw.type)) {
          ignored += 1;
          continue;
        }
        const parsed = Message.safeParse(raw);
        if (!parsed.success) return { ok: false, issues: issuesOf(parsed.error, `${at}.messages.${i}`) };
        const m = parsed.data;
        const name = names.get(m.from);
        messages.push({
          kind: "message",
          providerEventId: m.id,
          channelUserId: m.from,
          ...(m.group_id ? { groupId: m.group_id } : {}),
          ...(name ? { displayName: name } : {}),
          parts: whatsAppParts(m),
          sentAt: new Date(Number(m.timestamp) * 1000).toISOString(),
        });
      }
      for (const [i, raw] of (value.data.statuses ?? []).entries()) {
        const parsed = Status.safeParse(raw);
        if (!parsed.success) return { ok: false, issues: issuesOf(parsed.error, `${at}.statuses.${i}`) };
        const status = toInboundStatus(parsed.data);
        if (status) statuses.push(status);
        else ignored += 1;
      }
    }
  }
  return { ok: true, value: { messages, statuses, ignored } };
}
