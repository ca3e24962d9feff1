import "./nodeCompat.ts"; // first: fills globals Colyseus expects (Node 20)
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { defineRoom, defineServer, LocalPresence, matchMaker, type Presence, type Server } from "@colyseus/core";
import { RedisPresence } from "@colyseus/redis-presence";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { getRequestListener } from "@hono/node-server";
import pino, { type Logger } from "pino";
import { type Database, openDatabase } from "../db/client.ts";
import { ErrorCode } from "../domain/errors.ts";
import { ConversationRoom } from "../rooms/ConversationRoom.ts";
import { InboxRoom } from "../rooms/InboxRoom.ts";
import { OnlineSweeper } from "../rooms/online.ts";
import { setServices } from "../rooms/ports.ts";
import { MAX_FRAME_BYTES } from "../rooms/protocol.ts";
import { useReconnectWindow } from "../rooms/reconnect.ts";
import { RevocationHub } from "../rooms/revocations.ts";
import { TeamRoom } from "../rooms/TeamRoom.ts";
import { Topic } from "../rooms/topics.ts";
import { WebchatRoom } from "../rooms/WebchatRoom.ts";
import { Auth } from "./auth.ts";
import { loadAccount } from "./channels/accounts.ts";
import { Intake } from "./channels/intake.ts";
import { useLineApiBaseUrl } from "./channels/line/client.ts";
import { useMetaGraphBaseUrl } from "./channels/meta/client.ts";
import { resolveSecretsKey, useSecretsKey } from "./channels/secrets.ts";
import { defaultSenders } from "./channels/senders.ts";
import { VisitorTokens, WebchatVisitors } from "./channels/webchat/visitors.ts";
import { useWechatApiBaseUrl } from "./channels/wechat/client.ts";
import type { Config } from "./config.ts";
import { CsatWorker } from "./csat.ts";
import { DeliveryWorker } from "./delivery.ts";
import { createHttpApp } from "./http/app.ts";
import { errorBody } from "./http/errors.ts";
import { JobRunner } from "./jobs.ts";
import { Metrics } from "./metrics.ts";
import { MONITOR_PATH, monitorGate, monitorPanel } from "./monitor.ts";
import { OutboxDispatcher } from "./outbox.ts";
import { setUpPush } from "./push/setup.ts";
import { connectedMembers } from "./push/viewers.ts";
import { PushWorker } from "./push/worker.ts";
import { LimitName, RateLimits } from "./rateLimit.ts";
import { FixedIdLocalDriver, SingleRoomRedisDriver } from "./roomDrivers.ts";
import { Scheduler } from "./scheduler.ts";
import { seedDemo } from "./seed.ts";
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
  /** Fires durable timers (auto-close, R13.4); runs only when `SCHEDULER_ENABLED`. */
  readonly scheduler: Scheduler;
  /** Sends the satisfaction survey of a close (`send_csat` rows, R8.2: server/csat.ts). */
  readonly csat: CsatWorker;
  /** Sends customer-message pushes to members' devices (server/push/worker.ts). */
  readonly push: PushWorker;
  /** Provider events: stored, then processed into conversations (server/channels/intake.ts). */
  readonly intake: Intake;
  readonly presence: Presence;
  readonly seeded: boolean;
  readonly log: Logger;
  /** `/metrics`' registry and hooks (server/metrics.ts). */
  readonly metrics: Metrics;
  /** The rate limits' counts (server/rateLimit.ts). */
  readonly limits: RateLimits;
  /** The HTTP routes the server serves, for callers in the same process (tests: `http.request`, no socket). */
  readonly http: ReturnType<typeof createHttpApp>;
  /** The Colyseus server (tests wrap it with `@colyseus/testing` to reach live room instances). */
  readonly colyseus: Server;
  /**
   * Graceful stop: new HTTP requests and joins are refused (503), the rooms finish their queued
   * actions and close their connections with 4106 (`server_restarting`: rejoin, docs/protocol.md
   * §2.6), the outbox is drained, then storage and presence close.
   */
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
const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Credentials": "false",
  "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, Accept-Language, Idempotency-Key, X-Channel-Secret, X-Request-Id",
  "Access-Control-Expose-Headers": "X-Request-Id, Retry-After",
  "Access-Control-Max-Age": "600",
} as const;

function useCorsPolicy(): void {
  matchMaker.controller.getCorsHeaders = () => ({ ...CORS_HEADERS });
}

/** Paths Colyseus serves (matchmaking, its health check and root) or its Express app (the monitor). */
function colyseusPath(url: string | undefined): boolean {
  const path = (url ?? "/").split("?", 1)[0]!;
  return path === "/" || path.startsWith("/matchmake/") || path.startsWith("/__healthcheck") || path === MONITOR_PATH || path.startsWith(`${MONITOR_PATH}/`);
}

/**
 * Puts our API in front of Colyseus's request handling: a request for one of our paths goes
 * straight to `serve` with the CORS headers Colyseus would set; the rest (and every preflight)
 * to Colyseus's handlers as before. Colyseus's way — copying the request's headers into a web
 * `Headers` for its CORS hook, then its router and Express's — was a quarter of a small request's
 * CPU (npx tsx bench/http-floor.ts).
 */
