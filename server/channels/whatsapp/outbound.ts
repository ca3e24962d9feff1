import { cardBody, cardOf, triggeredPartOf } from "../../../domain/triggered.ts";
import { metaGraph } from "../meta/client.ts";
import { cutText, retryAfterMs } from "../sendText.ts";
import type { ChannelAccount, ChannelSender, OutboundMessage, SendResult } from "../types.ts";

/**
 * WhatsApp's outbound half: a staff reply goes out as a Cloud API text message
 * (`POST /{version}/{phone-number-id}/messages`), to the customer's `wa_id` or, in a group
 * conversation, to the group (`recipient_type: "group"`). The Cloud API takes no idempotency key:
 * a crash between its 2xx and our commit sends the reply again (at least once).
 */

/** WhatsApp's limit on one text body, in characters. */
export const WHATSAPP_TEXT_MAX = 4096;
/** How long a send may take before it counts as a transient failure. */
export const WHATSAPP_SEND_TIMEOUT_MS = 10_000;

/** Stable codes of a WhatsApp send or status report. */
export const WhatsAppSendCode = {
  WHATSAPP_WINDOW_CLOSED: "WHATSAPP_WINDOW_CLOSED",
  WHATSAPP_UNDELIVERABLE: "WHATSAPP_UNDELIVERABLE",
  META_TOKEN_INVALID: "META_TOKEN_INVALID",
  WHATSAPP_RATE_LIMITED: "WHATSAPP_RATE_LIMITED",
  WHATSAPP_REJECTED: "WHATSAPP_REJECTED",
  WHATSAPP_UNAVAILABLE: "WHATSAPP_UNAVAILABLE",
  WHATSAPP_TIMEOUT: "WHATSAPP_TIMEOUT",
  WHATSAPP_NETWORK: "WHATSAPP_NETWORK",
  WHATSAPP_NOT_CONFIGURED: "WHATSAPP_NOT_CONFIGURED",
} as const;

/** Meta's throttling codes: 4 (app), 80007 (WABA), 130429 (throughput), 131056 (pair rate). */
const RATE_LIMIT_CODES = new Set([4, 80007, 130429, 131056]);

/**
 * Our stable code of a Meta error code, and whether it is worth retrying — the same mapping for a
 * refused send and for a `failed` status callback.
 */
export function whatsAppCodeOf(metaCode: number | undefined): { readonly code: string; readonly transient: boolean } {
  if (metaCode === 131047) return { code: WhatsAppSendCode.WHATSAPP_WINDOW_CLOSED, transient: false };
  if (metaCode === 131026) return { code: WhatsAppSendCode.WHATSAPP_UNDELIVERABLE, transient: false };
  if (metaCode === 190) return { code: WhatsAppSendCode.META_TOKEN_INVALID, transient: false };
  if (metaCode !== undefined && RATE_LIMIT_CODES.has(metaCode)) return { code: WhatsAppSendCode.WHATSAPP_RATE_LIMITED, transient: true };
  return { code: WhatsAppSendCode.WHATSAPP_REJECTED, transient: false };
}

/** The text WhatsApp receives: cut to 4,096 code units without splitting a surrogate pair. */
export function whatsAppText(text: string): string {
  return cutText(text, WHATSAPP_TEXT_MAX);
}

/** An interactive message's body limit (Cloud API reference, "Interactive CTA URL button messages"). */
export const WHATSAPP_INTERACTIVE_BODY_MAX = 1024;

/**
 * The type-specific fields of one send. A triggered message with links (R13.1) whose text fits is an
 * interactive `cta_url` message: the first link is its button, the others are written out in the
 * body, the card's image its header; anything else is one text message (the text fallback).
 */
export function whatsAppContent(message: Pick<OutboundMessage, "text" | "parts">): Record<string, unknown> {
  const part = triggeredPartOf(message.parts);
  const card = part ? cardOf(part.payload) : null;
  const [first, ...rest] = card?.links ?? [];
  const body = card ? [cardBody(card), ...rest.map((l) => `${l.label}: ${l.url}`)].join("\n") : "";
  if (!card || !first || body.length > WHATSAPP_INTERACTIVE_BODY_MAX) return { type: "text", text: { body: whatsAppText(message.text) } };
  return {
    type: "interactive",
    interactive: {
      type: "cta_url",
      ...(card.imageUrl ? { header: { type: "image", image: { link: card.imageUrl } } } : {}),
      body: { text: body },
      action: { name: "cta_url", parameters: { display_text: cutText(first.label, 20), url: first.url } },
    },
  };
}

