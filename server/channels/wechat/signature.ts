import { createHash, timingSafeEqual } from "node:crypto";

/**
 * WeChat's webhook signature (Official Account "access guide"): the `signature` query parameter is
 * the hex SHA-1 of the account's token, `timestamp` and `nonce`, sorted lexicographically and
 * joined with nothing between them. The same check guards the GET handshake and every POST; the
 * body is not covered by it in plaintext mode (WeChat signs only these three values).
 */

/** The signature WeChat sends for `token`, `timestamp`, `nonce`. */
export function wechatSignature(token: string, timestamp: string, nonce: string): string {
  return createHash("sha1").update([token, timestamp, nonce].sort().join("")).digest("hex");
}

/** Whether `signature` matches (timing-safe); false when anything is missing. */
export function isWechatSignatureValid(
  token: string | undefined,
  q: { readonly signature?: string | undefined; readonly timestamp?: string | undefined; readonly nonce?: string | undefined },
): boolean {
  if (!token || !q.signature || !q.timestamp || !q.nonce) return false;
  const expected = Buffer.from(wechatSignature(token, q.timestamp, q.nonce), "utf8");
  const given = Buffer.from(q.signature.toLowerCase(), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * How far a POST's `timestamp` may be from our clock. In plaintext mode WeChat's signature does not
 * cover the body, so a captured query could be replayed with any body; refusing old timestamps
 * bounds that to this window (WeChat retries a webhook within about 15 s).
 */
export const WECHAT_TIMESTAMP_WINDOW_S = 300;

/** Whether `timestamp` (Unix seconds) is within `WECHAT_TIMESTAMP_WINDOW_S` of `now`. */
export function isWechatTimestampFresh(timestamp: string | undefined, now: Date): boolean {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  return Math.abs(Number(timestamp) - now.getTime() / 1000) <= WECHAT_TIMESTAMP_WINDOW_S;
}
