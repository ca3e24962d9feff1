import { createHmac, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { FakeProviderServer } from "./server.ts";

/**
 * A local fake of the LINE Messaging API, on a free port: the endpoints we call (push, profile),
 * each request checked field by field against LINE's documented shape and recorded; failures
 * (5xx, 429 with Retry-After, 400, timeouts) answered on demand. Plus what LINE does on its
 * side of a webhook: bodies signed with the channel secret.
 */

/** One request the fake received, as parsed. */
export interface LineRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: unknown;
  /** What did not match LINE's documented shape (empty when the request was right). */
  readonly violations: readonly string[];
}

/** An answer injected for the next request(s) of an endpoint. */
export type LineFailure = { readonly status: number; readonly retryAfter?: string; readonly body?: unknown } | { readonly timeout: true };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** LINE ids: U (user), C (group), R (room) + 32 hex digits. */
const LINE_ID = /^[UCR][0-9a-f]{32}$/;

export interface LineProfile {
  readonly displayName: string;
  readonly pictureUrl?: string;
}

export class FakeLine extends FakeProviderServer<LineRequest> {
  /** Accepted pushes (answered 2xx), in order. */
  readonly pushes: {
    readonly to: string;
    /** Each message's text (a template message's `altText`). */
    readonly texts: readonly string[];
    readonly retryKey: string;
    readonly id: string;
    /** The messages as sent. */
    readonly messages: readonly Record<string, unknown>[];
  }[] = [];
  private readonly failures = new Map<string, LineFailure[]>();
  private readonly profiles = new Map<string, LineProfile>();
  private readonly accepted = new Map<string, string>();
  private ids = 0;

  private constructor(
    /** The channel access tokens the fake accepts. */
    readonly tokens: Set<string>,
  ) {
    super();
  }

  /** Starts the fake on a free port of 127.0.0.1, accepting `tokens` as channel access tokens. */
  static async start(tokens: readonly string[]): Promise<FakeLine> {
    return new FakeLine(new Set(tokens)).listen();
  }

  /** Registers a user's profile (`GET /v2/bot/profile/{userId}`); unknown users answer 404 as LINE does. */
  setProfile(userId: string, profile: LineProfile): void {
    this.profiles.set(userId, profile);
  }

  /** The next `count` requests to `endpoint` ("push" | "profile") answer `failure`. */
  fail(endpoint: "push" | "profile", failure: LineFailure, count = 1): void {
    const list = this.failures.get(endpoint) ?? [];
    for (let i = 0; i < count; i++) list.push(failure);
    this.failures.set(endpoint, list);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, raw: string, url: URL): Promise<void> {
    const violations: string[] = [];
    const auth = req.headers.authorization ?? "";
    const token = auth.startsWith("Bearer ") ? auth.slice(7) : null;
    if (token === null) violations.push("Authorization: not `Bearer <channel access token>`");

    if (req.method === "POST" && url.pathname === "/v2/bot/message/push") {
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        violations.push("body: not JSON");
      }
      violations.push(...pushViolations(req, body));
      this.requests.push({ method: "POST", path: url.pathname, headers: req.headers, body, violations });
      if (token !== null && !this.tokens.has(token))
        return send(res, 401, { message: "Authentication failed. Confirm that the access token in the authorization header is valid." });
      const failure = this.failures.get("push")?.shift();
      if (failure) return this.answerFailure(res, failure);
      if (violations.length > 0)
        return send(res, 400, { message: "The request body has 1 error(s)", details: violations.map((v) => ({ message: v })) });
      const push = body as { to: string; messages: { text?: string; altText?: string }[] };
      const retryKey = String(req.headers["x-line-retry-key"] ?? "");
      const before = this.accepted.get(retryKey);
      if (before)
        return send(
          res,
          409,
          { message: "The retry key is already accepted", sentMessages: [{ id: before, quoteToken: "q" }] },
          { "x-line-accepted-request-id": randomUUID() },
        );
      const id = String(500_000_000_000_000 + ++this.ids);
      this.accepted.set(retryKey, id);
      this.pushes.push({
        to: push.to,
        texts: push.messages.map((m) => m.text ?? m.altText ?? ""),
        retryKey,
        id,
        messages: push.messages as Record<string, unknown>[],
      });
      return send(res, 200, { sentMessages: [{ id, quoteToken: `quote-${id}` }] }, { "x-line-request-id": randomUUID() });
    }