function frontOfColyseus(server: HttpServer, serve: (req: IncomingMessage, res: ServerResponse) => void): void {
  const colyseus = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "OPTIONS" && !colyseusPath(req.url)) {
      for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
      serve(req, res);
      return;
    }
    for (const handler of colyseus) handler.call(server, req, res);
  });
}

/** Starts the whole server: database (migrated), rooms, HTTP API, outbox. The composition root. */
export async function startApp(config: Config, opts: { log?: Logger; now?: () => Date } = {}): Promise<App> {
  // Channel credentials are never logged; redaction is the guard should an account object reach a log call.
  const log =
    opts.log ??
    pino({ level: config.logLevel, redact: { paths: ["secrets", "*.secrets", "credentials", "*.credentials"], censor: "[redacted]" } });
  if (!config.databaseUrl && config.dataDir !== "memory://") mkdirSync(config.dataDir, { recursive: true });
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    poolSize: config.dbPoolSize,
  });
  // Channel credentials are encrypted at rest with this key (server/channels/secrets.ts).
  useSecretsKey(database.db, resolveSecretsKey(config, log));
  useLineApiBaseUrl(config.lineApiBaseUrl); // LINE push and profile calls (tests: the fake)
  useMetaGraphBaseUrl(config.metaGraphBaseUrl, config.metaGraphVersion); // Messenger and Instagram sends (tests: the fake)
  useWechatApiBaseUrl(config.wechatApiBaseUrl); // WeChat token and customer-service calls (tests: the fake)
  const shouldSeed = config.seedDemo === "true" || (config.seedDemo === "auto" && !config.databaseUrl);
  const seeded = shouldSeed ? await seedDemo(database.db) : false;

  const presence: Presence = config.redisUrl ? new RedisPresence(config.redisUrl) : new LocalPresence();
  const driver = config.redisUrl ? new SingleRoomRedisDriver(config.redisUrl) : new FixedIdLocalDriver();
  const secret = jwtSecret(config, log);
  const auth = new Auth(database.db, secret, config.accessTokenTtlSeconds, config.refreshTokenTtlDays);
  const visitorTokens = new VisitorTokens(secret, config.webchatVisitorTtlSeconds);
  // The one clock of the process: rules, commits, the scheduler (tests move it).
  const now = opts.now ?? (() => new Date());
  const metrics = new Metrics({ db: database.db, now, log, databaseKind: database.kind });
  const r = config.rateLimits;
  const limits = await RateLimits.create({
    rules: { login_account: r.loginAccount, login_address: r.loginAddress, room_action: r.roomActions, webhook: r.webhooks },
    log,
    redisUrl: config.redisUrl,
  });
  const roomLimits = {
    async roomAction(memberId: string) {
      const v = await limits.take(LimitName.roomAction, memberId);
      if (v.ok) return null;
      metrics.limited(LimitName.roomAction);
      log.warn({ limit: LimitName.roomAction, memberId, retryAfterMs: v.retryAfterMs }, "room messages rate limited");
      return v.retryAfterMs;
    },
  };
  const outbox = new OutboxDispatcher(database.db, presence, log, now);
  const revocations = new RevocationHub(presence, log);
  await revocations.start();
  const d = config.delivery;
  const delivery = new DeliveryWorker({
    db: database.db,
    log,
    now,
    senders: metrics.meterSenders(defaultSenders(() => presence, database.db)),
    loadAccount: (db, channelId) => loadAccount(db, channelId),
    policy: { maxAttempts: d.maxAttempts, baseMs: d.retryBaseMs, capMs: d.retryMaxMs },
    leaseMs: d.leaseMs,
    pollMs: d.pollMs,
  });
  const pushSetup = setUpPush(config, log);
  const push = new PushWorker({
    db: database.db,
    log,
    now,
    senders: pushSetup.senders,
    windowMs: config.push.coalesceMs,
    leaseMs: config.push.leaseMs,
    pollMs: config.push.pollMs,
    viewers: connectedMembers,
  });
  let listeningPort = config.port;
  const csat = new CsatWorker({
    db: database.db,
    log,
    now,
    presence,
    publicUrl: () => config.publicUrl ?? `http://127.0.0.1:${listeningPort}`,
  });
  const kickOutbox = (topics: readonly string[]) => {
    outbox.kickFor(topics);
    if (topics.includes("deliver_reply")) delivery.kick(); // a committed reply's `deliver_reply` row
    // A customer message's push is folded into its batch by the commit, due a window later (the timer sends it); with no window, now.
    if (topics.includes("push") && config.push.coalesceMs === 0) push.kick();
    if (topics.includes("send_csat")) csat.kick(); // a close's survey (R8.2)
  };
  const jobs = new JobRunner({
    db: database.db,
    presence,
    log,
    now,
    itemPauseMs: config.jobItemPauseMs,
    parallel: config.jobParallel,
    leaseMs: config.jobLeaseMs,
    pollMs: config.jobPollMs,
  });

  // Bounded like the routes' presence: a Redis outage fails the processing (retried), never hangs it.
  const intake = new Intake({
    db: database.db,
    presence: boundedPresence(presence),
    log,
    now,
    leaseMs: config.intake.leaseMs,
    pollMs: config.intake.pollMs,
  });
  const scheduler = new Scheduler({ db: database.db, log, now, leaseMs: config.scheduler.leaseMs, pollMs: config.scheduler.pollMs });
  const webchat = new WebchatVisitors({ db: database.db, intake, tokens: visitorTokens, now });
  setServices({
    db: database.db,
    auth,
    log,
    presence,
    kickOutbox,
    now,
    revocations,
    webchat,
    metrics,
    limits: roomLimits,
    pushWindowMs: config.push.coalesceMs,
  });
  /** Set by `stop()`: new HTTP requests are refused while the rooms drain (the load balancer retries elsewhere). */
  let draining = false;

  const http = createHttpApp({
    database,
    intake,
    publicUrl: () => config.publicUrl ?? `http://127.0.0.1:${listeningPort}`,
    auth,
    log,
    now,
    // Fire and forget, but never an unhandled rejection when Redis is down.
    publishInbox: (memberId, event) =>
      void Promise.resolve(presence.publish(Topic.inbox(memberId), event)).catch((err: unknown) =>
        log.warn({ err }, "inbox publish failed"),
      ),
    presence,
    kickJobs: () => jobs.kick(),
    metrics,
    metricsToken: config.metricsToken,
    limits,
    trustedProxies: config.trustedProxies,
    visitorTokens,
    push: pushSetup,
  });
  const listener = getRequestListener(http.fetch);
  const serveApi = (req: IncomingMessage, res: ServerResponse) => {
    if (draining) {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1", connection: "close" });
      res.end(JSON.stringify(errorBody(ErrorCode.SERVICE_UNAVAILABLE, "en")));
      return;
    }
    void listener(req, res);
  };
  useCorsPolicy();
  // The frame limit fits the longest valid room message (4,000 characters at 4 bytes + envelope);
  // a bigger frame is closed with 1009 by the transport (docs/protocol.md §2.6).
  const transport = new WebSocketTransport({ pingInterval: 10_000, pingMaxRetries: 3, maxPayload: MAX_FRAME_BYTES });
  useReconnectWindow(config.reconnectWindowSeconds);
  const server = defineServer({
    transport,
    presence,
    driver,
    // Seat reservations carry it: the SDK connects to the process holding the room (README, "Several processes").
    ...(config.publicAddress ? { publicAddress: config.publicAddress } : {}),
    // Signals are ours (server/main.ts → stop()): Colyseus's own handler would exit before the outbox is flushed.
    gracefullyShutdown: false,
    greet: false,
    logger: log,
    rooms: {
      conversation: defineRoom(ConversationRoom).filterBy(["conversationId"]),
      inbox: defineRoom(InboxRoom).filterBy(["memberId"]),
      team: defineRoom(TeamRoom).filterBy(["workspaceId"]),
      webchat: defineRoom(WebchatRoom).filterBy(["visitorId"]),
    },
    express: (app) => {
      app.use(MONITOR_PATH, monitorGate(auth, log), monitorPanel()); // admins only (server/monitor.ts)
      app.use(serveApi);
    },
  });
  await server.listen(config.port, config.host);
  if (transport.server) frontOfColyseus(transport.server, serveApi);
  const address = transport.server?.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  listeningPort = port;
  outbox.start();
  delivery.start();
  push.start();
  csat.start();
  jobs.start();
  intake.start();
  if (config.scheduler.enabled) scheduler.start();
  const online = new OnlineSweeper(presence, log, config.onlineTtlSeconds);
  await online.start();
  log.info({ port, database: database.kind, presence: config.redisUrl ? "redis" : "local" }, "server started");

  let stopped = false;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    database,
    auth,
    outbox,
    delivery,
    csat,
    push,
    jobs,
    scheduler,
    intake,
    presence,
    seeded,
    log,
    metrics,
    limits,
    http,
    colyseus: server,
    async stop() {
      if (stopped) return;
      stopped = true;
      draining = true;
      await jobs.stop();
      await scheduler.stop();
      await push.stop(); // before the rooms it asks who is viewing
      await csat.stop(); // before the rooms it calls go away
      await intake.stop(); // before the rooms it calls go away
      // Refuses new joins and rooms, lets each room finish its lane and close its clients with
      // 4106 (their onBeforeShutdown), and waits until every room is disposed.
      await matchMaker.gracefullyShutdown().catch((err: unknown) => log.warn({ err }, "matchmaker shutdown"));
      await revocations.stop(); // before the presence closes
      await online.stop(); // the inbox rooms are gone: clear what this process still counts
      // The outbox's rows are durable (another process would deliver them); flushed here so notices are not late.
      await outbox.stop();
      await outbox.drainAll().catch((err: unknown) => log.warn({ err }, "outbox not flushed at stop (another process delivers it)"));
      await delivery.stop();
      transport.shutdown();
      presence.shutdown();
      await driver?.shutdown();
      setServices(null);
      await limits.stop();
      await database.close();
    },
  };
}
