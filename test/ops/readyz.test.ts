import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { connect } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, startApp } from "../../server/app.ts";
import { parseConfig } from "../../server/config.ts";
import { freePort } from "../support/child.ts";
import { dropDatabase, freshDatabaseUrl } from "../support/db.ts";
import { useTestServer } from "../support/server.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";

/**
 * `/readyz` over real HTTP: 200 while the database (and Redis, when configured) answer; 503 naming
 * the dependency that is down, answered within its deadline even when that dependency never
 * answers (a stalled connection), and 200 again once it is back.
 */

interface Readiness {
  ok: boolean;
  database: string;
  checks: { database: "up" | "down"; redis?: "up" | "down" };
}

/** Far beyond /readyz's 2 s deadline: no answer by then is a hang, not a slow machine. */
const HANG_MS = 15_000;

async function readyz(url: string): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(HANG_MS) });
  return { status: res.status, body: (await res.json()) as Readiness };
}

async function readyzUntil(url: string, status: number): Promise<{ status: number; body: Readiness }> {
  const until = Date.now() + 30_000;
  for (;;) {
    const r = await readyz(url);
    if (r.status === status || Date.now() > until) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("/readyz without Redis", () => {
  const app = useTestServer();
  it("answers 200 with the database up and no Redis check", async () => {
    const r = await readyz(app.url);
    expect(r).toEqual({ status: 200, body: { ok: true, database: app.database.kind, checks: { database: "up" } } });
  });
});

/** A Redis server of this file's own (not the shared one: no Redis database index to take from other files). */
function hasRedisServer(): boolean {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function startRedisServer(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const until = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.end();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) return { child, url: `redis://127.0.0.1:${port}` };
    if (Date.now() > until) throw new Error("redis-server did not start");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!process.env.REDIS_URL || !hasRedisServer())("/readyz with Redis (and PostgreSQL) behind TCP proxies", () => {
  let redis: { child: ChildProcess; url: string };
  let redisProxy: TcpProxy;
  let pgProxy: TcpProxy | undefined;
  let databaseUrl: string | undefined;
  let app: App;

  beforeAll(async () => {
    redis = await startRedisServer();
    redisProxy = TcpProxy.forUrl(redis.url);
    await redisProxy.start();
    databaseUrl = await freshDatabaseUrl();
    if (databaseUrl) {
      pgProxy = TcpProxy.forUrl(databaseUrl);
      await pgProxy.start();
    }
    const config = parseConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: "memory://",
      SEED_DEMO: "true",
      JWT_SECRET: "test-secret-test-secret-test-secret-42",
      REDIS_URL: redisProxy.rewrite(redis.url),
      DB_STATEMENT_TIMEOUT_MS: "1000",
      ...(databaseUrl && pgProxy ? { DATABASE_URL: pgProxy.rewrite(databaseUrl) } : {}),
    });
    app = await startApp(config, { log: pino({ level: process.env.TEST_LOG ?? "silent" }) });
  });
  afterAll(async () => {
    redisProxy?.pass();
    pgProxy?.pass();
    await app?.stop();
    await redisProxy?.stop();
    await pgProxy?.stop();
    redis?.child.kill();
    await dropDatabase(databaseUrl);
  });

  it("200 with both up; 503 naming Redis while Redis is stalled, then cut; 200 again once it is back", async () => {
    expect(await readyz(app.url)).toEqual({ status: 200, body: { ok: true, database: app.database.kind, checks: { database: "up", redis: "up" } } });

    redisProxy.stall(); // Redis never answers: only the deadline ends the check
    expect(await readyz(app.url)).toEqual({ status: 503, body: { ok: false, database: app.database.kind, checks: { database: "up", redis: "down" } } });
    redisProxy.cut();
    expect(await readyz(app.url)).toEqual({ status: 503, body: { ok: false, database: app.database.kind, checks: { database: "up", redis: "down" } } });
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200); // the process itself is up

    redisProxy.pass();
    expect(await readyzUntil(app.url, 200)).toEqual({ status: 200, body: { ok: true, database: app.database.kind, checks: { database: "up", redis: "up" } } });
  });

  it.skipIf(!process.env.DATABASE_URL)("503 naming the database while PostgreSQL is stalled, Redis up; 200 again once it is back", async () => {
    pgProxy!.stall();
    expect(await readyz(app.url)).toEqual({ status: 503, body: { ok: false, database: "postgres", checks: { database: "down", redis: "up" } } });
    pgProxy!.pass();
    expect(await readyzUntil(app.url, 200)).toEqual({ status: 200, body: { ok: true, database: "postgres", checks: { database: "up", redis: "up" } } });
  });
});
