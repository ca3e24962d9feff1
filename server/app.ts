import type { IncomingMessage, ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LocalPresence, type Presence, type Server, defineRoom, defineServer, matchMaker } from "@colyseus/core";
import { RedisDriver } from "@colyseus/redis-driver";
import { RedisPresence } from "@colyseus/redis-presence";
import { RevocationHub } from "../rooms/revocations.ts";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { getRequestListener } from "@hono/node-server";
import pino, { type Logger } from "pino";
import { type Database, openDatabase } from "../db/client.ts";
import { ConversationRoom } from "../rooms/ConversationRoom.ts";
import { MAX_FRAME_BYTES } from "../rooms/protocol.ts";
import { InboxRoom } from "../rooms/InboxRoom.ts";
import { TeamRoom } from "../rooms/TeamRoom.ts";
import { setServices } from "../rooms/ports.ts";
import { Topic } from "../rooms/topics.ts";
import { Auth } from "./auth.ts";
import type { Config } from "./config.ts";
import { createHttpApp } from "./http/app.ts";
import { JobRunner } from "./jobs.ts";
import { OutboxDispatcher } from "./outbox.ts";
import { DeliveryWorker } from "./delivery.ts";
import { defaultSenders } from "./channels/senders.ts";
import { loadAccount } from "./channels/accounts.ts";
import { seedDemo } from "./seed.ts";
import { resolveSecretsKey, useSecretsKey } from "./channels/secrets.ts";
import { useLineApiBaseUrl } from "./channels/line/client.ts";
import { useMetaGraphBaseUrl } from "./channels/meta/client.ts";
import { useWechatApiBaseUrl } from "./channels/wechat/client.ts";
import { Intake } from "./channels/intake.ts";
import { boundedPresence } from "./serviceDeadline.ts";

export interface App {
  readonly port: number;
  readonly url: string;
  readonly database: Database;
  readonly auth: Auth;
  readonly outbox: OutboxDispatcher;
  /** Sends staff replies through their channels (its `senders` registry: channel type → sender). */
  readonly delivery: DeliveryWorker;
  readonly jobs: JobRunner;
  /** Provider events: stored, then processed into conversations (server/channels/intake.ts). */
  readonly intake: Intake;
  readonly presence: Presence;
  readonly seeded: boolean;
  readonly log: Logger;
  /** The HTTP routes the server serves, for callers in the same process (tests: `http.request`, no socket). */
  readonly http: ReturnType<typeof createHttpApp>;
  /** The Colyseus server (tests wrap it with `@colyseus/testing` to reach live room instances). */
  readonly colyseus: Server;
  stop(): Promise<void>;
}

/** The JWT secret: configured, or (embedded) kept in the data folder so tokens survive a restart. */
function jwtSecret(config: Config, log: Logger): string {
  if (config.jwtSecret) return config.jwtSecret;
  if (!config.databaseUrl && config.dataDir !== "memory://") {
    const file = join(config.dataDir, "jwt-secret");
    try {
      return readFileSync(file, "utf8").trim();
    } catch {
      mkdirSync(config.dataDir, { recursive: true });
      const secret = randomBytes(32).toString("base64url");
      writeFileSync(file, secret, { mode: 0o600 });
      return secret;
    }
  }
  log.warn("JWT_SECRET is not set: using a random secret; tokens will not survive a restart or work across processes");
  return randomBytes(32).toString("base64url");
}

/**
 * CORS for every HTTP route (Colyseus answers preflights before our routes see them, so the policy
 * is set on its controller). Bearer tokens, no cookies: any origin may call; no credentials.
 */
function useCorsPolicy(): void {
  matchMaker.controller.getCorsHeaders = () => ({
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Credentials": "false",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, Accept-Language, Idempotency-Key, X-Channel-Secret",
    "Access-Control-Max-Age": "600",
  });
}

