import { z } from "zod";
import { Channel, assertNever } from "./sets.ts";

/**
 * The automatic and triggered messages of SPEC R13.1, and on which channels each may go out: the
 * table as a capability matrix that every triggered send consults. Collaborative conversations
 * send them as 1-on-1 and group conversations do (R13.1).
 */
export const TriggeredKind = {
  away: "away", // instant / offline (away) messages
  csat: "csat", // satisfaction survey
  customer_journey: "customer_journey", // omnichannel customer journey
  auto_close_reminder: "auto_close_reminder",
  cart_remarketing: "cart_remarketing", // shopping-cart remarketing card
  line_lon: "line_lon", // LINE LON notification quick message
  omo_live_video: "omo_live_video",
} as const;
export type TriggeredKind = (typeof TriggeredKind)[keyof typeof TriggeredKind];
export const TRIGGERED_KINDS = Object.values(TriggeredKind) as readonly TriggeredKind[];

const ALL: readonly Channel[] = Object.values(Channel);
const { line, facebook, whatsapp, instagram } = Channel;

/** R13.1's table, row by row. */
export const TRIGGERED_CHANNELS: Readonly<Record<TriggeredKind, readonly Channel[]>> = {
  away: ALL,
  csat: ALL,
  customer_journey: [line, facebook, whatsapp, instagram],
  auto_close_reminder: [line, facebook, whatsapp, instagram],
  cart_remarketing: [line, facebook, whatsapp],
  line_lon: [line],
  omo_live_video: [line, whatsapp],
};

/** R13.1: may a message of this kind go out on this channel? */
export function supportsTriggered(kind: TriggeredKind, channel: Channel): boolean {
  return TRIGGERED_CHANNELS[kind].includes(channel);
}

// ---- the payloads of the kinds staff send (POST /api/v2/conversations/{id}/triggered) ----------

/**
 * The kinds a member sends through `POST /api/v2/conversations/{id}/triggered`; the others of the
 * table go out by themselves (away: a customer message outside business hours; csat: a close with
 * `csatOnClose`; auto_close_reminder: the scheduler, R13.4).
 */
export const SENDABLE_TRIGGERED_KINDS = [
  TriggeredKind.customer_journey,
  TriggeredKind.cart_remarketing,
  TriggeredKind.line_lon,
  TriggeredKind.omo_live_video,
] as const;
export type SendableTriggeredKind = (typeof SENDABLE_TRIGGERED_KINDS)[number];

/**
 * Limits of the payloads, in characters (code points, as zod counts: a 4-byte character counts
 * once), chosen after what the providers that carry the kind accept; the senders cut what a
 * provider counts in UTF-16 units and would refuse (server/channels/*).
 */
export const TRIGGERED_LIMITS = {
  /** The message text (WhatsApp's interactive body is 1,024). */
  text: 1000,
  /** A card title (LINE's buttons template title: 40). */
  title: 40,
  /** A button label (LINE action label, Messenger button title, WhatsApp CTA display text: 20). */
  label: 20,
  /** Any URL (https only). */
  url: 1000,
  /** Buttons of a customer-journey card (Messenger's button template: 3). */
  links: 3,
  /** Items of a cart card. */
  items: 10,
  /** An item's name. */
  itemName: 80,
  /** An item's price as shown ("NT$1,200"). */
  price: 20,
} as const;

const L = TRIGGERED_LIMITS;
const httpsUrl = z
  .string()
  .max(L.url)
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === "https:" && u.hostname !== "";
    } catch {
      return false;
    }
  }, "must be an https URL");
const text = z.string().trim().min(1).max(L.text);
const title = z.string().trim().min(1).max(L.title);

export const TriggeredLink = z
  .object({ label: z.string().trim().min(1).max(L.label).describe("The button's label"), url: httpsUrl })
  .strict()
  .meta({ id: "TriggeredLink" });
export type TriggeredLink = z.infer<typeof TriggeredLink>;

