import { cardBody, cardOf, triggeredPartOf } from "../../../domain/triggered.ts";
import { cutText } from "../sendText.ts";
import type { ChannelAccount, ChannelSender, OutboundMessage, SendResult } from "../types.ts";
import { graphPost, metaErrorOf } from "./client.ts";

/**
 * Messenger's and Instagram's outbound half: a staff reply goes out through the Send API,
 * `POST /{version}/{page-id}/messages` (or `/me/messages` when the account has no page id) with the
 * page access token, `messaging_type: "RESPONSE"` (a reply within the 24-hour window).
 *
 * The Send API takes no idempotency key: a crash between Meta's 200 and our commit sends the
 * reply again on retry (at least once; the customer may see it twice).
 */

/** Meta's limit on one text message (Messenger and Instagram), in characters. */
export const META_TEXT_MAX = 2000;
export const META_SEND_TIMEOUT_MS = 10_000;

/** Stable codes of a failed send. */
export const MetaSendCode = {
  META_WINDOW_CLOSED: "META_WINDOW_CLOSED",
  META_TOKEN_INVALID: "META_TOKEN_INVALID",
  META_RECIPIENT_UNAVAILABLE: "META_RECIPIENT_UNAVAILABLE",
  META_INVALID_REQUEST: "META_INVALID_REQUEST",
  META_REJECTED: "META_REJECTED",
  META_RATE_LIMITED: "META_RATE_LIMITED",
  META_UNAVAILABLE: "META_UNAVAILABLE",
  META_TIMEOUT: "META_TIMEOUT",
  META_NETWORK: "META_NETWORK",
  META_NOT_CONFIGURED: "META_NOT_CONFIGURED",
} as const;

/** Meta's throttling codes: app (4), user (17), page (32) and the calls-per-time limit (613). */
const RATE_LIMIT_CODES = new Set([4, 17, 32, 613]);
/** "This message is sent outside of allowed window." */
const WINDOW_SUBCODE = 2018278;
/** 100 with these subcodes: no such user (2018001) / cannot be messaged (2018108, 1545041). */
const RECIPIENT_SUBCODES = new Set([2018001, 2018108, 1545041]);

/** The text Meta receives: cut to 2,000 characters without splitting a surrogate pair. */
export function metaText(text: string): string {
  return cutText(text, META_TEXT_MAX);
}

/** The button template's limits (Send API reference, "Button Template"): text 640 characters, 1–3 buttons. */
export const META_BUTTON_TEMPLATE = { text: 640, buttons: 3 } as const;

/**
 * The Send API `message` of one send. A triggered message with links (R13.1) whose text fits is a
 * button template (one `web_url` button per link); anything else is one text message (a triggered
 * message's text fallback: its text and every link written out).
 */
export function metaMessage(message: Pick<OutboundMessage, "text" | "parts">): Record<string, unknown> {
  const part = triggeredPartOf(message.parts);
  const card = part ? cardOf(part.payload) : null;
  const body = card ? cardBody(card) : "";
  if (!card || card.links.length === 0 || body.length > META_BUTTON_TEMPLATE.text) return { text: metaText(message.text) };
  return {
    attachment: {
      type: "template",
      payload: {
        template_type: "button",
        text: body,
        buttons: card.links
          .slice(0, META_BUTTON_TEMPLATE.buttons)
          .map((l) => ({ type: "web_url", url: l.url, title: cutText(l.label, 20) })),
      },
    },
  };
}

/** What a Send API answer that is not 2xx comes to, from Meta's error object and the HTTP status. */
export function classifyMetaError(status: number, body: unknown): SendResult & { ok: false } {
  const e = metaErrorOf(body);
  const reason = e?.message
    ? `${e.message}${e.code !== undefined ? ` (code ${e.code}${e.error_subcode ? `/${e.error_subcode}` : ""})` : ""}`
    : `HTTP ${status}`;
  const code = e?.code;
  const sub = e?.error_subcode;
  const fail = (c: string, transient: boolean) => ({ ok: false as const, transient, code: c, reason });
  if (code === 10 && sub === WINDOW_SUBCODE) return fail(MetaSendCode.META_WINDOW_CLOSED, false);
  if (code === 190) return fail(MetaSendCode.META_TOKEN_INVALID, false);
  if (code === 551 || (code === 100 && sub !== undefined && RECIPIENT_SUBCODES.has(sub)))
    return fail(MetaSendCode.META_RECIPIENT_UNAVAILABLE, false);
  if (code !== undefined && RATE_LIMIT_CODES.has(code)) return fail(MetaSendCode.META_RATE_LIMITED, true);
  if (status === 429) return fail(MetaSendCode.META_RATE_LIMITED, true);
  // Codes 1 and 2 are Meta's "unknown error" / "service temporarily unavailable": retry.
  if (status >= 500 || code === 1 || code === 2) return fail(MetaSendCode.META_UNAVAILABLE, true);
  if (code === 100) return fail(MetaSendCode.META_INVALID_REQUEST, false);
  return fail(MetaSendCode.META_REJECTED, false);
}

export interface MetaSenderOptions {
  readonly baseUrl?: string;
  readonly version?: string;
  readonly timeoutMs?: number;
}

/** The Messenger / Instagram sender: one text message per reply, to the customer's PSID / IGSID. */
export class MetaMessagingSender implements ChannelSender {
  constructor(private readonly opts: MetaSenderOptions = {}) {}

  async send(account: ChannelAccount, message: OutboundMessage): Promise<SendResult> {
    const token = account.secrets.pageAccessToken;
    if (!token)
      return { ok: false, transient: false, code: MetaSendCode.META_NOT_CONFIGURED, reason: "the channel account has no pageAccessToken" };
    const pageId = typeof account.settings.pageId === "string" && account.settings.pageId ? account.settings.pageId : "me";
    const timeoutMs = this.opts.timeoutMs ?? META_SEND_TIMEOUT_MS;
    try {
      const answer = await graphPost(
        `${encodeURIComponent(pageId)}/messages`,
        token,
        { recipient: { id: message.recipient }, messaging_type: "RESPONSE", message: metaMessage(message) },
        {
          timeoutMs,
          ...(this.opts.baseUrl ? { baseUrl: this.opts.baseUrl } : {}),
          ...(this.opts.version ? { version: this.opts.version } : {}),
        },
      );
      if (answer.status >= 200 && answer.status < 300) {
        const id = (answer.body as { message_id?: unknown } | undefined)?.message_id;
        return typeof id === "string" ? { ok: true, providerMessageId: id } : { ok: true };
      }
      return classifyMetaError(answer.status, answer.body);
    } catch (err) {
      const name = err instanceof Error ? err.name : "";
      if (name === "TimeoutError" || name === "AbortError")
        return { ok: false, transient: true, code: MetaSendCode.META_TIMEOUT, reason: `Meta did not answer within ${timeoutMs} ms` };
      return { ok: false, transient: true, code: MetaSendCode.META_NETWORK, reason: err instanceof Error ? err.message : String(err) };
    }
  }
}

/** The registry entry for `messenger` and `instagram`: the process's configured Graph API. */
export const metaMessagingSender: ChannelSender = new MetaMessagingSender();
