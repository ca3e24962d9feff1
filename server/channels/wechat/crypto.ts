import { createDecipheriv, createHash, timingSafeEqual } from "node:crypto";
import { DomainError, ErrorCode } from "../../../domain/errors.ts";
import type { ChannelAccount } from "../types.ts";
import { wechatEnvelope } from "./inbound.ts";

/**
 * WeChat's "safe mode" (安全模式, `encrypt_type=aes`) for Official Account messages, as its message
 * encryption guide describes it:
 * - the body is `<xml><ToUserName/><Encrypt>BASE64</Encrypt></xml>`;
 * - the query's `msg_signature` is the hex SHA-1 of the token, `timestamp`, `nonce` and the
 *   `Encrypt` text, sorted and joined with nothing between them — so, unlike plaintext mode, the
 *   message itself is signed;
 * - `Encrypt` is AES-256-CBC with the key `base64(EncodingAESKey + "=")` (32 bytes), the first 16
 *   bytes of the key as IV, and PKCS#7 padding to a multiple of 32 bytes; the plaintext is 16
 *   random bytes, the message's length as 4 bytes in network order, the message XML, then the
 *   account's AppID.
 * Compatibility mode sends the plaintext fields next to `Encrypt`; we read only `Encrypt` then.
 */

/** An EncodingAESKey as the Official Account platform makes it: 43 characters of [A-Za-z0-9]. */
export const ENCODING_AES_KEY = /^[A-Za-z0-9]{43}$/;

/** PKCS#7 block size of WeChat's padding (not AES's 16). */
const PAD_BLOCK = 32;

/** The AES key of an EncodingAESKey. */
export function wechatAesKey(encodingAESKey: string): Buffer {
  if (!ENCODING_AES_KEY.test(encodingAESKey)) throw new WechatCryptoError("the EncodingAESKey is not 43 characters of [A-Za-z0-9]");
  return Buffer.from(`${encodingAESKey}=`, "base64");
}

/** A safe-mode message that is not what WeChat sends: a bad signature, a broken cipher text, another account's. */
export class WechatCryptoError extends Error {
  override name = "WechatCryptoError";
}

/** The `msg_signature` of a safe-mode message. */
export function wechatMsgSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash("sha1").update([token, timestamp, nonce, encrypt].sort().join("")).digest("hex");
}

/** Whether `msgSignature` matches (timing-safe); false when anything is missing. */
export function isWechatMsgSignatureValid(
  token: string | undefined,
  q: { readonly msg_signature?: string | undefined; readonly timestamp?: string | undefined; readonly nonce?: string | undefined },
  encrypt: string,
): boolean {
  if (!token || !q.msg_signature || !q.timestamp || !q.nonce) return false;
  const expected = Buffer.from(wechatMsgSignature(token, q.timestamp, q.nonce, encrypt), "utf8");
  const given = Buffer.from(q.msg_signature.toLowerCase(), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The message XML inside `encrypt`, checked to be addressed to `appId`. Throws `WechatCryptoError`
 * for anything that does not decrypt to WeChat's layout (wrong key, cut or altered text, padding,
 * length, another AppID).
 */
export function wechatDecrypt(encodingAESKey: string, appId: string, encrypt: string): string {
  const key = wechatAesKey(encodingAESKey);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encrypt)) throw new WechatCryptoError("Encrypt is not base64");
  const cipher = Buffer.from(encrypt, "base64");
  if (cipher.length === 0 || cipher.length % 16 !== 0) throw new WechatCryptoError("Encrypt is not a whole number of AES blocks");
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(cipher), decipher.final()]);
  } catch {
    throw new WechatCryptoError("Encrypt does not decrypt");
  }
  const pad = plain[plain.length - 1] ?? 0;
  if (pad < 1 || pad > PAD_BLOCK || pad > plain.length || !plain.subarray(plain.length - pad).every((b) => b === pad))
    throw new WechatCryptoError("Encrypt has a bad padding (another key?)");
  const content = plain.subarray(0, plain.length - pad);
  if (content.length < 20) throw new WechatCryptoError("Encrypt is too short");
  const length = content.readUInt32BE(16);
  if (20 + length > content.length) throw new WechatCryptoError("Encrypt's message length is past its end");
  const from = content.subarray(20 + length).toString("utf8");
  if (from !== appId) throw new WechatCryptoError("the message is for another AppID");
  return content.subarray(20, 20 + length).toString("utf8");
}

/**
 * The message XML of a webhook POST whose query signature was already checked: the body itself in
 * plaintext mode (`encrypt_type` absent or `raw`), the decrypted `Encrypt` in safe mode (`aes`,
 * also compatibility mode) after its `msg_signature` is checked. A safe-mode body with a bad or
 * missing `msg_signature`, or one that does not decrypt for this account, is 401; an account
 * without an EncodingAESKey, an unknown `encrypt_type` or a body without `Encrypt` is 400.
 */
export function wechatMessageXml(account: ChannelAccount, q: Readonly<Record<string, string | undefined>>, raw: string): string {
  if (q.encrypt_type === undefined || q.encrypt_type === "raw") return raw;
  if (q.encrypt_type !== "aes")
    throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: [`encrypt_type: ${q.encrypt_type} is not raw or aes`] });
  const key = account.secrets.encodingAESKey;
  if (!key)
    throw new DomainError(ErrorCode.INVALID_PAYLOAD, {
      issues: ["encrypt_type: aes (safe mode), but the channel account has no encodingAESKey: set it, or choose plaintext mode"],
    });
  const envelope = wechatEnvelope(raw);
  if (!envelope.ok) throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: envelope.issues });
  if (!isWechatMsgSignatureValid(account.secrets.token, q, envelope.encrypt)) throw new DomainError(ErrorCode.UNAUTHENTICATED);
  try {
    return wechatDecrypt(key, account.secrets.appId ?? "", envelope.encrypt);
  } catch (err) {
    if (err instanceof WechatCryptoError) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    throw err;
  }
}
