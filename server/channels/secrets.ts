import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Db } from "../../db/client.ts";

/**
 * Channel credentials at rest: AES-256-GCM with a random 12-byte IV per value, under the key of
 * `CHANNEL_SECRETS_KEY` (32 bytes, base64). The stored form is `v1.<iv>.<tag>.<ciphertext>`
 * (base64url), so a wrong key or a changed byte fails authentication instead of decrypting to junk.
 */

const VERSION = "v1";

/** Encrypts a credentials object (JSON) under `key`. */
export function encryptSecrets(key: Buffer, secrets: Readonly<Record<string, string>>): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(secrets), "utf8"), cipher.final()]);
  return [VERSION, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), data.toString("base64url")].join(".");
}

/** Decrypts what `encryptSecrets` stored; throws when the key is wrong or the value was changed. */
export function decryptSecrets(key: Buffer, stored: string): Record<string, string> {
  const [version, iv, tag, data] = stored.split(".");
  if (version !== VERSION || !iv || !tag || data === undefined) throw new Error("channel secrets: unknown format");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  const plain = Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
  return JSON.parse(plain) as Record<string, string>;
}

/** Parses `CHANNEL_SECRETS_KEY`: base64 (or base64url) of exactly 32 bytes, else null. */
export function parseSecretsKey(value: string): Buffer | null {
  const key = Buffer.from(value.trim(), "base64");
  return key.length === 32 ? key : null;
}

/**
 * The key of a server: configured (`CHANNEL_SECRETS_KEY`, required in production — see
 * server/config.ts); on the embedded default, generated once and kept in `DATA_DIR` (as the JWT
 * secret is) so credentials survive a restart; else (PostgreSQL, not production) derived from
 * `JWT_SECRET` so the processes of a development cluster agree; else random, with a warning.
 */
export function resolveSecretsKey(
  config: {
    readonly channelSecretsKey: Buffer | undefined;
    readonly databaseUrl: string | undefined;
    readonly dataDir: string;
    readonly jwtSecret: string | undefined;
  },
  log: Logger,
): Buffer {
  if (config.channelSecretsKey) return config.channelSecretsKey;
  if (!config.databaseUrl && config.dataDir !== "memory://") {
    const file = join(config.dataDir, "channel-secrets-key");
    let stored: string | null = null;
    try {
      stored = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (stored !== null) {
      // Never replaced silently: a new key would make every stored credential unreadable.
      const key = parseSecretsKey(stored);
      if (!key) throw new Error(`${file} is not a 32-byte base64 key; restore it, or set CHANNEL_SECRETS_KEY`);
      return key;
    }
    mkdirSync(config.dataDir, { recursive: true });
    const key = randomBytes(32);
    writeFileSync(file, key.toString("base64"), { mode: 0o600 });
    return key;
  }
  if (config.jwtSecret) return Buffer.from(hkdfSync("sha256", config.jwtSecret, "channel-secrets", "channel-secrets-key v1", 32));
  log.warn("CHANNEL_SECRETS_KEY is not set: using a random key; channel credentials will not survive a restart");
  return randomBytes(32);
}

/** The key of each open database (several servers may run in one process, as in tests). */
const keys = new WeakMap<Db, Buffer>();

/** Registers the secrets key used for the channel accounts of `db` (server/app.ts, at start). */
export function useSecretsKey(db: Db, key: Buffer): void {
  keys.set(db, key);
}

/** The secrets key registered for `db`; throws when the server did not register one. */
export function secretsKeyOf(db: Db): Buffer {
  const key = keys.get(db);
  if (!key) throw new Error("channel secrets: no key registered for this database (useSecretsKey)");
  return key;
}
