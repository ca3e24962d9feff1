import { claimChannelTokenRefresh, releaseChannelTokenRefresh, saveChannelToken, selectChannelToken } from "../../../db/channelTokens.ts";
import type { Db } from "../../../db/client.ts";
import { decryptSecrets, encryptSecrets, secretsKeyOf } from "../secrets.ts";
import type { ChannelAccount } from "../types.ts";
import { type WechatAnswer, wechatApiBaseUrl, wechatCall } from "./client.ts";

/**
 * WeChat's access tokens (`GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`): one
 * per account, kept until shortly before it expires, and fetched by one caller at a time per
 * account. WeChat limits token fetches per day, and a new token invalidates the old one after a
 * short overlap, so with a `store` (the database: `dbTokenStore`) every process shares the one
 * token: a process that needs a new one claims the fetch in the store, the others wait for the
 * token it saves instead of fetching their own. Within a process, concurrent callers wait for the
 * same fetch.
 */

/** Where the processes keep the token they share (db/channelTokens.ts through `dbTokenStore`). */
export interface SharedTokenStore {
  read(accountId: string): Promise<{ readonly token: string; readonly appId: string; readonly expiresAt: number } | null>;
  /** Claims the fetch of a new token until `until` (ms); false when another process holds a claim. */
  claim(accountId: string, now: number, until: number): Promise<boolean>;
  save(accountId: string, token: { readonly token: string; readonly appId: string; readonly expiresAt: number }): Promise<void>;
  release(accountId: string, until: number): Promise<void>;
}

/** How long a process's claim to fetch a token lasts (it dies mid-fetch: another fetches after this). */
const CLAIM_MS = 15_000;
/** How often a process waiting for another's fetch looks for the new token. */
const WAIT_POLL_MS = 100;

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

  /** Per account: a token WeChat refused (40001 / 42001), never taken from the store again. */
  private readonly refused = new Map<string, string>();

  constructor(
    private readonly opts: {
      readonly apiBaseUrl?: () => string;
      readonly now?: () => number;
      readonly timeoutMs?: number;
      /** Shares the token with the other processes (without it, each instance keeps its own). */
      readonly store?: SharedTokenStore;
    } = {},
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
    const fetching = (this.opts.store ? this.shared(account, this.opts.store) : this.fetch(account)).finally(() =>
      this.inFlight.delete(key),
    );
    this.inFlight.set(key, fetching);
    return fetching;
  }

  /** Forgets `token` if it is the cached one (WeChat said it is invalid or expired: 40001 / 42001). */
  invalidate(account: ChannelAccount, token: string): void {
    const key = this.key(account);
    if (this.cache.get(key)?.token === token) this.cache.delete(key);
    this.refused.set(key, token);
  }

  /**
   * The token every process shares: the stored one while valid (and not refused), else one this
   * process fetches after claiming the fetch, else — another process holds the claim — the one
   * it saves, waited for (at most the claim's length; then this process claims and fetches).
   */
  private async shared(account: ChannelAccount, store: SharedTokenStore): Promise<string> {
    const key = this.key(account);
    const appId = account.secrets.appId ?? "";
    const now = this.opts.now ?? Date.now;
    const usable = async (): Promise<string | null> => {
      const stored = await store.read(account.id);
      if (!stored || stored.appId !== appId || stored.expiresAt <= now() || stored.token === this.refused.get(key)) return null;
      this.cache.set(key, { token: stored.token, expiresAt: stored.expiresAt });
      return stored.token;
    };
    for (;;) {
      const found = await usable();
      if (found) return found;
      const until = now() + CLAIM_MS;
      if (await store.claim(account.id, now(), until)) {
        // Another process may have saved a token between the read and the claim.
        const saved = await usable();
        if (saved) {
          await store.release(account.id, until);
          return saved;
        }
        let fetched: Cached;
        try {
          fetched = await this.fetchToken(account);
        } catch (err) {
          await store.release(account.id, until).catch(() => {}); // else the claim runs out
          throw err;
        }
        await store.save(account.id, { token: fetched.token, appId, expiresAt: fetched.expiresAt });
        this.cache.set(key, fetched);
        this.refused.delete(key);
        return fetched.token;
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  }

  /** Forgets every token (tests). */
  clear(): void {
    this.cache.clear();
  }

  private async fetch(account: ChannelAccount): Promise<string> {
    const fetched = await this.fetchToken(account);
    this.cache.set(this.key(account), fetched);
    return fetched.token;
  }

  /** A new token from WeChat, with when to stop using it. */
  private async fetchToken(account: ChannelAccount): Promise<Cached> {
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
    return { token, expiresAt: now + Math.max(0, expiresIn * 1000 - EXPIRY_MARGIN_MS) };
  }
}

/** The database as the processes' shared token store (tokens encrypted with the channel secrets key). */
export function dbTokenStore(db: Db): SharedTokenStore {
  return {
    async read(accountId) {
      const row = await selectChannelToken(db, accountId);
      if (!row?.tokenEnc || !row.appId || !row.expiresAt) return null;
      const token = decryptSecrets(secretsKeyOf(db), row.tokenEnc).token;
      return token ? { token, appId: row.appId, expiresAt: row.expiresAt.getTime() } : null;
    },
    claim: (accountId, now, until) => claimChannelTokenRefresh(db, accountId, new Date(now), new Date(until)),
    save: (accountId, t) =>
      saveChannelToken(db, accountId, {
        tokenEnc: encryptSecrets(secretsKeyOf(db), { token: t.token }),
        appId: t.appId,
        expiresAt: new Date(t.expiresAt),
      }),
    release: (accountId, until) => releaseChannelTokenRefresh(db, accountId, new Date(until)),
  };
}