export const CartItem = z
  .object({
    name: z.string().trim().min(1).max(L.itemName),
    quantity: z.number().int().min(1).max(999),
    price: z.string().trim().min(1).max(L.price).optional().describe("As shown to the customer, e.g. `NT$1,200`"),
    imageUrl: httpsUrl.optional(),
    url: httpsUrl.optional().describe("The product's page"),
  })
  .strict()
  .meta({ id: "CartItem" });

/** Each sendable kind's payload (without `kind` and `requestId`). */
export const TRIGGERED_PAYLOADS = {
  customer_journey: z
    .object({ text, title: title.optional(), imageUrl: httpsUrl.optional(), links: z.array(TriggeredLink).min(1).max(L.links) })
    .strict(),
  cart_remarketing: z.object({ text, items: z.array(CartItem).min(1).max(L.items), checkout: TriggeredLink }).strict(),
  line_lon: z.object({ text, link: TriggeredLink.optional() }).strict(),
  omo_live_video: z
    .object({
      text,
      title: title.optional(),
      thumbnailUrl: httpsUrl.optional(),
      link: TriggeredLink.describe("Where the live video plays"),
      startsAt: z.iso.datetime({ offset: true }).optional().describe("ISO 8601: when the live video starts"),
    })
    .strict(),
} as const;

export type TriggeredPayload =
  | ({ readonly kind: "customer_journey" } & z.infer<typeof TRIGGERED_PAYLOADS.customer_journey>)
  | ({ readonly kind: "cart_remarketing" } & z.infer<typeof TRIGGERED_PAYLOADS.cart_remarketing>)
  | ({ readonly kind: "line_lon" } & z.infer<typeof TRIGGERED_PAYLOADS.line_lon>)
  | ({ readonly kind: "omo_live_video" } & z.infer<typeof TRIGGERED_PAYLOADS.omo_live_video>);

/** The message part a triggered message is stored with (`messages.parts`): its kind and payload as sent. */
export interface TriggeredPart {
  readonly type: "triggered";
  readonly payload: TriggeredPayload;
}

/**
 * What every channel renders of a triggered message: a text, an optional title and image, and
 * link buttons. Providers without a rich shape (or a text too long for it) get `fallbackOf`.
 */
export interface TriggeredCard {
  readonly title?: string;
  readonly text: string;
  readonly imageUrl?: string;
  readonly links: readonly TriggeredLink[];
}

export function cardOf(p: TriggeredPayload): TriggeredCard {
  switch (p.kind) {
    case "customer_journey":
      return { text: p.text, links: p.links, ...(p.title ? { title: p.title } : {}), ...(p.imageUrl ? { imageUrl: p.imageUrl } : {}) };
    case "cart_remarketing": {
      const lines = p.items.map((i) => `• ${i.name} × ${i.quantity}${i.price ? ` ${i.price}` : ""}`);
      const image = p.items.find((i) => i.imageUrl)?.imageUrl;
      return { text: [p.text, ...lines].join("\n"), links: [p.checkout], ...(image ? { imageUrl: image } : {}) };
    }
    case "line_lon":
      return { text: p.text, links: p.link ? [p.link] : [] };
    case "omo_live_video":
      return {
        text: p.startsAt ? `${p.text}\n${p.startsAt}` : p.text,
        links: [p.link],
        ...(p.title ? { title: p.title } : {}),
        ...(p.thumbnailUrl ? { imageUrl: p.thumbnailUrl } : {}),
      };
    default:
      return assertNever(p);
  }
}

/** The title (if any) and the text, one paragraph. */
export function cardBody(card: TriggeredCard): string {
  return card.title ? `${card.title}\n${card.text}` : card.text;
}

/** Plain text with every link written out (`label: url`): the timeline's body and every channel's fallback. */
export function fallbackOf(card: TriggeredCard): string {
  return [cardBody(card), ...card.links.map((l) => `${l.label}: ${l.url}`)].join("\n");
}

/** The triggered part of a message's parts, if it has one. */
export function triggeredPartOf(parts: readonly { readonly type: string }[] | null | undefined): TriggeredPart | null {
  const p = parts?.find((x) => x.type === "triggered");
  return p ? (p as TriggeredPart) : null;
}
