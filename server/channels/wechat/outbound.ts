import type { Db } from "../../../db/client.ts";
import type { ChannelAccount, ChannelSender, OutboundMessage, SendResult } from "../types.ts";
import { WechatHttpError, wechatApiBaseUrl, wechatCall } from "./client.ts";
import { dbTokenStore, WechatTokenError, WechatTokens } from "./token.ts";

/**
 * WeChat's outbound half: a staff reply goes out as a customer-service text message
 * (`POST /cgi-bin/message/custom/send?access_token=…`, `{touser, msgtype: "text", text: {content}}`),
 * allowed for 48 hours after the customer's last message. WeChat answers no message id for it
 * and takes no idempotency key: a crash between its answer and our commit sends the text again.
 */

/** How long one call may take before it counts as a transient failure. */
export const WECHAT_SEND_TIMEOUT_MS = 10_000;

/** Stable codes of a WeChat send that did not succeed. */
export const WechatSendCode = {
  /** 45015: the customer has not written within 48 hours; WeChat refuses customer-service messages. */
  WECHAT_WINDOW_CLOSED: "WECHAT_WINDOW_CLOSED",
  /** 40003: the OpenID is not a follower of this account. */
  WECHAT_RECIPIENT_INVALID: "WECHAT_RECIPIENT_INVALID",
  /** 45047 (too many messages to this user) / 45009 (daily API quota) / HTTP 429. */
  WECHAT_RATE_LIMITED: "WECHAT_RATE_LIMITED",
  /** -1 (system busy), 5xx, network failures, deadlines. */
  WECHAT_UNAVAILABLE: "WECHAT_UNAVAILABLE",
  /** 40001 / 42001 / 40014 again with a freshly fetched token. */
  WECHAT_TOKEN_INVALID: "WECHAT_TOKEN_INVALID",
  /** The access token could not be fetched: wrong appId / appSecret, server IP not whitelisted … */
  WECHAT_UNAUTHORIZED: "WECHAT_UNAUTHORIZED",
  /** 48001: the account has no permission for customer-service messages. */
  WECHAT_FORBIDDEN: "WECHAT_FORBIDDEN",
  /** Any other errcode or refused request. */
  WECHAT_REJECTED: "WECHAT_REJECTED",
  WECHAT_NOT_CONFIGURED: "WECHAT_NOT_CONFIGURED",
} as const;

/** errcodes that mean the access token is no longer good: forget it, fetch a new one, try once more. */
const TOKEN_ERRCODES = new Set([40001, 40014, 42001]);

const fail = (transient: boolean, code: string, reason: string): SendResult => ({ ok: false, transient, code, reason });

/** What a send's `errcode` comes to (0 is success). */
export function classifyWechatErrcode(errcode: number, errmsg: string | undefined): SendResult {
  const reason = `${errcode} ${errmsg ?? ""}`.trim();
  switch (errcode) {
    case 0:
      return { ok: true };
    case 45015:
      return fail(false, WechatSendCode.WECHAT_WINDOW_CLOSED, reason);
    case 40003:
      return fail(false, WechatSendCode.WECHAT_RECIPIENT_INVALID, reason);
    case 45047:
    case 45009:
      return fail(true, WechatSendCode.WECHAT_RATE_LIMITED, reason);
    case -1:
      return fail(true, WechatSendCode.WECHAT_UNAVAILABLE, reason);
    case 48001:
      return fail(false, WechatSendCode.WECHAT_FORBIDDEN, reason);
    default:
      if (TOKEN_ERRCODES.has(errcode)) return fail(true, WechatSendCode.WECHAT_TOKEN_INVALID, reason);
      return fail(false, WechatSendCode.WECHAT_REJECTED, reason);
  }
}

