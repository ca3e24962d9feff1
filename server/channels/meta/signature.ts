/**
 * Meta webhook authentication, shared by Messenger, Instagram and WhatsApp Cloud API.
 *
 * Meta signs every webhook POST with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
 * body keyed by the app secret>`, and verifies a webhook URL once with a GET handshake
 * (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`).
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const PREFIX = "sha256=";
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** The header value Meta would send for `rawBody` (used by the fakes and tests too). */
export function metaSignature(rawBody: string, appSecret: string): string {
  return PREFIX + createHmac("sha256", appSecret).update(rawBody, "utf8").digest("hex");
}

/**
 * True when `header` is Meta's signature of exactly `rawBody` with `appSecret`.
 * Checked on the raw text before any parsing; the comparison is timing-safe. A missing,
 * malformed or differently-prefixed header is simply invalid.
 */
export function isMetaSignatureValid(rawBody: string, header: string | undefined, appSecret: string): boolean {
  if (!header || appSecret.length === 0) return false;
  const value = header.trim();
  if (!value.toLowerCase().startsWith(PREFIX)) return false;
  const hex = value.slice(PREFIX.length);
  if (!HEX_SHA256.test(hex)) return false;
  const expected = createHmac("sha256", appSecret).update(rawBody, "utf8").digest();
  const given = Buffer.from(hex, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The query of Meta's verification GET (any extra parameters are ignored). */
export type HandshakeQuery = Record<string, string | undefined>;

/**
 * Meta's webhook verification: answers `hub.challenge` when `hub.mode` is `subscribe` and
 * `hub.verify_token` equals the channel's verify token (timing-safe), otherwise null (→ 403).
 */
export function verifyHandshake(query: HandshakeQuery, verifyToken: string): string | null {
  const mode = query["hub.mode"];
  const token = query["hub.verify_token"];
  const challenge = query["hub.challenge"];
  if (mode !== "subscribe" || token === undefined || challenge === undefined) return null;
  if (verifyToken.length === 0) return null;
  const a = Buffer.from(token, "utf8");
  const b = Buffer.from(verifyToken, "utf8");
  if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
  return challenge;
}