    // 1-on-1: /v2/bot/profile/{userId}; groups and rooms: /v2/bot/{group|room}/{id}/member/{userId}
    const profile =
      /^\/v2\/bot\/profile\/([^/]+)$/.exec(url.pathname) ??
      /^\/v2\/bot\/(?:group|room)\/[CR][0-9a-f]{32}\/member\/([^/]+)$/.exec(url.pathname);
    if (req.method === "GET" && profile) {
      const userId = decodeURIComponent(profile[1]!);
      if (!LINE_ID.test(userId) || !userId.startsWith("U")) violations.push(`userId: ${JSON.stringify(userId)} is not a LINE user id`);
      if (raw.length > 0) violations.push("GET with a body");
      this.requests.push({ method: "GET", path: url.pathname, headers: req.headers, body: null, violations });
      if (token !== null && !this.tokens.has(token)) return send(res, 401, { message: "Authentication failed." });
      const failure = this.failures.get("profile")?.shift();
      if (failure) return this.answerFailure(res, failure);
      const p = this.profiles.get(userId);
      if (!p) return send(res, 404, { message: "Not found" });
      return send(res, 200, { userId, displayName: p.displayName, ...(p.pictureUrl ? { pictureUrl: p.pictureUrl } : {}), language: "en" });
    }

    this.requests.push({
      method: req.method ?? "?",
      path: url.pathname,
      headers: req.headers,
      body: raw,
      violations: [...violations, "not an endpoint the fake knows"],
    });
    return send(res, 404, { message: "Not found" });
  }

  private answerFailure(res: ServerResponse, failure: LineFailure): void {
    if ("timeout" in failure) {
      this.held.add(res); // never answered; destroyed at stop()
      return;
    }
    send(
      res,
      failure.status,
      failure.body ?? { message: `fake failure ${failure.status}` },
      failure.retryAfter ? { "retry-after": failure.retryAfter } : {},
    );
  }
}

/** What is wrong with a push request, per LINE's documentation of `POST /v2/bot/message/push`. */
function pushViolations(req: IncomingMessage, body: unknown): string[] {
  const v: string[] = [];
  if (!/^application\/json(;|$)/i.test(req.headers["content-type"] ?? ""))
    v.push(`content-type: ${req.headers["content-type"]} is not application/json`);
  const key = req.headers["x-line-retry-key"];
  if (typeof key !== "string" || !UUID.test(key)) v.push(`X-Line-Retry-Key: ${JSON.stringify(key)} is not a UUID`);
  if (typeof body !== "object" || body === null) return [...v, "body: not an object"];
  const b = body as Record<string, unknown>;
  const allowed = new Set(["to", "messages", "notificationDisabled", "customAggregationUnits"]);
  for (const k of Object.keys(b)) if (!allowed.has(k)) v.push(`body.${k}: not a push request field`);
  if (typeof b.to !== "string" || !LINE_ID.test(b.to)) v.push(`to: ${JSON.stringify(b.to)} is not a user, group or room id`);
  if (!Array.isArray(b.messages) || b.messages.length < 1 || b.messages.length > 5) return [...v, "messages: not 1 to 5 messages"];
  b.messages.forEach((m: unknown, i) => {
    const msg = m as Record<string, unknown>;
    if (msg?.type === "template") {
      v.push(...templateViolations(msg, `messages[${i}]`));
      return;
    }
    if (msg?.type !== "text") v.push(`messages[${i}].type: ${JSON.stringify(msg?.type)} (we send text)`);
    if (typeof msg?.text !== "string" || msg.text.length < 1 || msg.text.length > 5000)
      v.push(`messages[${i}].text: not 1 to 5000 characters`);
    for (const k of Object.keys(msg ?? {}))
      if (!["type", "text", "emojis", "quoteToken", "quickReply", "sender"].includes(k))
        v.push(`messages[${i}].${k}: not a text message field`);
  });
  return v;
}

const HTTPS = /^https:\/\/[^\s]+$/;

