import type { ChannelAccount } from "../types.ts";
import { type WechatAnswer, wechatApiBaseUrl, wechatCall } from "./client.ts";

/**
 * WeChat's access tokens (`GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`): one
 * per account, kept in this process until shortly before it expires, and fetched by one caller at
 * a time per account (concurrent sends wait for the same fetch: WeChat limits token fetches per
 * day, and a new token invalidates the old one after a short overlap).
 */

/** How long before WeChat's stated expiry a token is no longer used (its clock and ours differ). */
const EXPIRY_MARGIN_MS = 5 * 60_000;

/** A token fetch WeChat refused (`errcode`), or that failed below the API. */
export class WechatTokenError extends Error {
  constructor(
    message: string,
    readonly errcode?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = "WechatTokenError";
  }
}

interface Cached {
  readonly token: string;
  readonly expiresAt: number;
}

/** Caches and fetches access tokens for WeChat accounts. */
export class WechatTokens {
  private readonly cache = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    private readonly opts: { readonly apiBaseUrl?: () => string; readonly now?: () => number; readonly timeoutMs?: number } = {},
  ) {}

  private key(account: ChannelAccount): string {
    return `${account.id}\u0000${account.secrets.appId ?? ""}`;
  }

  /** The account's token: the cached one while valid, else one fetch shared by every concurrent caller. */
  async get(account: ChannelAccount): Promise<string> {
    const key = this.key(account);
    const now = (this.opts.now ?? Date.now)();
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > now) return hit.token;
    const running = this.inFlight.get(key);
    if (running) return running;
    const fetching = this.fetch(account).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, fetching);
    return fetching;
  }

  /** Forgets `token` if it is the cached one (WeChat said it is invalid or expired: 40001 / 42001). */
  invalidate(account: ChannelAccount, token: string): void {
    const key = this.key(account);
    if (this.cache.get(key)?.token === token) this.cache.delete(key);
  }

  /** Forgets every token (tests). */
  clear(): void {
    this.cache.clear();
  }

  private async fetch(account: ChannelAccount): Promise<string> {
    const { appId, appSecret } = account.secrets;
    if (!appId || !appSecret) throw new WechatTokenError("the channel account has no appId / appSecret");
    const base = (this.opts.apiBaseUrl ?? wechatApiBaseUrl)();
    const url = `${base}/cgi-bin/token?${new URLSearchParams({ grant_type: "client_credential", appid: appId, secret: appSecret })}`;
    let answer: WechatAnswer;
    try {
      answer = await wechatCall(url, { method: "GET" }, this.opts.timeoutMs ?? 10_000);
    } catch (err) {
      const status = (err as { status?: number }).status;
      throw new WechatTokenError(`access token: ${err instanceof Error ? err.message : String(err)}`, undefined, status);
    }
    if (answer.errcode !== undefined && answer.errcode !== 0)
      throw new WechatTokenError(`access token: ${answer.errcode} ${answer.errmsg ?? ""}`.trim(), answer.errcode);
    const token = answer.access_token;
    const expiresIn = answer.expires_in;
    if (typeof token !== "string" || token.length === 0 || typeof expiresIn !== "number")
      throw new WechatTokenError("access token: WeChat's answer has no access_token / expires_in");
    const now = (this.opts.now ?? Date.now)();
    this.cache.set(this.key(account), { token, expiresAt: now + Math.max(0, expiresIn * 1000 - EXPIRY_MARGIN_MS) });
    return token;
  }
}

/** The process's token cache, used by the registered WeChat sender. */
export const wechatTokens = new WechatTokens();
