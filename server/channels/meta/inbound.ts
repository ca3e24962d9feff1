import { z } from "zod";
import type { MessagePart } from "../../../domain/channels.ts";
import type { InboundEvent, InboundMessage, InboundStatus } from "../types.ts";

/**
 * Messenger's and Instagram's inbound half, pure: the webhook body as Meta documents it
 * (Messenger Platform "Webhook events": `messages`, `message_deliveries`, `message_reads`;
 * Instagram Messaging the same shape under `object: "instagram"`), normalized into our events.
 *
 * - Every messaging item of every entry is read, in order.
 * - `message` (not an echo) → `InboundMessage`, `providerEventId` = `mid`, text and attachments as parts.
 * - `delivery.mids[]` (Messenger) → one `delivered` status per mid.
 * - `read.mid` (Instagram) → `read` of that mid. Messenger's `read` carries only a `watermark`
 *   (every message sent before that time is read) and no mid, so it cannot be matched to one of
 *   our messages through the status seam: it is acknowledged and ignored (as are `delivery`
 *   items without mids, whose delivery is then reported by nothing).
 * - Echoes of our own sends (`message.is_echo`), reactions, postbacks, optins, referrals and any
 *   other kind are acknowledged and ignored.
 */

const Id = z.string().min(1).max(200);
const Url = z.string().max(4000);

const Attachment = z.looseObject({
  type: z.string().min(1).max(50),
  payload: z
    .looseObject({
      url: Url.optional(),
      sticker_id: z.union([z.number(), z.string()]).optional(),
      title: z.string().max(1000).optional(),
      coordinates: z.looseObject({ lat: z.number().min(-90).max(90), long: z.number().min(-180).max(180) }).optional(),
    })
    .nullish(),
});

const Message = z.looseObject({
  mid: Id,
  text: z.string().max(20_000).optional(),
  is_echo: z.boolean().optional(),
  attachments: z.array(Attachment).max(100).optional(),
});

const Messaging = z.looseObject({
  sender: z.looseObject({ id: Id }),
  recipient: z.looseObject({ id: Id }),
  timestamp: z.number().int().nonnegative().optional(),
  message: Message.optional(),
  delivery: z.looseObject({ mids: z.array(Id).max(1000).optional(), watermark: z.number().optional() }).optional(),
  read: z.looseObject({ mid: Id.optional(), watermark: z.number().optional() }).optional(),
});
export type MetaMessaging = z.infer<typeof Messaging>;

/** The webhook body: `{ object: "page" | "instagram", entry: [{ id, time, messaging: [...] }] }`. */
export const MetaMessagingWebhook = z.object({
  object: z.enum(["page", "instagram"]),
  entry: z
    .array(
      z.looseObject({
        id: Id,
        time: z.number().optional(),
        messaging: z.array(Messaging).max(1000).optional(),
      }),
    )
    .max(1000),
});

export type MetaParseResult =
  | { readonly ok: true; readonly events: readonly InboundEvent[]; readonly ignored: number }
  | { readonly ok: false; readonly issues: readonly string[] };

function issuesOf(error: z.ZodError): string[] {
  return error.issues.slice(0, 10).map((i) => `${i.path.join(".")}: ${i.message}`);
}

/** The parts of a message: its text, then its attachments we understand (others are dropped). */
export function metaParts(message: z.infer<typeof Message>): MessagePart[] {
  const parts: MessagePart[] = [];
  if (message.text !== undefined && message.text.length > 0) parts.push({ type: "text", text: message.text });
  for (const a of message.attachments ?? []) {
    const url = a.payload?.url;
    const sticker = a.payload?.sticker_id;
    if (a.type === "image" && sticker !== undefined && sticker !== null) {
      parts.push({ type: "sticker", ref: String(sticker), ...(url ? { url } : {}) });
    } else if (a.type === "image" || a.type === "video" || a.type === "audio" || a.type === "file") {
      if (url) parts.push({ type: a.type, url });
    } else if (a.type === "location" && a.payload?.coordinates) {
      const { lat, long } = a.payload.coordinates;
      parts.push({ type: "location", latitude: lat, longitude: long, ...(a.payload.title ? { title: a.payload.title } : {}) });
    }
  }
  return parts;
}

/**
 * Parses a webhook body (already JSON-decoded) of a Messenger (`expected: "page"`) or Instagram
 * (`"instagram"`) account. A body of the other object, or not of Meta's shape, is refused with issues.
 */
export function parseMetaMessagingWebhook(body: unknown, expected: "page" | "instagram"): MetaParseResult {
  const top = MetaMessagingWebhook.safeParse(body);
  if (!top.success) return { ok: false, issues: issuesOf(top.error) };
  if (top.data.object !== expected) return { ok: false, issues: [`object: expected "${expected}", got "${top.data.object}"`] };
  const events: InboundEvent[] = [];
  let ignored = 0;
  for (const entry of top.data.entry) {
    for (const item of entry.messaging ?? []) {
      const before = events.length;
      if (item.message && !item.message.is_echo) {
        const m = toInboundMessage(item, item.message);
        if (m) events.push(m);
      } else if (item.delivery?.mids) {
        for (const mid of item.delivery.mids) events.push(status(mid, "delivered"));
      } else if (item.read?.mid) {
        events.push(status(item.read.mid, "read"));
      }
      if (events.length === before) ignored += 1;
    }
  }
  return { ok: true, events, ignored };
}

function status(mid: string, s: "delivered" | "read"): InboundStatus {
  // One report per (kind, mid): a re-sent delivery webhook is a duplicate, a later read is not.
  return { kind: "status", providerEventId: `${s}:${mid}`, providerMessageId: mid, status: s };
}

function toInboundMessage(item: MetaMessaging, message: z.infer<typeof Message>): InboundMessage | undefined {
  const parts = metaParts(message);
  if (parts.length === 0) return undefined; // only attachments we do not handle (templates, shares, story mentions …)
  return {
    kind: "message",
    providerEventId: message.mid,
    channelUserId: item.sender.id,
    parts,
    sentAt: new Date(item.timestamp ?? Date.now()).toISOString(),
  };
}
