import { z } from "zod";

/**
 * Configuration, parsed once at start from the environment. A bad value stops the start with a
 * message naming the variable.
 */
const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(2567),
  HOST: z.string().default("0.0.0.0"),
  DATA_DIR: z.string().min(1).default("./data"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// URL")
    .optional(),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  CHANNEL_SECRETS_KEY: z
    .string()
    .refine((v) => Buffer.from(v.trim(), "base64").length === 32, "must be 32 bytes, base64 (e.g. `openssl rand -base64 32`)")
    .optional()
    .describe("the AES-256-GCM key of channel credentials at rest"),
  PUBLIC_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .optional()
    .describe("the server's public base URL, for the webhook URLs channel accounts answer (default http://127.0.0.1:<PORT>)"),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  SEED_DEMO: z
    .enum(["auto", "true", "false"])
    .default("auto")
    .describe("auto: seed the demo workspace when the database is empty and embedded"),
  JOB_ITEM_PAUSE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(0)
    .describe("a pause between the items of a job (bulk actions, deactivation), to spread load"),
  JOB_LEASE_MS: z.coerce
    .number()
    .int()
    .min(3000)
    .max(600_000)
    .default(15_000)
    .describe("how long a process's claim on a job lasts without renewal; a dead process's jobs are taken over after it"),
  JOB_POLL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(5000)
    .describe("how often a process looks for jobs whose lease ran out"),
  DB_STATEMENT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(5000)
    .describe(
      "PostgreSQL: the server cancels a statement after this; the client gives up on a connection that has not answered within it plus 1 s. Either answers STORAGE_UNAVAILABLE",
    ),
  DB_POOL_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(10)
    .describe("PostgreSQL: how many connections this process opens at most (each room commit holds one for its transaction)"),
  LINE_API_BASE_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .default("https://api.line.me")
    .describe("the LINE Messaging API (push, profile); tests point it at a local fake"),
  META_GRAPH_BASE_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .default("https://graph.facebook.com")
    .describe("the Meta Graph API (Messenger, Instagram and WhatsApp Cloud API sends); tests point it at a local fake"),
  META_GRAPH_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, "must look like v21.0")
    .default("v21.0")
    .describe("the Graph API version in every Meta call's path"),
  WECHAT_API_BASE_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .default("https://api.weixin.qq.com")
    .describe("the WeChat Official Account API (access token, customer-service messages); tests point it at a local fake"),
  DELIVERY_MAX_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(8)
    .describe("sends of a staff reply in all; after this many transient failures it fails DELIVERY_RETRIES_EXHAUSTED"),
  DELIVERY_RETRY_BASE_MS: z.coerce
    .number()
    .int()
    .min(1)
    .max(600_000)
    .default(1000)
    .describe("the backoff ceiling after a reply's first transient failure, doubled after each further one (full jitter below it)"),
  DELIVERY_RETRY_MAX_MS: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400_000)
    .default(300_000)
    .describe("the backoff ceiling never grows past this"),
  DELIVERY_LEASE_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(30_000)
    .describe("how long a process's claim on a reply's delivery lasts; a dead process's claim is taken over (and the reply sent again) after it"),
  DELIVERY_POLL_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(600_000)
    .default(1000)
    .describe("how often a process looks for replies due (a retry, a held reply whose channel was enabled again)"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.string().optional(),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
  readonly jwtSecret: string | undefined;
  /** `CHANNEL_SECRETS_KEY`, decoded (32 bytes); required in production. */
  readonly channelSecretsKey: Buffer | undefined;
  /** `PUBLIC_URL` without a trailing slash; undefined: `http://127.0.0.1:<port>`. */
  readonly publicUrl: string | undefined;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlDays: number;
  readonly seedDemo: "auto" | "true" | "false";
  readonly logLevel: string;
  readonly jobItemPauseMs: number;
  readonly jobLeaseMs: number;
  readonly jobPollMs: number;
  /** `DB_STATEMENT_TIMEOUT_MS`: every PostgreSQL statement's deadline. */
  readonly dbStatementTimeoutMs: number;
  /** `DB_POOL_SIZE`: the PostgreSQL connections this process opens at most. */
  readonly dbPoolSize: number;
  /** `LINE_API_BASE_URL`: where the LINE Messaging API is (https://api.line.me). */
  readonly lineApiBaseUrl: string;
  /** `META_GRAPH_BASE_URL` / `META_GRAPH_VERSION`: where the Meta Graph API is (https://graph.facebook.com, v21.0). */
  readonly metaGraphBaseUrl: string;
  readonly metaGraphVersion: string;
  /** `WECHAT_API_BASE_URL`: where the WeChat Official Account API is (https://api.weixin.qq.com). */
  readonly wechatApiBaseUrl: string;
  readonly production: boolean;
  /** Outbound delivery (server/delivery.ts): attempts, backoff, lease, poll. */
  readonly delivery: { readonly maxAttempts: number; readonly retryBaseMs: number; readonly retryMaxMs: number; readonly leaseMs: number; readonly pollMs: number };
}

export class ConfigError extends Error {}

export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const emptyAsUnset = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const r = Env.safeParse(emptyAsUnset);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const e = r.data;
  const production = e.NODE_ENV === "production";
  if (production && !e.JWT_SECRET) throw new ConfigError("invalid configuration:\n  JWT_SECRET: required when NODE_ENV=production");
  if (production && !e.CHANNEL_SECRETS_KEY) throw new ConfigError("invalid configuration:\n  CHANNEL_SECRETS_KEY: required when NODE_ENV=production");
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    jwtSecret: e.JWT_SECRET,
    channelSecretsKey: e.CHANNEL_SECRETS_KEY ? Buffer.from(e.CHANNEL_SECRETS_KEY.trim(), "base64") : undefined,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ""),
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlDays: e.REFRESH_TOKEN_TTL_DAYS,
    seedDemo: e.SEED_DEMO,
    logLevel: e.LOG_LEVEL,
    jobItemPauseMs: e.JOB_ITEM_PAUSE_MS,
    jobLeaseMs: e.JOB_LEASE_MS,
    jobPollMs: e.JOB_POLL_MS,
    dbStatementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    dbPoolSize: e.DB_POOL_SIZE,
    lineApiBaseUrl: e.LINE_API_BASE_URL,
    metaGraphBaseUrl: e.META_GRAPH_BASE_URL,
    metaGraphVersion: e.META_GRAPH_VERSION,
    wechatApiBaseUrl: e.WECHAT_API_BASE_URL,
    production,
    delivery: {
      maxAttempts: e.DELIVERY_MAX_ATTEMPTS,
      retryBaseMs: e.DELIVERY_RETRY_BASE_MS,
      retryMaxMs: e.DELIVERY_RETRY_MAX_MS,
      leaseMs: e.DELIVERY_LEASE_MS,
      pollMs: e.DELIVERY_POLL_MS,
    },
  };
}
