import type { IncomingMessage, ServerResponse } from "node:http";
import { metaSignature } from "../../../server/channels/meta/signature.ts";
import { FakeProviderServer } from "./server.ts";

/**
 * A local fake of Meta's Graph API Send API for Messenger and Instagram, on a free port:
 * `POST /{version}/{page-id | me}/messages`, each request checked field by field against Meta's
 * documented shape and recorded; failures answered on demand (Meta error objects such as the
 * closed 24-hour window, rate limits, 5xx, a request left unanswered). Plus what Meta does on its
 * side of a webhook: bodies signed with the app secret (`X-Hub-Signature-256`).
 */

export interface MetaRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: unknown;
  readonly violations: readonly string[];
}

export type MetaFailure =
  | { readonly status: number; readonly error?: { code: number; error_subcode?: number; message?: string; type?: string } }
  | { readonly timeout: true };

/** Meta's answer to a message sent outside the 24-hour window. */
export const WINDOW_CLOSED: MetaFailure = {
  status: 400,
  error: { code: 10, error_subcode: 2018278, type: "OAuthException", message: "(#10) This message is sent outside of allowed window." },
};

export class FakeMeta extends FakeProviderServer<MetaRequest> {
  /** Accepted sends, in order. */
  readonly sends: {
    readonly pageId: string;
    readonly recipient: string;
    /** The text, or a button template's text. */
    readonly text: string;
    readonly messageId: string;
    /** The `message` as sent. */
    readonly message: Record<string, unknown>;
  }[] = [];
  private readonly failures: MetaFailure[] = [];
  private ids = 0;

  private constructor(
    readonly version: string,
    /** The page access tokens the fake accepts. */
    readonly tokens: Set<string>,
  ) {
    super();
  }

  static async start(tokens: readonly string[], version = "v21.0"): Promise<FakeMeta> {
    return new FakeMeta(version, new Set(tokens)).listen();
  }

  /** The next `count` sends answer `failure`. */
  fail(failure: MetaFailure, count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(failure);
  }

  /** Users' profiles by PSID / IGSID, answered by the profile endpoint (`GET /{version}/{id}?fields=…`). */
  readonly profiles = new Map<string, Record<string, string>>();
  /** How many profile reads came, per user id. */
  readonly profileReads = new Map<string, number>();

  protected async handle(req: IncomingMessage, res: ServerResponse, raw: string, url: URL): Promise<void> {
    if (req.method === "GET") return this.profile(req, res, raw, url);
    const violations: string[] = [];
    const match = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/.exec(url.pathname);
    if (req.method !== "POST" || !match) {
      this.requests.push({
        method: req.method ?? "?",
        path: url.pathname,
        headers: req.headers,
        body: raw,
        violations: ["not an endpoint the fake knows"],
      });
      return send(res, 404, { error: { message: "Unknown path components", type: "OAuthException", code: 2500 } });
    }
    if (match[1] !== this.version) violations.push(`version: ${match[1]} is not ${this.version}`);
    const auth = req.headers.authorization ?? "";
    const token = auth.startsWith("Bearer ") ? auth.slice(7) : url.searchParams.get("access_token");
    if (!token) violations.push("no access token (Authorization: Bearer or access_token)");
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      violations.push("body: not JSON");
    }
    violations.push(...sendViolations(req, body));
    this.requests.push({ method: "POST", path: url.pathname, headers: req.headers, body, violations });
    if (token && !this.tokens.has(token))
      return send(res, 400, { error: { message: "Invalid OAuth access token.", type: "OAuthException", code: 190 } });
    const failure = this.failures.shift();
    if (failure) {
      if ("timeout" in failure) {
        this.held.add(res);
        return;
      }
      return send(
        res,
        failure.status,
        failure.error
          ? { error: { type: "OAuthException", fbtrace_id: "fake", ...failure.error } }
          : { error: { message: "fake failure", code: 2 } },
      );
    }
    if (violations.length > 0) return send(res, 400, { error: { message: violations.join("; "), type: "OAuthException", code: 100 } });
    const b = body as { recipient: { id: string }; message: { text?: string; attachment?: { payload: { text: string } } } };
    const messageId = `m_fake${++this.ids}`;
    const text = b.message.text ?? b.message.attachment?.payload.text ?? "";
    this.sends.push({
      pageId: decodeURIComponent(match[2]!),
      recipient: b.recipient.id,
      text,
      messageId,
      message: b.message as Record<string, unknown>,
    });
    return send(res, 200, { recipient_id: b.recipient.id, message_id: messageId });
  }

  /** `GET /{version}/{PSID | IGSID}?fields=…` with the Page token: the user's profile, only the fields asked. */
  private async profile(req: IncomingMessage, res: ServerResponse, raw: string, url: URL): Promise<void> {
    const violations: string[] = [];
    const match = /^\/(v\d+\.\d+)\/(\d{1,30})$/.exec(url.pathname);
    if (!match) violations.push(`path: ${url.pathname} is not /{version}/{user id}`);
    else if (match[1] !== this.version) violations.push(`version: ${match[1]} is not ${this.version}`);
    const auth = req.headers.authorization ?? "";
    const token = auth.startsWith("Bearer ") ? auth.slice(7) : url.searchParams.get("access_token");
    if (!token) violations.push("no access token (Authorization: Bearer or access_token)");
    const fields = (url.searchParams.get("fields") ?? "").split(",").filter((f) => f.length > 0);
    if (fields.length === 0) violations.push("fields: missing (Meta answers only the id without it)");
    for (const f of fields) if (!PROFILE_FIELDS.has(f)) violations.push(`fields: ${f} is not a profile field a Page may read`);
    for (const k of url.searchParams.keys()) if (k !== "fields" && k !== "access_token") violations.push(`${k}: not a profile parameter`);
    if (raw.length > 0) violations.push("GET with a body");
    this.requests.push({ method: "GET", path: url.pathname, headers: req.headers, body: null, violations });
    if (!match) return send(res, 404, { error: { message: "Unknown path components", type: "OAuthException", code: 2500 } });
    const id = match[2]!;
    this.profileReads.set(id, (this.profileReads.get(id) ?? 0) + 1);
    if (token && !this.tokens.has(token))
      return send(res, 400, { error: { message: "Invalid OAuth access token.", type: "OAuthException", code: 190 } });
    const profile = this.profiles.get(id);
    if (!profile)
      return send(res, 400, {
        error: { message: "(#100) No profile available for that user.", type: "OAuthException", code: 100, error_subcode: 2018218 },
      });
    return send(res, 200, { id, ...Object.fromEntries(fields.filter((f) => profile[f] !== undefined).map((f) => [f, profile[f]])) });
  }
}

