import { XMLParser, XMLValidator } from "fast-xml-parser";
import { z } from "zod";
import type { MessagePart } from "../../../domain/channels.ts";
import { UNSTORABLE_TEXT_ISSUE, unstorablePaths } from "../../../domain/text.ts";
import type { InboundMessage } from "../types.ts";

/**
 * WeChat's inbound half, pure: the plaintext-mode XML a WeChat Official Account's server receives
 * ("receiving ordinary messages" / "receiving event pushes"), parsed with fast-xml-parser,
 * validated with zod, and normalized into `InboundMessage`s. Media are kept as WeChat's `MediaId`
 * in `ref` (fetched later through the temporary-media API, not at intake); images also keep `PicUrl`.
 */

/** The message types WeChat pushes (`MsgType`) that become messages; `event` is acknowledged and ignored. */
const MESSAGE_TYPES = ["text", "image", "voice", "video", "shortvideo", "location", "link"] as const;

const Str = (max: number) => z.string().max(max);
const Id = z.string().trim().min(1).max(200);
/** A decimal number as WeChat writes it in the XML (kept as text by the parser). */
const Num = z
  .string()
  .trim()
  .regex(/^-?\d+(\.\d+)?$/, "not a number")
  .transform(Number);

const Common = {
  ToUserName: Id,
  FromUserName: Id,
  CreateTime: z
    .string()
    .trim()
    .regex(/^\d{1,12}$/, "not a Unix time in seconds"),
};

const Message = z.discriminatedUnion("MsgType", [
  z.looseObject({ ...Common, MsgType: z.literal("text"), MsgId: Id, Content: Str(10_000).min(1) }),
  z.looseObject({ ...Common, MsgType: z.literal("image"), MsgId: Id, PicUrl: Str(2000).optional(), MediaId: Id }),
  z.looseObject({ ...Common, MsgType: z.literal("voice"), MsgId: Id, MediaId: Id, Format: Str(50).optional() }),
  z.looseObject({ ...Common, MsgType: z.literal("video"), MsgId: Id, MediaId: Id, ThumbMediaId: Str(200).optional() }),
  z.looseObject({ ...Common, MsgType: z.literal("shortvideo"), MsgId: Id, MediaId: Id, ThumbMediaId: Str(200).optional() }),
  z.looseObject({
    ...Common,
    MsgType: z.literal("location"),
    MsgId: Id,
    Location_X: Num.pipe(z.number().min(-90).max(90)),
    Location_Y: Num.pipe(z.number().min(-180).max(180)),
    Scale: Str(20).optional(),
    Label: Str(1000).optional(),
  }),
  z.looseObject({
    ...Common,
    MsgType: z.literal("link"),
    MsgId: Id,
    Title: Str(1000).optional(),
    Description: Str(2000).optional(),
    Url: Str(2000),
  }),
]);

/** A WeChat message as validated. */
export type WechatMessage = z.infer<typeof Message>;

/** What a webhook body came to: one message, or an event / unknown kind to acknowledge and ignore. */
export type ParsedWechat =
  | { readonly ok: true; readonly message: WechatMessage }
  | { readonly ok: true; readonly ignored: string }
  | { readonly ok: false; readonly issues: readonly string[] };

const parser = new XMLParser({
  ignoreAttributes: true,
  // Every value stays text: MsgId is a 64-bit number a JS number would round; CreateTime is checked by zod.
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
});

/** The `<xml>` root's fields of a body, or the issues that refuse it. */
function readXmlRoot(
  raw: string,
): { readonly ok: true; readonly root: Record<string, unknown> } | { readonly ok: false; readonly issues: readonly string[] } {
  if (/<!DOCTYPE|<!ENTITY/i.test(raw)) return { ok: false, issues: ["body: a DOCTYPE or entity declaration is not accepted"] };
  const valid = XMLValidator.validate(raw);
  if (valid !== true) return { ok: false, issues: [`body: not well-formed XML (${valid.err.msg}, line ${valid.err.line})`] };
  let doc: unknown;
  try {
    doc = parser.parse(raw);
  } catch (err) {
    return { ok: false, issues: [`body: not well-formed XML (${err instanceof Error ? err.message : String(err)})`] };
  }
  const root = (doc as { xml?: unknown } | null)?.xml;
  if (typeof root !== "object" || root === null || Array.isArray(root))
    return { ok: false, issues: ["body: no <xml> root element with fields"] };
  return { ok: true, root: root as Record<string, unknown> };
}