interface MetaError {
  readonly code?: number;
  readonly message?: string;
  readonly error_data?: { readonly details?: string };
}

/** What an HTTP answer from the messages endpoint comes to (`SendResult`). */
export function classifyWhatsAppAnswer(status: number, body: unknown, retryAfter: string | null): SendResult {
  if (status >= 200 && status < 300) {
    const id = (body as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
    return typeof id === "string" ? { ok: true, providerMessageId: id } : { ok: true };
  }
  const error = (body as { error?: MetaError } | null)?.error;
  const reason =
    [error?.message, error?.error_data?.details].filter((s): s is string => typeof s === "string" && s !== "").join(": ") ||
    `HTTP ${status}`;
  const after = retryAfterMs(retryAfter);
  if (status >= 500) return { ok: false, transient: true, code: WhatsAppSendCode.WHATSAPP_UNAVAILABLE, reason };
  const mapped = whatsAppCodeOf(typeof error?.code === "number" ? error.code : undefined);
  if (status === 429 && !mapped.transient)
    return {
      ok: false,
      transient: true,
      code: WhatsAppSendCode.WHATSAPP_RATE_LIMITED,
      reason,
      ...(after !== undefined ? { retryAfterMs: after } : {}),
    };
  return {
    ok: false,
    transient: mapped.transient,
    code: mapped.code,
    reason,
    ...(mapped.transient && after !== undefined ? { retryAfterMs: after } : {}),
  };
}

/** Options of a WhatsApp sender. */
export interface WhatsAppSenderOptions {
  /** The Graph API's base URL and version; default: the process's (`META_GRAPH_BASE_URL`, `META_GRAPH_VERSION`: `useMetaGraphBaseUrl`). */
  readonly apiBaseUrl?: string;
  readonly version?: string;
  readonly timeoutMs?: number;
}

/** The WhatsApp sender: one message per reply (a text, or a triggered message's interactive CTA: `whatsAppContent`), from the account's phone number id. */
export class WhatsAppSender implements ChannelSender {
  constructor(private readonly opts: WhatsAppSenderOptions = {}) {}

  async send(account: ChannelAccount, message: OutboundMessage): Promise<SendResult> {
    const token = account.secrets.accessToken;
    const phoneNumberId = account.settings.phoneNumberId;
    if (!token || typeof phoneNumberId !== "string" || phoneNumberId === "")
      return {
        ok: false,
        transient: false,
        code: WhatsAppSendCode.WHATSAPP_NOT_CONFIGURED,
        reason: "the channel account needs an accessToken and settings.phoneNumberId",
      };
    const graph = metaGraph();
    const base = (this.opts.apiBaseUrl ?? graph.baseUrl).replace(/\/+$/, "");
    const url = `${base}/${this.opts.version ?? graph.version}/${encodeURIComponent(phoneNumberId)}/messages`;
    const payload = {
      messaging_product: "whatsapp",
      recipient_type: message.groupId ? "group" : "individual",
      to: message.groupId ?? message.recipient,
      ...whatsAppContent(message),
    };
    const timeoutMs = this.opts.timeoutMs ?? WHATSAPP_SEND_TIMEOUT_MS;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
      return classifyWhatsAppAnswer(res.status, body, res.headers.get("retry-after"));
    } catch (err) {
      if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError"))
        return {
          ok: false,
          transient: true,
          code: WhatsAppSendCode.WHATSAPP_TIMEOUT,
          reason: `WhatsApp did not answer within ${timeoutMs} ms`,
        };
      return {
        ok: false,
        transient: true,
        code: WhatsAppSendCode.WHATSAPP_NETWORK,
        reason: err instanceof Error ? err.message : String(err),
      };
    }
  }
}

/** The registry entry of the delivery worker: WhatsApp sends through the process's configured base URL. */
export const whatsAppSender: ChannelSender = new WhatsAppSender();
