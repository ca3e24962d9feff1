import { createCipheriv, createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { FakeProviderServer } from "./server.ts";

/**
 * A local fake of the WeChat Official Account API, on a free port: the token endpoint and the
 * customer-service message endpoint, each request checked field by field against WeChat's
 * documentation and recorded; errcode answers and HTTP failures on demand. Plus what WeChat does
 * on its side of a webhook: the query signed with the account's token, and message XML.
 */

/** One request the fake received. */
export interface WechatRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly body: unknown;
  readonly violations: readonly string[];
}

/** An answer injected for the next send(s): an errcode in a 200 (as WeChat answers), or an HTTP status. */
export type WechatFailure = { readonly errcode: number; readonly errmsg?: string } | { readonly status: number };

/** OpenIDs: 28 characters of [A-Za-z0-9_-] in practice; the fake accepts 20 to 40. */
const OPENID = /^[A-Za-z0-9_-]{20,40}$/;

export class FakeWechat extends FakeProviderServer<WechatRequest> {
  /** Accepted customer-service messages (errcode 0), in order. */
  readonly sends: { readonly touser: string; readonly content: string; readonly token: string }[] = [];
  /** How many tokens were issued, per appid. */
  readonly tokenFetches = new Map<string, number>();
  private readonly valid = new Map<string, string>(); // token → appid
  private readonly failures: WechatFailure[] = [];
  private ids = 0;

  private constructor(
    /** appid → secret of the accounts the fake knows. */
    readonly apps: Map<string, string>,
  ) {
    super();
  }

  static async start(apps: Record<string, string> = {}): Promise<FakeWechat> {
    return new FakeWechat(new Map(Object.entries(apps))).listen();
  }

  /** The next `count` customer-service sends answer `failure` (after the token is checked). */
  fail(failure: WechatFailure, count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(failure);
  }

  /** Every token issued so far stops working (WeChat answers 42001 "access_token expired"). */
  expireTokens(): void {
    this.valid.clear();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, raw: string, url: URL): Promise<void> {
    const query = Object.fromEntries(url.searchParams);
    const violations: string[] = [];

    if (req.method === "GET" && url.pathname === "/cgi-bin/token") {
      if (query.grant_type !== "client_credential")
        violations.push(`grant_type: ${JSON.stringify(query.grant_type)} is not client_credential`);
      for (const k of Object.keys(query))
        if (!["grant_type", "appid", "secret"].includes(k)) violations.push(`${k}: not a token parameter`);
      if (raw.length > 0) violations.push("GET with a body");
      this.requests.push({ method: "GET", path: url.pathname, query, body: null, violations });
      const appid = query.appid ?? "";
      if (!this.apps.has(appid)) return send(res, 200, { errcode: 40013, errmsg: "invalid appid" });
      if (this.apps.get(appid) !== query.secret) return send(res, 200, { errcode: 40125, errmsg: "invalid appsecret" });
      this.tokenFetches.set(appid, (this.tokenFetches.get(appid) ?? 0) + 1);
      const token = `${appid}-${++this.ids}-${randomBytes(16).toString("hex")}`;
      this.valid.set(token, appid);
      return send(res, 200, { access_token: token, expires_in: 7200 });
    }

    if (req.method === "POST" && url.pathname === "/cgi-bin/message/custom/send") {
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        violations.push("body: not JSON");
      }
      violations.push(...sendViolations(req, query, body));
      this.requests.push({ method: "POST", path: url.pathname, query, body, violations });
      const token = query.access_token ?? "";
      if (!this.valid.has(token))
        return send(
          res,
          200,
          token.includes("-") ? { errcode: 42001, errmsg: "access_token expired" } : { errcode: 40001, errmsg: "invalid credential" },
        );
      const failure = this.failures.shift();
      if (failure) {
        if ("status" in failure) return send(res, failure.status, { message: `fake failure ${failure.status}` });
        return send(res, 200, { errcode: failure.errcode, errmsg: failure.errmsg ?? `fake errcode ${failure.errcode}` });
      }
      if (violations.length > 0) return send(res, 200, { errcode: 44002, errmsg: `invalid request: ${violations.join("; ")}` });
      const b = body as { touser: string; text: { content: string } };
      this.sends.push({ touser: b.touser, content: b.text.content, token });
      return send(res, 200, { errcode: 0, errmsg: "ok" });
    }

    this.requests.push({ method: req.method ?? "?", path: url.pathname, query, body: raw, violations: ["not an endpoint the fake knows"] });
    return send(res, 404, { errcode: 404, errmsg: "not found" });
  }
}

