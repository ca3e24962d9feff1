import type { IncomingMessage, ServerResponse } from "node:http";
import { metaSignature } from "../../../server/channels/meta/signature.ts";
import { FakeProviderServer } from "./server.ts";

/**
 * A local fake of the WhatsApp Cloud API, on a free port: `POST /{version}/{phone-number-id}/messages`
 * checked field by field against Meta's documented shape and recorded; Meta error objects (131047
 * window closed, 131026 undeliverable, 130429 / 131056 rate limits, 190 token), 5xx and timeouts
 * answered on demand. Plus what Meta does on its side of a webhook: bodies signed with the app
 * secret, messages and status callbacks shaped as Meta sends them.
 */

/** One request the fake received, as parsed. */
export interface WhatsAppRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: unknown;
  /** What did not match the documented shape (empty when the request was right). */
  readonly violations: readonly string[];
}

/** An answer injected for the next send(s): a Meta error code (with its documented HTTP status), a bare status, or no answer. */
export type WhatsAppFailure =
  | { readonly metaCode: number; readonly status?: number; readonly retryAfter?: string }
  | { readonly status: number }
  | { readonly timeout: true };

/** Meta's titles of the error codes the fake can answer. */
const TITLES: Record<number, string> = {
  4: "Application request limit reached",
  190: "Invalid OAuth access token",
  80007: "Rate limit issues",
  130429: "Rate limit hit",
  131026: "Message Undeliverable",
  131047: "Re-engagement message",
  131056: "(Business Account, Consumer Account) pair rate limit hit",
};

const VERSION = /^v\d+\.\d+$/;

export class FakeWhatsApp extends FakeProviderServer<WhatsAppRequest> {
  /** Accepted sends (answered 2xx), in order. */
  readonly sends: {
    readonly phoneNumberId: string;
    readonly recipientType: string;
    readonly to: string;
    /** The text, or an interactive message's body text. */
    readonly text: string;
    readonly wamid: string;
    /** The request body as sent. */
    readonly body: Record<string, unknown>;
  }[] = [];
  private readonly failures: WhatsAppFailure[] = [];
  private ids = 0;

  private constructor(
    /** The access tokens the fake accepts. */
    readonly tokens: Set<string>,
  ) {
    super();
  }

  /** Starts the fake on a free port of 127.0.0.1, accepting `tokens` as access tokens. */
  static async start(tokens: readonly string[]): Promise<FakeWhatsApp> {
    return new FakeWhatsApp(new Set(tokens)).listen();
  }

  /** The next `count` sends answer `failure`. */
  fail(failure: WhatsAppFailure, count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(failure);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, raw: string, url: URL): Promise<void> {
    const violations: string[] = [];
    const auth = req.headers.authorization ?? "";
    const token = auth.startsWith("Bearer ") ? auth.slice(7) : null;
    if (token === null) violations.push("Authorization: not `Bearer <access token>`");

    const route = /^\/([^/]+)\/([^/]+)\/messages$/.exec(url.pathname);
    if (req.method === "POST" && route) {
      if (!VERSION.test(route[1]!)) violations.push(`version: ${route[1]} is not a Graph API version`);
      const phoneNumberId = decodeURIComponent(route[2]!);
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        violations.push("body: not JSON");
      }
      violations.push(...sendViolations(req, body));
      this.requests.push({ method: "POST", path: url.pathname, headers: req.headers, body, violations });
      if (token !== null && !this.tokens.has(token)) return metaError(res, 401, 190);
      const failure = this.failures.shift();
      if (failure) return this.answerFailure(res, failure);
      if (violations.length > 0) return metaError(res, 400, 100, violations.join("; "));
      const b = body as { recipient_type: string; to: string; text?: { body: string }; interactive?: { body: { text: string } } };
      const wamid = `wamid.FAKE${String(++this.ids).padStart(8, "0")}`;
      const text = b.text?.body ?? b.interactive?.body.text ?? "";
      this.sends.push({ phoneNumberId, recipientType: b.recipient_type, to: b.to, text, wamid, body: body as Record<string, unknown> });
      return send(res, 200, {
        messaging_product: "whatsapp",
        contacts: [{ input: b.to, wa_id: b.to }],
        messages: [{ id: wamid }],
      });
    }

