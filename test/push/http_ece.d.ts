declare module "http_ece" {
  /** RFC 8188 decryption (aes128gcm); for Web Push, `privateKey` is the receiver's ECDH key and `authSecret` the subscription's auth. */
  export function decrypt(buffer: Buffer, params: Record<string, unknown>): Buffer;
}
