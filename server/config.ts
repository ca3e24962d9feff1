import { z } from "zod";

/** A rate limit: `<count>/<seconds>s`, e.g. `10/900s` (at most 10 per 15 minutes). */
export interface LimitRule {
  readonly points: number;
  readonly seconds: number;
}

function limitRule(fallback: string) {
  return z
    .string()
    .regex(/^[1-9]\d{0,6}\/[1-9]\d{0,5}s$/, "must look like 10/900s (count per seconds)")
    .default(fallback)
    .transform((v): LimitRule => {
      const [points, seconds] = v.slice(0, -1).split("/").map(Number) as [number, number];
      return { points, seconds };
    });
}

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
  JOB_PARALLEL: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(128)
    .describe("how many items of a job run at once, each through its own conversation's room (1 with JOB_ITEM_PAUSE_MS set)"),
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
    .describe(
      "how long a process's claim on a reply's delivery lasts; a dead process's claim is taken over (and the reply sent again) after it",
    ),
  DELIVERY_POLL_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(600_000)
    .default(1000)
    .describe("how often a process looks for replies due (a retry, a held reply whose channel was enabled again)"),
  INTAKE_LEASE_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(30_000)
    .describe(
      "how long a process's claim on a received provider event lasts; a dead process's events are processed by another (or after a restart) once it runs out",
    ),
  INTAKE_POLL_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(600_000)
    .default(5000)
    .describe("how often a process looks for received provider events left unprocessed (a crash, a failure to retry)"),
  METRICS_TOKEN: z
    .string()
    .min(16, "must be at least 16 characters")
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
    .optional()
    .describe("the bearer token Prometheus sends to GET /metrics; unset: /metrics answers 404 (not exposed)"),
  RATE_LIMIT_LOGIN_ACCOUNT: limitRule("10/900s").describe(
    "failed sign-ins per account (email) per window; more answer 429 RATE_LIMITED until the window ends",
  ),
  RATE_LIMIT_LOGIN_ADDRESS: limitRule("50/900s").describe("failed sign-ins per client address per window"),
  RATE_LIMIT_ROOM_ACTIONS: limitRule("300/10s").describe(
    "room messages (actions and queries) per member per window, across all their connections",
  ),
  RATE_LIMIT_WEBHOOKS: limitRule("10000/10s").describe("provider webhook and Webchat requests per channel account per window"),
  TRUSTED_PROXIES: z.coerce
    .number()
    .int()
    .min(0)
    .max(10)
    .default(0)
    .describe(
      "how many proxies in front of the server append to X-Forwarded-For: the client address (rate limits, logs) is that many entries from its end; 0: the socket's address",
    ),
  SCHEDULER_ENABLED: z
    .enum(["true", "false"])
    .default("true")
    .describe(
      "run the scheduler (durable timers: auto-close) in this process; set false on web processes when a separate `scheduler` process runs it",
    ),
  SCHEDULER_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1000).describe("how often the scheduler looks for due timers"),
  SCHEDULER_LEASE_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(30_000)
    .describe("how long a process's claim on a due timer lasts; a dead process's timers are fired by another after it"),
  WEBCHAT_VISITOR_TTL_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(365)
    .default(30)
    .describe(
      "how long a Webchat visitor token lasts (the widget keeps it in the browser; after it, the visitor starts a new conversation identity)",
    ),
  VAPID_PUBLIC_KEY: z
    .string()
    .refine(
      (v) => Buffer.from(v, "base64url").length === 65,
      "must be an uncompressed P-256 public key, base64url (npx web-push generate-vapid-keys)",
    )
    .optional()
    .describe(
      "Web Push: the server's VAPID public key (with VAPID_PRIVATE_KEY); unset: embedded keeps a generated pair in DATA_DIR, otherwise Web Push is off",
    ),
  VAPID_PRIVATE_KEY: z
    .string()
    .refine((v) => Buffer.from(v, "base64url").length === 32, "must be a P-256 private key, base64url (npx web-push generate-vapid-keys)")
    .optional()
    .describe("Web Push: the server's VAPID private key"),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, "must be a mailto: or https:// URL")
    .optional()
    .describe("Web Push: a contact the push services may use (mailto: or https://); default mailto:push@<PUBLIC_URL's host>"),
  WEB_PUSH_ALLOW_HTTP: z
    .enum(["true", "false"])
    .default("false")
    .describe("accept http:// Web Push endpoints (tests with a local fake only; browsers always give https://)"),
  FCM_SERVICE_ACCOUNT: z
    .string()
    .min(1)
    .optional()
    .describe("FCM: the path of the Firebase service account key (JSON); unset (and no FCM_SERVICE_ACCOUNT_JSON): FCM is off"),
  FCM_SERVICE_ACCOUNT_JSON: z.string().min(1).optional().describe("FCM: the service account key itself (JSON), instead of a path"),
  FCM_PROJECT_ID: z.string().min(1).optional().describe("FCM: the Firebase project id (default: the key's project_id)"),
  FCM_BASE_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .default("https://fcm.googleapis.com")
    .describe("FCM HTTP v1 API; tests point it at a local fake"),
  FCM_TOKEN_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .optional()
    .describe("FCM: the OAuth 2.0 token endpoint (default: the key's token_uri, else https://oauth2.googleapis.com/token)"),
  PUSH_COALESCE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(10)
    .describe("at most one push per member and conversation in this window; it says how many messages came"),
  PUSH_LEASE_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(30_000)
    .describe("how long a process's claim on a push lasts; a dead process's push is sent again after it"),
  PUSH_POLL_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(600_000)
    .default(1000)
    .describe("how often a process looks for pushes whose window is over"),
  APNS_KEY: z
    .string()
    .min(1)
    .optional()
    .describe("APNs: the path of the team's auth key (.p8, token-based auth); unset (and no APNS_KEY_P8): APNs is off"),
  APNS_KEY_P8: z.string().min(1).optional().describe("APNs: the auth key itself (the .p8 file's PEM text), instead of a path"),
  APNS_KEY_ID: z
    .string()
    .regex(/^[A-Z0-9]{10}$/, "must be the auth key's 10-character id")
    .optional()
    .describe("APNs: the auth key's id (10 characters; the provider token's kid)"),
  APNS_TEAM_ID: z
    .string()
    .regex(/^[A-Z0-9]{10}$/, "must be the developer team's 10-character id")
    .optional()
    .describe("APNs: the developer team id (10 characters; the provider token's iss)"),
  APNS_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, "must be the app's bundle id")
    .optional()
    .describe("APNs: the iOS app's bundle id (apns-topic)"),
  APNS_BASE_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .default("https://api.push.apple.com")
    .describe("APNs provider API (HTTP/2); https://api.sandbox.push.apple.com for development builds; tests point it at a local fake"),
  PUBLIC_ADDRESS: z
    .string()
    .regex(
      /^(?!\w+:\/\/)[A-Za-z0-9.\-[\]:]+(\/[A-Za-z0-9._~\-/]*)?$/,
      "must be host[:port][/path] without a scheme, e.g. 10.0.0.5:2567 or inbox.example.com/p1",
    )
    .optional()
    .describe(
      "this process's own address as clients reach it (host[:port][/path], no scheme): seat reservations carry it so a join reaches the process holding the room. Required with several processes",
    ),
  RECONNECT_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(20)
    .describe(
      "how long a dropped connection's seat (and the member's state in the room) is kept for the SDK to reconnect to it; 0: no reconnection",
    ),
  SHUTDOWN_DEADLINE_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(25)
    .describe("SIGTERM: the graceful shutdown's deadline; past it (or at a second SIGTERM) the process exits with 1"),
  ONLINE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(3)
    .max(600)
    .default(15)
    .describe("a process's heartbeat lifetime (renewed every third of it): the online members of a process dead this long are swept"),
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
  /** `JOB_PARALLEL`: a job's items under way at once (one at a time with a pause). */
  readonly jobParallel: number;
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
  /** `METRICS_TOKEN`: the bearer token of `GET /metrics`; undefined: /metrics is not exposed (404). */
  readonly metricsToken: string | undefined;
  /** Rate limits (server/rateLimit.ts): `RATE_LIMIT_*`. */
  readonly rateLimits: {
    readonly loginAccount: LimitRule;
    readonly loginAddress: LimitRule;
    readonly roomActions: LimitRule;
    readonly webhooks: LimitRule;
  };
  /** `TRUSTED_PROXIES`: X-Forwarded-For entries set by our own proxies (0: use the socket address). */
  readonly trustedProxies: number;
  /** The scheduler (server/scheduler.ts): whether this process runs it, its poll and lease. */
  readonly scheduler: { readonly enabled: boolean; readonly pollMs: number; readonly leaseMs: number };
  /** `WEBCHAT_VISITOR_TTL_DAYS`, in seconds. */
  readonly webchatVisitorTtlSeconds: number;
  /** `PUBLIC_ADDRESS`: host[:port][/path] the SDK connects to for rooms of this process; undefined: the address the client used. */
  readonly publicAddress: string | undefined;
  /** `RECONNECT_WINDOW_SECONDS`: a dropped client's seat is kept this long (0: not kept). */
  readonly reconnectWindowSeconds: number;
  /** `SHUTDOWN_DEADLINE_SECONDS`: a graceful stop taking longer is cut short. */
  readonly shutdownDeadlineSeconds: number;
  /** `ONLINE_TTL_SECONDS`: a process silent this long is dead for the team room's online flags. */
  readonly onlineTtlSeconds: number;
  /** Outbound delivery (server/delivery.ts): attempts, backoff, lease, poll. */
  /** Push to devices (server/push/). */
  readonly push: PushConfig;
  readonly delivery: {
    readonly maxAttempts: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    readonly leaseMs: number;
    readonly pollMs: number;
  };
  readonly intake: { readonly leaseMs: number; readonly pollMs: number };
}