    this.requests.push({
      method: req.method ?? "?",
      path: url.pathname,
      headers: req.headers,
      body: raw,
      violations: [...violations, "not an endpoint the fake knows"],
    });
    return metaError(res, 404, 100, "Unknown path components");
  }

  private answerFailure(res: ServerResponse, failure: WhatsAppFailure): void {
    if ("timeout" in failure) {
      this.held.add(res); // never answered; destroyed at stop()
      return;
    }
    if ("metaCode" in failure) {
      const status = failure.status ?? ([4, 80007, 130429, 131056].includes(failure.metaCode) ? 429 : failure.metaCode === 190 ? 401 : 400);
      metaError(res, status, failure.metaCode, undefined, failure.retryAfter ? { "retry-after": failure.retryAfter } : {});
      return;
    }
    send(res, failure.status, { error: { message: `fake failure ${failure.status}`, type: "OAuthException", code: 1, fbtrace_id: "F" } });
  }
}

/** What is wrong with a send request, per Meta's documentation of the messages endpoint (text messages). */
function sendViolations(req: IncomingMessage, body: unknown): string[] {
  const v: string[] = [];
  if (!/^application\/json(;|$)/i.test(req.headers["content-type"] ?? ""))
    v.push(`content-type: ${req.headers["content-type"]} is not application/json`);
  if (typeof body !== "object" || body === null) return [...v, "body: not an object"];
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (
      ![
        "messaging_product",
        "recipient_type",
        "to",
        "type",
        b.type === "interactive" ? "interactive" : "text",
        "context",
        "biz_opaque_callback_data",
      ].includes(k)
    )
      v.push(`body.${k}: not a message field`);
  if (b.messaging_product !== "whatsapp") v.push(`messaging_product: ${JSON.stringify(b.messaging_product)} is not "whatsapp"`);
  if (b.recipient_type !== "individual" && b.recipient_type !== "group")
    v.push(`recipient_type: ${JSON.stringify(b.recipient_type)} is not individual | group`);
  if (typeof b.to !== "string" || b.to.length === 0) v.push("to: not a phone number, wa_id or group id");
  else if (b.recipient_type === "individual" && !/^\+?\d{6,20}$/.test(b.to))
    v.push(`to: ${JSON.stringify(b.to)} is not a phone number / wa_id`);
  if (b.type === "interactive") return [...v, ...ctaViolations(b.interactive)];
  if (b.type !== "text") v.push(`type: ${JSON.stringify(b.type)} (we send text or interactive)`);
  const text = b.text as Record<string, unknown> | undefined;
  if (typeof text?.body !== "string" || text.body.length < 1 || text.body.length > 4096) v.push("text.body: not 1 to 4096 characters");
  for (const k of Object.keys(text ?? {})) if (!["body", "preview_url"].includes(k)) v.push(`text.${k}: not a text field`);
  return v;
}