/** What is wrong with a customer-service text message, per WeChat's documentation. */
function sendViolations(req: IncomingMessage, query: Record<string, string>, body: unknown): string[] {
  const v: string[] = [];
  if (!/^application\/json/i.test(req.headers["content-type"] ?? "")) v.push(`content-type: ${req.headers["content-type"]} is not JSON`);
  if (!query.access_token) v.push("access_token: missing from the query");
  for (const k of Object.keys(query)) if (k !== "access_token") v.push(`${k}: not a send parameter`);
  if (typeof body !== "object" || body === null) return [...v, "body: not an object"];
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!["touser", "msgtype", "text", "customservice"].includes(k)) v.push(`body.${k}: not a text message field`);
  if (typeof b.touser !== "string" || !OPENID.test(b.touser)) v.push(`touser: ${JSON.stringify(b.touser)} is not an OpenID`);
  if (b.msgtype !== "text") v.push(`msgtype: ${JSON.stringify(b.msgtype)} (we send text)`);
  const text = b.text as Record<string, unknown> | undefined;
  if (typeof text !== "object" || text === null) return [...v, "text: not an object"];
  for (const k of Object.keys(text)) if (k !== "content") v.push(`text.${k}: not a text field`);
  if (typeof text.content !== "string" || text.content.length === 0) v.push("text.content: not a non-empty string");
  return v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** WeChat's webhook query for `token`: `signature` (hex SHA-1 of the sorted token, timestamp, nonce), `timestamp`, `nonce`. */
export function signWechat(
  token: string,
  opts: { timestamp?: string; nonce?: string } = {},
): { signature: string; timestamp: string; nonce: string } {
  const timestamp = opts.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? String(Math.floor(Math.random() * 1e9));
  const signature = createHash("sha1").update([token, timestamp, nonce].sort().join("")).digest("hex");
  return { signature, timestamp, nonce };
}

/**
 * A safe-mode body as WeChat posts it (its message encryption guide): the message XML behind 16
 * random bytes and its length (4 bytes, network order), followed by the AppID, PKCS#7-padded to 32
 * bytes, AES-256-CBC with the key base64(EncodingAESKey + "=") and its first 16 bytes as IV;
 * `<Encrypt>` holds the base64, and the query adds `msg_signature` = SHA-1 of the sorted token,
 * timestamp, nonce and Encrypt, next to the plaintext-mode `signature`.
 */
export function wechatSafeMode(opts: {
  token: string;
  encodingAESKey: string;
  appId: string;
  xml: string;
  timestamp?: string;
  nonce?: string;
}): {
  body: string;
  encrypt: string;
  query: Record<string, string>;
} {
  const key = Buffer.from(`${opts.encodingAESKey}=`, "base64");
  const message = Buffer.from(opts.xml, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(message.length);
  const plain = Buffer.concat([randomBytes(16), length, message, Buffer.from(opts.appId, "utf8")]);
  const pad = 32 - (plain.length % 32);
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16)).setAutoPadding(false);
  const encrypt = Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString("base64");
  const q = signWechat(opts.token, {
    ...(opts.timestamp ? { timestamp: opts.timestamp } : {}),
    ...(opts.nonce ? { nonce: opts.nonce } : {}),
  });
  const msgSignature = createHash("sha1").update([opts.token, q.timestamp, q.nonce, encrypt].sort().join("")).digest("hex");
  return {
    body: `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
    encrypt,
    query: { ...q, encrypt_type: "aes", msg_signature: msgSignature },
  };
}

/** An EncodingAESKey as the Official Account platform makes them: 43 characters of [A-Za-z0-9]. */
export function wechatEncodingAESKey(): string {
  return randomBytes(48)
    .toString("base64")
    .replace(/[^A-Za-z0-9]/g, "")
    .slice(0, 43)
    .padEnd(43, "A");
}

/** An OpenID (28 characters) from a short seed. */
export function wechatOpenId(seed: string): string {
  return `o${createHash("sha256").update(seed).digest("base64url").slice(0, 27)}`;
}

/** A plaintext-mode message body as WeChat posts it: `<xml>` with CDATA strings, `fields` after the common ones. */
export function wechatXml(opts: {
  readonly to?: string;
  readonly from: string;
  readonly type: string;
  readonly fields: Record<string, string | number>;
}): string {
  const cdata = (s: string) => `<![CDATA[${s.replaceAll("]]>", "]]]]><![CDATA[>")}]]>`;
  const rest = Object.entries(opts.fields)
    .map(([k, val]) => `<${k}>${typeof val === "number" ? val : cdata(val)}</${k}>`)
    .join("");
  return (
    `<xml><ToUserName>${cdata(opts.to ?? "gh_0123456789ab")}</ToUserName><FromUserName>${cdata(opts.from)}</FromUserName>` +
    `<CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType>${cdata(opts.type)}</MsgType>${rest}</xml>`
  );
}