export interface PushConfig {
  /** Both keys, or neither (then: generated in DATA_DIR when embedded, else Web Push off). */
  readonly vapid: { readonly publicKey: string; readonly privateKey: string } | undefined;
  readonly vapidSubject: string | undefined;
  readonly allowHttpEndpoints: boolean;
  readonly fcm: {
    readonly serviceAccountFile: string | undefined;
    readonly serviceAccountJson: string | undefined;
    readonly projectId: string | undefined;
    readonly baseUrl: string;
    readonly tokenUrl: string | undefined;
  };
  /** APNs with token-based auth; undefined: off. */
  readonly apns:
    | {
        readonly keyFile: string | undefined;
        readonly keyPem: string | undefined;
        readonly keyId: string;
        readonly teamId: string;
        readonly topic: string;
        readonly baseUrl: string;
      }
    | undefined;
  readonly coalesceMs: number;
  readonly leaseMs: number;
  readonly pollMs: number;
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
  if (Boolean(e.VAPID_PUBLIC_KEY) !== Boolean(e.VAPID_PRIVATE_KEY)) {
    throw new ConfigError("invalid configuration:\n  VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: set both or neither");
  }
  const apnsSet = [e.APNS_KEY ?? e.APNS_KEY_P8, e.APNS_KEY_ID, e.APNS_TEAM_ID, e.APNS_TOPIC];
  if (apnsSet.some(Boolean) && !apnsSet.every(Boolean)) {
    throw new ConfigError("invalid configuration:\n  APNS_KEY (or APNS_KEY_P8), APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC: set all or none");
  }
  if (production && !e.CHANNEL_SECRETS_KEY)
    throw new ConfigError("invalid configuration:\n  CHANNEL_SECRETS_KEY: required when NODE_ENV=production");
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
    jobParallel: e.JOB_PARALLEL,
    jobLeaseMs: e.JOB_LEASE_MS,
    jobPollMs: e.JOB_POLL_MS,
    dbStatementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    dbPoolSize: e.DB_POOL_SIZE,
    lineApiBaseUrl: e.LINE_API_BASE_URL,
    metaGraphBaseUrl: e.META_GRAPH_BASE_URL,
    metaGraphVersion: e.META_GRAPH_VERSION,
    wechatApiBaseUrl: e.WECHAT_API_BASE_URL,
    production,
    metricsToken: e.METRICS_TOKEN,
    rateLimits: {
      loginAccount: e.RATE_LIMIT_LOGIN_ACCOUNT,
      loginAddress: e.RATE_LIMIT_LOGIN_ADDRESS,
      roomActions: e.RATE_LIMIT_ROOM_ACTIONS,
      webhooks: e.RATE_LIMIT_WEBHOOKS,
    },
    trustedProxies: e.TRUSTED_PROXIES,
    webchatVisitorTtlSeconds: e.WEBCHAT_VISITOR_TTL_DAYS * 86_400,
    scheduler: { enabled: e.SCHEDULER_ENABLED === "true", pollMs: e.SCHEDULER_POLL_MS, leaseMs: e.SCHEDULER_LEASE_MS },
    push: {
      vapid: e.VAPID_PUBLIC_KEY && e.VAPID_PRIVATE_KEY ? { publicKey: e.VAPID_PUBLIC_KEY, privateKey: e.VAPID_PRIVATE_KEY } : undefined,
      vapidSubject: e.VAPID_SUBJECT,
      allowHttpEndpoints: e.WEB_PUSH_ALLOW_HTTP === "true",
      fcm: {
        serviceAccountFile: e.FCM_SERVICE_ACCOUNT,
        serviceAccountJson: e.FCM_SERVICE_ACCOUNT_JSON,
        projectId: e.FCM_PROJECT_ID,
        baseUrl: e.FCM_BASE_URL.replace(/\/+$/, ""),
        tokenUrl: e.FCM_TOKEN_URL,
      },
      apns:
        e.APNS_KEY_ID && e.APNS_TEAM_ID && e.APNS_TOPIC && (e.APNS_KEY || e.APNS_KEY_P8)
          ? {
              keyFile: e.APNS_KEY,
              keyPem: e.APNS_KEY_P8,
              keyId: e.APNS_KEY_ID,
              teamId: e.APNS_TEAM_ID,
              topic: e.APNS_TOPIC,
              baseUrl: e.APNS_BASE_URL.replace(/\/+$/, ""),
            }
          : undefined,
      coalesceMs: e.PUSH_COALESCE_SECONDS * 1000,
      leaseMs: e.PUSH_LEASE_MS,
      pollMs: e.PUSH_POLL_MS,
    },
    publicAddress: e.PUBLIC_ADDRESS?.replace(/\/+$/, ""),
    reconnectWindowSeconds: e.RECONNECT_WINDOW_SECONDS,
    shutdownDeadlineSeconds: e.SHUTDOWN_DEADLINE_SECONDS,
    onlineTtlSeconds: e.ONLINE_TTL_SECONDS,
    delivery: {
      maxAttempts: e.DELIVERY_MAX_ATTEMPTS,
      retryBaseMs: e.DELIVERY_RETRY_BASE_MS,
      retryMaxMs: e.DELIVERY_RETRY_MAX_MS,
      leaseMs: e.DELIVERY_LEASE_MS,
      pollMs: e.DELIVERY_POLL_MS,
    },
    intake: { leaseMs: e.INTAKE_LEASE_MS, pollMs: e.INTAKE_POLL_MS },
  };
}