/** What is wrong with an interactive CTA URL message (Cloud API reference, "Interactive CTA URL button messages"). */
function ctaViolations(raw: unknown): string[] {
  const v: string[] = [];
  const i = raw as Record<string, unknown> | undefined;
  if (i?.type !== "cta_url") return [`interactive.type: ${JSON.stringify(i?.type)} (we send cta_url)`];
  for (const k of Object.keys(i))
    if (!["type", "header", "body", "footer", "action"].includes(k)) v.push(`interactive.${k}: not a cta_url field`);
  const header = i.header as Record<string, unknown> | undefined;
  if (header !== undefined) {
    const link = (header.image as Record<string, unknown> | undefined)?.link;
    if (header.type !== "image" || typeof link !== "string" || !/^https:\/\/\S+$/.test(link))
      v.push("interactive.header: not an image header with an https link");
  }
  const body = i.body as Record<string, unknown> | undefined;
  if (typeof body?.text !== "string" || body.text.length < 1 || body.text.length > 1024)
    v.push("interactive.body.text: not 1 to 1024 characters");
  const action = i.action as Record<string, unknown> | undefined;
  const p = action?.parameters as Record<string, unknown> | undefined;
  if (action?.name !== "cta_url") v.push(`interactive.action.name: ${JSON.stringify(action?.name)} is not "cta_url"`);
  if (typeof p?.display_text !== "string" || p.display_text.length < 1 || p.display_text.length > 20)
    v.push("interactive.action.parameters.display_text: not 1 to 20 characters");
  if (typeof p?.url !== "string" || !/^https?:\/\/\S+$/.test(p.url)) v.push("interactive.action.parameters.url: not a URL");
  return v;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** A Meta Graph API error object (`{ error: { message, type, code, error_data, fbtrace_id } }`). */
function metaError(res: ServerResponse, status: number, code: number, details?: string, headers: Record<string, string> = {}): void {
  const title = TITLES[code] ?? "Invalid parameter";
  send(
    res,
    status,
    {
      error: {
        message: `(#${code}) ${title}`,
        type: "OAuthException",
        code,
        error_data: { messaging_product: "whatsapp", details: details ?? title },
        fbtrace_id: "AbCdEf",
      },
    },
    headers,
  );
}

/** Meta's webhook signature of `body` (`X-Hub-Signature-256`). */
export function signWhatsApp(body: string, appSecret: string): string {
  return metaSignature(body, appSecret);
}

/** A text message as it appears in `value.messages[]` (in a group when `groupId` is given). */
export function waTextMessage(opts: {
  readonly wamid: string;
  readonly from: string;
  readonly text: string;
  readonly groupId?: string;
  readonly timestamp?: number;
}) {
  return {
    from: opts.from,
    id: opts.wamid,
    timestamp: String(opts.timestamp ?? Math.floor(Date.now() / 1000)),
    type: "text",
    text: { body: opts.text },
    ...(opts.groupId ? { group_id: opts.groupId } : {}),
  };
}

/** A status callback as it appears in `value.statuses[]` (a failed one with its Meta error). */
export function waStatus(opts: {
  readonly wamid: string;
  readonly status: "sent" | "delivered" | "read" | "failed";
  readonly recipient: string;
  readonly errorCode?: number;
}) {
  return {
    id: opts.wamid,
    status: opts.status,
    timestamp: String(Math.floor(Date.now() / 1000)),
    recipient_id: opts.recipient,
    ...(opts.errorCode !== undefined
      ? { errors: [{ code: opts.errorCode, title: TITLES[opts.errorCode] ?? "Error", message: TITLES[opts.errorCode] ?? "Error" }] }
      : {}),
  };
}

/** A webhook body as Meta sends it: one entry, one `messages` change per `values` item. */
export function waWebhookBody(
  phoneNumberId: string,
  values: readonly {
    readonly contacts?: readonly { wa_id: string; name: string }[];
    readonly messages?: readonly unknown[];
    readonly statuses?: readonly unknown[];
  }[],
): string {
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: values.map((v) => ({
          field: "messages",
          value: {
            messaging_product: "whatsapp",
            metadata: { display_phone_number: "15550783881", phone_number_id: phoneNumberId },
            ...(v.contacts ? { contacts: v.contacts.map((c) => ({ wa_id: c.wa_id, profile: { name: c.name } })) } : {}),
            ...(v.messages ? { messages: v.messages } : {}),
            ...(v.statuses ? { statuses: v.statuses } : {}),
          },
        })),
      },
    ],
  });
}
