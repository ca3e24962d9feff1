import { rmSync } from "node:fs";
import { Client, type Room } from "@colyseus/sdk";
import pino, { type Logger } from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type App, startApp } from "../../server/app.ts";
import { parseConfig } from "../../server/config.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir } from "./db.ts";

export type { App };
export { EMAIL, ID } from "./demo.ts";

/** How a test server differs from the default: settings on top (`env`, as the environment spells them), a logger of its own. */
export interface TestServerOptions {
  storage?: "pglite" | "postgres";
  /** The server's clock (tests move it). */
  now?: () => Date;
  /** Settings for the server; a function is called when the server starts (e.g. to read a fake's port). */
  env?: Record<string, string> | (() => Record<string, string>);
  log?: Logger;
}

/** A real server on a free port, with the demo workspace seeded, on a fresh database (PostgreSQL with `DATABASE_URL`, else PGlite). */
export async function startTestServer(opts: TestServerOptions = {}): Promise<App> {
  const usePostgres = opts.storage ? opts.storage === "postgres" : Boolean(process.env.DATABASE_URL);
  const databaseUrl = usePostgres ? await freshDatabaseUrl() : undefined;
  // Embedded: a copy of a migrated template folder, not `memory://`, which spends seconds in initdb.
  const dataDir = usePostgres ? "memory://" : await freshPgliteDir();
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    SEED_DEMO: "true",
    JWT_SECRET: "test-secret-test-secret-test-secret-42",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(typeof opts.env === "function" ? opts.env() : opts.env),
  });
  const app = await startApp(config, { log: opts.log ?? pino({ level: process.env.TEST_LOG ?? "silent" }), ...(opts.now ? { now: opts.now } : {}) });
  const stop = app.stop.bind(app);
  return Object.assign(app, {
    async stop() {
      await stop();
      await dropDatabase(databaseUrl);
      if (dataDir !== "memory://") rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/**
 * The one setup of a file that talks to a real server: starts it before the file's tests (a fresh
 * database, the demo workspace seeded), leaves every connection a test opened after each test, and
 * stops it (dropping its database) after the file. The returned object stands for the server once
 * it has started: use it inside tests and hooks, as `app.url`, `app.database`, `connect(app, …)`.
 */
export function useTestServer(opts: TestServerOptions = {}): App {
  let started: App | undefined;
  beforeAll(async () => {
    started = await startTestServer({ ...opts, env: typeof opts.env === "function" ? opts.env() : opts.env });
  });
  afterEach(closeAll);
  afterAll(async () => {
    await started?.stop();
    started = undefined;
  });
  return new Proxy({} as App, {
    get(_, key) {
      if (!started) throw new Error(`useTestServer(): the server is not running (read app.${String(key)} inside a test or hook)`);
      const value = Reflect.get(started, key, started);
      return typeof value === "function" ? value.bind(started) : value;
    },
  });
}

/** Every SDK connection a test opened through `track` (`connect`, `openInbox`), left by `closeAll()`. */
const opened: { leave(): Promise<unknown> }[] = [];

/** Registers a connection for `closeAll()`. */
export function track<T extends { leave(): Promise<unknown> }>(conn: T): T {
  opened.push(conn);
  return conn;
}

/** Leaves every tracked connection (`useTestServer` runs it after each test). */
export async function closeAll(): Promise<void> {
  const all = opened.splice(0);
  await Promise.all(all.map((c) => c.leave().catch(() => {})));
}

export async function login(app: App, email: string, password = "demo-password"): Promise<string> {
  const res = await app.http.request("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`login ${email}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

export interface Result {
  requestId: string | null;
  ok: boolean;
  code?: string;
  message?: string;
  duplicate?: boolean;
  seq?: number;
  [k: string]: unknown;
}

/** An SDK connection to one conversation, with request/answer helpers. */
export class Conn {
  readonly results: Result[] = [];
  closed: { code: number; reason?: string } | null = null;
  private waiters = new Map<string, (r: Result) => void>();
  private n = 0;

  constructor(readonly room: Room) {
    room.onMessage("result", (r: Result) => {
      this.results.push(r);
      if (r.requestId && this.waiters.has(r.requestId)) {
        this.waiters.get(r.requestId)!(r);
        this.waiters.delete(r.requestId);
      }
    });
    room.onLeave((code: number, reason?: string) => {
      this.closed = { code, reason };
    });
  }

  /** Sends one action (or query) and resolves with its answer. */
  act(type: string, payload: Record<string, unknown> = {}): Promise<Result> {
    const requestId = (payload.requestId as string | undefined) ?? `r${++this.n}-${Math.random().toString(36).slice(2)}`;
    return this.send(type, { ...payload, requestId }, requestId);
  }

  send(type: string, payload: unknown, requestId: string): Promise<Result> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ${type} ${requestId}`)), 15_000);
      this.waiters.set(requestId, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.room.send(type, payload);
    });
  }

  get state(): any {
    return this.room.state;
  }

  async leave(): Promise<void> {
    if (!this.closed) await this.room.leave().catch(() => {});
  }
}

export function sdk(app: App, token: string): Client {
  const client = new Client(`ws://127.0.0.1:${app.port}`);
  client.auth.token = token;
  return client;
}

export async function open(app: App, token: string, conversationId: string, view: "mine" | "team" = "mine"): Promise<Conn> {
  const room = await sdk(app, token).joinOrCreate("conversation", { conversationId, view });
  const conn = new Conn(room);
  await waitFor(() => conn.state?.id === conversationId);
  return conn;
}

/** Polls until `check` holds (state patches arrive asynchronously). */
export async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
