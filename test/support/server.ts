import { Client, type Room } from "@colyseus/sdk";
import pino from "pino";
import { type App, startApp } from "../../server/app.ts";
import { parseConfig } from "../../server/config.ts";
import { dropDatabase, freshDatabaseUrl } from "./db.ts";

export type { App };

/** A real server on a free port, with the demo workspace seeded, on a fresh database. */
export async function startTestServer(opts: { storage?: "pglite" | "postgres" } = {}): Promise<App> {
  const usePostgres = opts.storage ? opts.storage === "postgres" : Boolean(process.env.DATABASE_URL);
  const databaseUrl = usePostgres ? await freshDatabaseUrl() : undefined;
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: "memory://",
    SEED_DEMO: "true",
    JWT_SECRET: "test-secret-test-secret-test-secret-42",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const app = await startApp(config, { log: pino({ level: process.env.TEST_LOG ?? "silent" }) });
  const stop = app.stop.bind(app);
  return Object.assign(app, {
    async stop() {
      await stop();
      await dropDatabase(databaseUrl);
    },
  });
}

export async function login(app: App, email: string, password = "demo-password"): Promise<string> {
  const res = await fetch(`${app.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`login ${email}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

export const EMAIL = {
  admin: "admin@demo.test",
  supervisor: "supervisor@demo.test",
  manager: "manager@demo.test",
  marketing: "marketing@demo.test",
  agent: "agent@demo.test",
  agent2: "agent2@demo.test",
  agent3: "agent3@demo.test",
} as const;

export const ID = {
  admin: "demo-admin",
  supervisor: "demo-supervisor",
  manager: "demo-cs-manager",
  marketing: "demo-marketing",
  agent: "demo-agent",
  agent2: "demo-agent-2",
  agent3: "demo-agent-3",
} as const;

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