/** What is wrong with a template message (we send buttons templates), per LINE's "Template messages" reference. */
function templateViolations(msg: Record<string, unknown>, at: string): string[] {
  const v: string[] = [];
  const len = (x: unknown) => (typeof x === "string" ? x.length : -1);
  for (const k of Object.keys(msg))
    if (!["type", "altText", "template", "quickReply", "sender"].includes(k)) v.push(`${at}.${k}: not a template message field`);
  if (len(msg.altText) < 1 || len(msg.altText) > 400) v.push(`${at}.altText: not 1 to 400 characters`);
  const t = msg.template as Record<string, unknown> | undefined;
  if (t?.type !== "buttons") return [...v, `${at}.template.type: ${JSON.stringify(t?.type)} (we send buttons)`];
  for (const k of Object.keys(t))
    if (
      ![
        "type",
        "thumbnailImageUrl",
        "imageAspectRatio",
        "imageSize",
        "imageBackgroundColor",
        "title",
        "text",
        "defaultAction",
        "actions",
      ].includes(k)
    )
      v.push(`${at}.template.${k}: not a buttons template field`);
  const header = t.title !== undefined || t.thumbnailImageUrl !== undefined;
  if (t.thumbnailImageUrl !== undefined && (!HTTPS.test(String(t.thumbnailImageUrl)) || len(t.thumbnailImageUrl) > 2000))
    v.push(`${at}.template.thumbnailImageUrl: not an https URL of at most 2000 characters`);
  if (t.title !== undefined && (len(t.title) < 1 || len(t.title) > 40)) v.push(`${at}.template.title: not 1 to 40 characters`);
  const max = header ? 60 : 160;
  if (len(t.text) < 1 || len(t.text) > max) v.push(`${at}.template.text: not 1 to ${max} characters`);
  if (!Array.isArray(t.actions) || t.actions.length < 1 || t.actions.length > 4)
    return [...v, `${at}.template.actions: not 1 to 4 actions`];
  t.actions.forEach((a: Record<string, unknown>, j: number) => {
    if (a?.type !== "uri") v.push(`${at}.template.actions[${j}].type: ${JSON.stringify(a?.type)} (we send uri actions)`);
    if (len(a?.label) < 1 || len(a?.label) > 20) v.push(`${at}.template.actions[${j}].label: not 1 to 20 characters`);
    if (!HTTPS.test(String(a?.uri)) || len(a?.uri) > 1000)
      v.push(`${at}.template.actions[${j}].uri: not an https URL of at most 1000 characters`);
  });
  return v;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** LINE's webhook signature of `body`: base64 HMAC-SHA256 with the channel secret (`x-line-signature`). */
export function signLine(body: string | Buffer, channelSecret: string): string {
  return createHmac("sha256", channelSecret).update(body).digest("base64");
}

/** A LINE user id (U + 32 hex digits) from a short seed. */
export function lineUserId(seed: string): string {
  return `U${Buffer.from(seed.padEnd(16, "0")).subarray(0, 16).toString("hex")}`;
}
/** A LINE group id (C + 32 hex digits) from a short seed. */
export function lineGroupId(seed: string): string {
  return `C${Buffer.from(seed.padEnd(16, "0")).subarray(0, 16).toString("hex")}`;
}

/** A webhook message event as LINE sends it (a text message from a user unless told otherwise). */
export function lineMessageEvent(opts: {
  readonly eventId?: string;
  readonly userId: string;
  readonly groupId?: string;
  readonly message: Record<string, unknown>;
  readonly timestamp?: number;
  readonly redelivery?: boolean;
}): Record<string, unknown> {
  return {
    type: "message",
    mode: "active",
    timestamp: opts.timestamp ?? Date.now(),
    source: opts.groupId ? { type: "group", groupId: opts.groupId, userId: opts.userId } : { type: "user", userId: opts.userId },
    webhookEventId: opts.eventId ?? `01${randomUUID().replaceAll("-", "").toUpperCase().slice(0, 24)}`,
    deliveryContext: { isRedelivery: opts.redelivery ?? false },
    replyToken: randomUUID().replaceAll("-", ""),
    message: { quoteToken: "q", ...opts.message },
  };
}

/** A webhook body as LINE sends it: `{ destination, events }`. */
export function lineWebhookBody(events: readonly Record<string, unknown>[], destination = `U${"d".repeat(32)}`): string {
  return JSON.stringify({ destination, events });
}