/**
 * The `Encrypt` text of a safe-mode body (server/channels/wechat/crypto.ts), or the issues that
 * refuse the body (the same XML checks as plaintext mode).
 */
export function wechatEnvelope(
  raw: string,
): { readonly ok: true; readonly encrypt: string } | { readonly ok: false; readonly issues: readonly string[] } {
  const read = readXmlRoot(raw);
  if (!read.ok) return read;
  const encrypt = read.root.Encrypt;
  if (typeof encrypt !== "string" || encrypt.trim().length === 0 || encrypt.length > 200_000)
    return { ok: false, issues: ["xml.Encrypt: missing (safe mode sends the message encrypted in <Encrypt>)"] };
  return { ok: true, encrypt: encrypt.trim() };
}

/**
 * Parses a plaintext-mode body (or a safe-mode body once decrypted). Refused (issues): not well-formed XML, a DOCTYPE (entity
 * declarations are never part of WeChat's messages and are not expanded), no `<xml>` root, text
 * that cannot be stored, or a message of a known type missing its documented fields.
 */
export function parseWechatXml(raw: string): ParsedWechat {
  const read = readXmlRoot(raw);
  if (!read.ok) return read;
  const root = read.root;
  // The edge's storable-text check reads JSON bodies only: the XML's fields are checked here.
  const bad = unstorablePaths(root);
  if (bad.length > 0) return { ok: false, issues: bad.map((p) => `xml.${p}: ${UNSTORABLE_TEXT_ISSUE}`) };
  const kind = (root as { MsgType?: unknown }).MsgType;
  if (typeof kind !== "string") return { ok: false, issues: ["xml.MsgType: missing"] };
  if (!(MESSAGE_TYPES as readonly string[]).includes(kind.trim())) return { ok: true, ignored: kind.trim() };
  const parsed = Message.safeParse({ ...root, MsgType: kind.trim() });
  if (!parsed.success)
    return { ok: false, issues: parsed.error.issues.slice(0, 10).map((i) => `${["xml", ...i.path].join(".")}: ${i.message}`) };
  return { ok: true, message: parsed.data };
}

/** The message's parts, as `domain/channels.ts` shapes them. */
export function wechatParts(m: WechatMessage): MessagePart[] {
  switch (m.MsgType) {
    case "text":
      return [{ type: "text", text: m.Content }];
    case "image":
      return [{ type: "image", ref: m.MediaId, ...(m.PicUrl ? { url: m.PicUrl } : {}) }];
    case "voice":
      return [{ type: "audio", ref: m.MediaId }];
    case "video":
    case "shortvideo":
      return [{ type: "video", ref: m.MediaId }];
    case "location":
      return [{ type: "location", latitude: m.Location_X, longitude: m.Location_Y, ...(m.Label ? { title: m.Label } : {}) }];
    case "link":
      // A shared article: kept as text (its title and URL), which every client can show.
      return [{ type: "text", text: [m.Title, m.Url].filter((s) => s && s.length > 0).join("\n") }];
  }
}

/** A message as our `InboundMessage`: `MsgId` is the provider event id, the OpenID (`FromUserName`) the customer. */
export function toInboundMessage(m: WechatMessage): InboundMessage {
  return {
    kind: "message",
    providerEventId: m.MsgId.trim(),
    channelUserId: m.FromUserName.trim(),
    parts: wechatParts(m),
    sentAt: new Date(Number(m.CreateTime) * 1000).toISOString(),
  };
}