/** Starts the whole server: database (migrated), rooms, HTTP API, outbox. The composition root. */
export async function startApp(config: Config, opts: { log?: Logger } = {}): Promise<App> {
  // Channel credentials are never logged; redaction is the guard should an account object reach a log call.
  const log = opts.log ?? pino({ level: config.logLevel, redact: { paths: ["secrets", "*.secrets", "credentials", "*.credentials"], censor: "[redacted]" } });
  if (!config.databaseUrl && config.dataDir !== "memory://") mkdirSync(config.dataDir, { recursive: true });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, statementTimeoutMs: config.dbStatementTimeoutMs, poolSize: config.dbPoolSize });
  // Channel credentials are encrypted at rest with this key (server/channels/secrets.ts).
  useSecretsKey(database.db, resolveSecretsKey(config, log));
  useLineApiBaseUrl(config.lineApiBaseUrl); // LINE push and profile calls (tests: the fake)
  useMetaGraphBaseUrl(config.metaGraphBaseUrl, config.metaGraphVersion); // Messenger and Instagram sends (tests: the fake)
  useWechatApiBaseUrl(config.wechatApiBaseUrl); // WeChat token and customer-service calls (tests: the fake)
  const shouldSeed = config.seedDemo === "true" || (config.seedDemo === "auto" && !config.databaseUrl);
  const seeded = shouldSeed ? await seedDemo(database.db) : false;

  const presence: Presence = config.redisUrl ? new RedisPresence(config.redisUrl) : new LocalPresence();
  const driver = config.redisUrl ? new RedisDriver(config.redisUrl) : undefined;
  const auth = new Auth(database.db, jwtSecret(config, log), config.accessTokenTtlSeconds, config.refreshTokenTtlDays);
  const now = () => new Date();
  const outbox = new OutboxDispatcher(database.db, presence, log, now);
  const revocations = new RevocationHub(presence, log);
  await revocations.start();
  const d = config.delivery;
  const delivery = new DeliveryWorker({
    db: database.db,
    log,
    now,
    senders: defaultSenders(),
    loadAccount: (db, channelId) => loadAccount(db, channelId),
    policy: { maxAttempts: d.maxAttempts, baseMs: d.retryBaseMs, capMs: d.retryMaxMs },
    leaseMs: d.leaseMs,
    pollMs: d.pollMs,
  });
  const kickOutbox = (topics: readonly string[]) => {
    outbox.kickFor(topics);
    if (topics.includes("deliver_reply")) delivery.kick(); // a committed reply's `deliver_reply` row
  };
  setServices({ db: database.db, auth, log, presence, kickOutbox, now, revocations });
  const jobs = new JobRunner({ db: database.db, presence, log, now, itemPauseMs: config.jobItemPauseMs, leaseMs: config.jobLeaseMs, pollMs: config.jobPollMs });

  // Bounded like the routes' presence: a Redis outage fails the processing (retried), never hangs it.
  const intake = new Intake({ db: database.db, presence: boundedPresence(presence), log, now });
  let listeningPort = config.port;

  const http = createHttpApp({
    database,
    intake,
    publicUrl: () => config.publicUrl ?? `http://127.0.0.1:${listeningPort}`,
    auth,
    log,
    now,
    // Fire and forget, but never an unhandled rejection when Redis is down.
    publishInbox: (memberId, event) =>
      void Promise.resolve(presence.publish(Topic.inbox(memberId), event)).catch((err: unknown) => log.warn({ err }, "inbox publish failed")),
    presence,
    kickJobs: () => jobs.kick(),
  });
  const listener = getRequestListener(http.fetch);
  useCorsPolicy();
  // The frame limit fits the longest valid room message (4,000 characters at 4 bytes + envelope);
  // a bigger frame is closed with 1009 by the transport (docs/protocol.md §2.6).
  const transport = new WebSocketTransport({ pingInterval: 10_000, pingMaxRetries: 3, maxPayload: MAX_FRAME_BYTES });
  const server = defineServer({
    transport,
    presence,
    driver,
    greet: false,
    logger: log,
    rooms: {
      conversation: defineRoom(ConversationRoom).filterBy(["conversationId"]),
      inbox: defineRoom(InboxRoom).filterBy(["memberId"]),
      team: defineRoom(TeamRoom).filterBy(["workspaceId"]),
    },
    express: (app) => {
      app.use((req: IncomingMessage, res: ServerResponse) => void listener(req, res));
    },
  });
  await server.listen(config.port, config.host);
  const address = transport.server?.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  listeningPort = port;
  outbox.start();
  delivery.start();
  jobs.start();
  intake.start();
  log.info({ port, database: database.kind, presence: config.redisUrl ? "redis" : "local" }, "server started");

  let stopped = false;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    database,
    auth,
    outbox,
    delivery,
    jobs,
    intake,
    presence,
    seeded,
    log,
    http,
    colyseus: server,
    async stop() {
      if (stopped) return;
      stopped = true;
      await jobs.stop();
      await intake.stop(); // before the rooms it calls go away
      await revocations.stop(); // before the presence closes with the server
      await server.gracefullyShutdown(false);
      await outbox.stop();
      await delivery.stop();
      setServices(null);
      await database.close();
    },
  };
}
