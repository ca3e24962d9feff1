import { createHash } from "node:crypto";
import { HTTPFetchError, type messagingApi } from "@line/bot-sdk";
import { cardBody, cardOf, triggeredPartOf } from "../../../domain/triggered.ts";
import { cutText, retryAfterMs } from "../sendText.ts";
import type { ChannelAccount, ChannelSender, OutboundMessage, SendResult } from "../types.ts";
import { LineTimeout, lineClient, withDeadline } from "./client.ts";

/**
 * LINE's outbound half: a staff reply goes out as a push message
 * (`POST /v2/bot/message/push`) with `X-Line-Retry-Key`, so a retry after a lost answer is not
 * delivered twice (LINE answers 409 for a key it already accepted).
 */

/** LINE's limit on one text message, in UTF-16 code units. */
export const LINE_TEXT_MAX = 5000;
/** How long a push may take before it counts as a transient failure. */
export const LINE_SEND_TIMEOUT_MS = 10_000;

/** Stable codes of a push LINE refused for good. */
export const LineSendCode = {
  LINE_INVALID_REQUEST: "LINE_INVALID_REQUEST",
  LINE_UNAUTHORIZED: "LINE_UNAUTHORIZED",
  LINE_FORBIDDEN: "LINE_FORBIDDEN",
  LINE_NOT_FOUND: "LINE_NOT_FOUND",
  LINE_REJECTED: "LINE_REJECTED",
  LINE_RATE_LIMITED: "LINE_RATE_LIMITED",
  LINE_UNAVAILABLE: "LINE_UNAVAILABLE",
  LINE_TIMEOUT: "LINE_TIMEOUT",
  LINE_NETWORK: "LINE_NETWORK",
  LINE_NOT_CONFIGURED: "LINE_NOT_CONFIGURED",
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The `X-Line-Retry-Key` of a message: its `retryKey` when that is a UUID (LINE accepts only
 * UUIDs), else a UUID derived from conversation and seq — the same on every retry of the message.
 */
export function lineRetryKey(message: Pick<OutboundMessage, "retryKey" | "conversationId" | "seq">): string {
  if (UUID.test(message.retryKey)) return message.retryKey.toLowerCase();
  const h = createHash("sha256").update(`line-retry:${message.conversationId}:${message.seq}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50; // version 5 layout (name-based, SHA)
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** The text LINE receives: the message's text, cut to LINE's 5,000 code units without splitting a surrogate pair. */
export function lineText(text: string): string {
  return cutText(text, LINE_TEXT_MAX);
}

/** LINE's limits on a buttons template (Messaging API reference, "Buttons template"). */
export const LINE_TEMPLATE = { altText: 400, title: 40, text: 160, textWithHeader: 60, actions: 4 } as const;

/**
 * The messages of one push. A triggered message with links (R13.1) is a buttons template (title,
 * thumbnail, text, one `uri` action per link; `altText` the text fallback), preceded by a text
 * message with the whole text when it is longer than the template's text may be; anything else
 * is one text message.
 */
export function lineMessages(message: Pick<OutboundMessage, "text" | "parts">): messagingApi.Message[] {
  const part = triggeredPartOf(message.parts);
  const card = part ? cardOf(part.payload) : null;
  if (!card || card.links.length === 0) return [{ type: "text", text: lineText(message.text) }];
  const max = card.title || card.imageUrl ? LINE_TEMPLATE.textWithHeader : LINE_TEMPLATE.text;
  const template: messagingApi.TemplateMessage = {
    type: "template",
    altText: cutText(message.text, LINE_TEMPLATE.altText),
    template: {
      type: "buttons",
      ...(card.imageUrl ? { thumbnailImageUrl: card.imageUrl } : {}),
      ...(card.title ? { title: cutText(card.title, LINE_TEMPLATE.title) } : {}),
      text: cutText(card.text, max),
      actions: card.links.slice(0, LINE_TEMPLATE.actions).map((l) => ({ type: "uri", label: cutText(l.label, 20), uri: l.url })),
    },
  };
  return card.text.length <= max ? [template] : [{ type: "text", text: lineText(cardBody(card)) }, template];
}

/** LINE's error message from an error body (`{ "message": …, "details": [...] }`), else the HTTP status line. */
function reasonOf(err: HTTPFetchError): string {
  try {
    const body = JSON.parse(err.body) as { message?: unknown; details?: { message?: unknown; property?: unknown }[] };
    if (typeof body.message === "string") {
      const details = (body.details ?? [])
        .map((d) => [d.property, d.message].filter((v) => typeof v === "string").join(": "))
        .filter(Boolean)
        .join("; ");
      return details ? `${body.message} (${details})` : body.message;
    }
  } catch {
    // not JSON: the status line below
  }
  return `${err.status} ${err.statusText}`.trim();
}

function sentIdOf(body: unknown): string | undefined {
  const sent = (body as { sentMessages?: { id?: unknown }[] } | null)?.sentMessages;
  const id = Array.isArray(sent) ? sent[0]?.id : undefined;
  return typeof id === "string" ? id : undefined;
}

/** What a push's failure comes to (`SendResult`), from LINE's documented status codes. */
export function classifyLineError(err: unknown): SendResult {
  if (err instanceof HTTPFetchError) {
    const reason = reasonOf(err);
    const headers = err.headers as unknown as Headers | undefined;
    switch (err.status) {
      case 409: {
        // The retry key was already accepted: the message went out on an earlier try.
        let id: string | undefined;
        try {
          id = sentIdOf(JSON.parse(err.body));
        } catch {
          id = undefined;
        }
        return id ? { ok: true, providerMessageId: id } : { ok: true };
      }
      case 429: {
        const after = retryAfterMs(headers?.get?.("retry-after"));
        return {
          ok: false,
          transient: true,
          code: LineSendCode.LINE_RATE_LIMITED,
          reason,
          ...(after !== undefined ? { retryAfterMs: after } : {}),
        };
      }
      case 400:
        return { ok: false, transient: false, code: LineSendCode.LINE_INVALID_REQUEST, reason };
      case 401:
        return { ok: false, transient: false, code: LineSendCode.LINE_UNAUTHORIZED, reason };
      case 403:
        return { ok: false, transient: false, code: LineSendCode.LINE_FORBIDDEN, reason };
      case 404:
        return { ok: false, transient: false, code: LineSendCode.LINE_NOT_FOUND, reason };
      default:
        if (err.status >= 500) return { ok: false, transient: true, code: LineSendCode.LINE_UNAVAILABLE, reason };
        return { ok: false, transient: false, code: LineSendCode.LINE_REJECTED, reason };
    }
  }
  if (err instanceof LineTimeout) return { ok: false, transient: true, code: LineSendCode.LINE_TIMEOUT, reason: err.message };
  return { ok: false, transient: true, code: LineSendCode.LINE_NETWORK, reason: err instanceof Error ? err.message : String(err) };
}

/** Options of a LINE sender. */
export interface LineSenderOptions {
  /** The Messaging API's base URL; default: the process's (`useLineApiBaseUrl`). */
  readonly apiBaseUrl?: string;
  readonly timeoutMs?: number;
}

/** The LINE sender: one push per message (a text, or a triggered message's template: `lineMessages`), to the user, group or room id in `recipient` / `groupId`. */
export class LineSender implements ChannelSender {
  constructor(private readonly opts: LineSenderOptions = {}) {}

  async send(account: ChannelAccount, message: OutboundMessage): Promise<SendResult> {
    const token = account.secrets.channelAccessToken;
    if (!token)
      return {
        ok: false,
        transient: false,
        code: LineSendCode.LINE_NOT_CONFIGURED,
        reason: "the channel account has no channelAccessToken",
      };
    const client = lineClient(token, this.opts.apiBaseUrl);
    try {
      const answer = await withDeadline(
        client.pushMessage({ to: message.groupId ?? message.recipient, messages: lineMessages(message) }, lineRetryKey(message)),
        this.opts.timeoutMs ?? LINE_SEND_TIMEOUT_MS,
      );
      const id = sentIdOf(answer);
      return id ? { ok: true, providerMessageId: id } : { ok: true };
    } catch (err) {
      return classifyLineError(err);
    }
  }
}

/** The registry entry of the delivery worker: LINE pushes through the process's configured base URL. */
export const lineSender: ChannelSender = new LineSender();