/** What a failure below the API comes to: 429 and 5xx, network and deadlines are transient; other statuses permanent. */
function classifyHttp(err: WechatHttpError): SendResult {
  if (err.status === 429) return fail(true, WechatSendCode.WECHAT_RATE_LIMITED, err.message);
  if (err.status === undefined || err.status >= 500 || (err.status >= 200 && err.status < 300))
    return fail(true, WechatSendCode.WECHAT_UNAVAILABLE, err.message);
  return fail(false, WechatSendCode.WECHAT_REJECTED, err.message);
}

/** A token fetch's failure: WeChat's refusal is permanent (credentials), except -1; below the API, transient. */
function classifyToken(err: WechatTokenError): SendResult {
  if (err.errcode === undefined) {
    if (err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 429)
      return fail(false, WechatSendCode.WECHAT_UNAUTHORIZED, err.message);
    return fail(true, WechatSendCode.WECHAT_UNAVAILABLE, err.message);
  }
  if (err.errcode === -1) return fail(true, WechatSendCode.WECHAT_UNAVAILABLE, err.message);
  if (err.errcode === 45009) return fail(true, WechatSendCode.WECHAT_RATE_LIMITED, err.message);
  return fail(false, WechatSendCode.WECHAT_UNAUTHORIZED, err.message);
}

/** Options of a WeChat sender. */
export interface WechatSenderOptions {
  readonly apiBaseUrl?: () => string;
  readonly tokens?: WechatTokens;
  readonly timeoutMs?: number;
}

/** The WeChat sender: one customer-service text message per reply, to the customer's OpenID. */
export class WechatSender implements ChannelSender {
  private readonly tokens: WechatTokens;

  constructor(private readonly opts: WechatSenderOptions = {}) {
    this.tokens = opts.tokens ?? new WechatTokens();
  }

  async send(account: ChannelAccount, message: OutboundMessage): Promise<SendResult> {
    if (!account.secrets.appId || !account.secrets.appSecret)
      return fail(false, WechatSendCode.WECHAT_NOT_CONFIGURED, "the channel account has no appId / appSecret");
    const tokens = this.tokens;
    // First try with the cached token; once more with a fresh one if WeChat says the token is bad.
    for (let attempt = 0; ; attempt++) {
      let token: string;
      try {
        token = await tokens.get(account);
      } catch (err) {
        if (err instanceof WechatTokenError) return classifyToken(err);
        return fail(true, WechatSendCode.WECHAT_UNAVAILABLE, err instanceof Error ? err.message : String(err));
      }
      const result = await this.post(token, message);
      if ("errcode" in result && TOKEN_ERRCODES.has(result.errcode)) {
        tokens.invalidate(account, token);
        if (attempt === 0) continue;
      }
      return result.outcome;
    }
  }

  private async post(
    token: string,
    message: OutboundMessage,
  ): Promise<{ readonly outcome: SendResult; readonly errcode: number } | { readonly outcome: SendResult }> {
    const base = (this.opts.apiBaseUrl ?? wechatApiBaseUrl)();
    const url = `${base}/cgi-bin/message/custom/send?${new URLSearchParams({ access_token: token })}`;
    try {
      const answer = await wechatCall(
        url,
        {
          method: "POST",
          headers: { "content-type": "application/json; charset=utf-8" },
          body: JSON.stringify({ touser: message.recipient, msgtype: "text", text: { content: message.text } }),
        },
        this.opts.timeoutMs ?? WECHAT_SEND_TIMEOUT_MS,
      );
      const errcode = typeof answer.errcode === "number" ? answer.errcode : 0;
      return { outcome: classifyWechatErrcode(errcode, answer.errmsg), errcode };
    } catch (err) {
      if (err instanceof WechatHttpError) return { outcome: classifyHttp(err) };
      return { outcome: fail(true, WechatSendCode.WECHAT_UNAVAILABLE, err instanceof Error ? err.message : String(err)) };
    }
  }
}

/** The registry entry of the delivery worker: WeChat through the process's configured base URL, the token shared through `db`. */
export function wechatSender(db: Db): ChannelSender {
  return new WechatSender({ tokens: new WechatTokens({ store: dbTokenStore(db) }) });
}