/** The fields Meta's profile APIs give a Page: Messenger's User Profile API, Instagram Messaging's user profile. */
const PROFILE_FIELDS = new Set(["name", "first_name", "last_name", "profile_pic", "username"]);

/** What is wrong with a Send API request (a text reply within the 24-hour window). */
function sendViolations(req: IncomingMessage, body: unknown): string[] {
  const v: string[] = [];
  if (!/^application\/json(;|$)/i.test(req.headers["content-type"] ?? ""))
    v.push(`content-type: ${req.headers["content-type"]} is not application/json`);
  if (typeof body !== "object" || body === null) return [...v, "body: not an object"];
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!["recipient", "messaging_type", "message", "tag", "notification_type"].includes(k)) v.push(`body.${k}: not a Send API field`);
  const r = b.recipient as Record<string, unknown> | undefined;
  if (typeof r?.id !== "string" || !/^\d{1,30}$/.test(r.id)) v.push(`recipient.id: ${JSON.stringify(r?.id)} is not a PSID / IGSID`);
  if (b.messaging_type !== "RESPONSE") v.push(`messaging_type: ${JSON.stringify(b.messaging_type)} is not "RESPONSE"`);
  const m = b.message as Record<string, unknown> | undefined;
  if (m?.attachment !== undefined) return [...v, ...buttonTemplateViolations(m)];
  if (typeof m?.text !== "string" || m.text.length < 1 || m.text.length > 2000) v.push("message.text: not 1 to 2000 characters");
  for (const k of Object.keys(m ?? {}))
    if (!["text", "quick_replies", "metadata"].includes(k)) v.push(`message.${k}: not a text message field`);
  return v;
}

/** What is wrong with a button template message (Send API reference, "Button Template"; Messenger and Instagram). */
function buttonTemplateViolations(m: Record<string, unknown>): string[] {
  const v: string[] = [];
  for (const k of Object.keys(m))
    if (!["attachment", "quick_replies", "metadata"].includes(k)) v.push(`message.${k}: not an attachment message field`);
  const a = m.attachment as Record<string, unknown> | undefined;
  if (a?.type !== "template") return [...v, `message.attachment.type: ${JSON.stringify(a?.type)} (we send templates)`];
  const p = a.payload as Record<string, unknown> | undefined;
  if (p?.template_type !== "button")
    return [...v, `message.attachment.payload.template_type: ${JSON.stringify(p?.template_type)} (we send button)`];
  for (const k of Object.keys(p))
    if (!["template_type", "text", "buttons"].includes(k)) v.push(`message.attachment.payload.${k}: not a button template field`);
  if (typeof p.text !== "string" || p.text.length < 1 || p.text.length > 640)
    v.push("message.attachment.payload.text: not 1 to 640 characters");
  if (!Array.isArray(p.buttons) || p.buttons.length < 1 || p.buttons.length > 3)
    return [...v, "message.attachment.payload.buttons: not 1 to 3 buttons"];
  p.buttons.forEach((btn: Record<string, unknown>, i: number) => {
    if (btn?.type !== "web_url") v.push(`buttons[${i}].type: ${JSON.stringify(btn?.type)} (we send web_url)`);
    if (typeof btn?.title !== "string" || btn.title.length < 1 || btn.title.length > 20)
      v.push(`buttons[${i}].title: not 1 to 20 characters`);
    if (typeof btn?.url !== "string" || !/^https:\/\/\S+$/.test(btn.url)) v.push(`buttons[${i}].url: not an https URL`);
  });
  return v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Meta's webhook signature of `body` (`X-Hub-Signature-256`). */
export function signMeta(body: string, appSecret: string): string {
  return metaSignature(body, appSecret);
}

/** A messaging item carrying a customer's message, as Meta sends it. */
export function metaMessageItem(opts: {
  readonly senderId: string;
  readonly pageId: string;
  readonly mid?: string;
  readonly text?: string;
  readonly attachments?: readonly Record<string, unknown>[];
  readonly timestamp?: number;
}): Record<string, unknown> {
  return {
    sender: { id: opts.senderId },
    recipient: { id: opts.pageId },
    timestamp: opts.timestamp ?? Date.now(),
    message: {
      mid: opts.mid ?? `m_${Math.random().toString(36).slice(2)}${Date.now()}`,
      ...(opts.text !== undefined ? { text: opts.text } : {}),
      ...(opts.attachments ? { attachments: opts.attachments } : {}),
    },
  };
}

/** A webhook body: one entry of the page (or Instagram account) with these messaging items. */
export function metaWebhookBody(object: "page" | "instagram", pageId: string, messaging: readonly Record<string, unknown>[]): string {
  return JSON.stringify({ object, entry: [{ id: pageId, time: Date.now(), messaging }] });
}
