/**
 * Where this process reaches WeChat's Official Account API: https://api.weixin.qq.com in
 * production (`WECHAT_API_BASE_URL`), a local fake in tests. Set once at start.
 */

/** WeChat's own API host: the default of `WECHAT_API_BASE_URL`. */
export const WECHAT_API_DEFAULT_BASE_URL = "https://api.weixin.qq.com";

let baseUrl = WECHAT_API_DEFAULT_BASE_URL;

/** Points every WeChat call of this process at `url` (server start; tests: the fake). */
export function useWechatApiBaseUrl(url: string): void {
  baseUrl = url.replace(/\/+$/, "");
}

/** The base URL WeChat calls currently go to. */
export function wechatApiBaseUrl(): string {
  return baseUrl;
}

/** WeChat's JSON answer: `errcode` 0 (or absent) is success. */
export interface WechatAnswer {
  readonly errcode?: number;
  readonly errmsg?: string;
  readonly [key: string]: unknown;
}

/** A WeChat call that failed below the API (HTTP status, not JSON, network, deadline). */
export class WechatHttpError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when WeChat answered one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "WechatHttpError";
  }
}

/** Calls WeChat and reads its JSON answer; a non-2xx status, a body that is not JSON, a network failure or the deadline throw `WechatHttpError`. */
export async function wechatCall(url: string, init: RequestInit, timeoutMs: number): Promise<WechatAnswer> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    throw new WechatHttpError(
      timedOut ? `WeChat did not answer within ${timeoutMs} ms` : `network: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const text = await res.text().catch(() => "");
  if (!res.ok) throw new WechatHttpError(`${res.status} ${res.statusText}`.trim(), res.status);
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body !== "object" || body === null) throw new Error("not an object");
    return body as WechatAnswer;
  } catch {
    throw new WechatHttpError("WeChat answered a body that is not a JSON object", res.status);
  }
}
