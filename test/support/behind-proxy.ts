import pino from "pino";
import postgres from "postgres";
import { type App, startApp } from "../../server/app.ts";
import { parseConfig } from "../../server/config.ts";
import { dropDatabase, freshDatabaseUrl } from "./db.ts";
import { TcpProxy } from "./tcp-proxy.ts";

/** A test server whose PostgreSQL connection goes through a proxy the test controls (pass, stall, cut). */
export interface ServerBehindProxy {
  readonly app: App;
  readonly proxy: TcpProxy;
  /** A direct connection to the same database, around the proxy: what was really committed. */
  readonly direct: postgres.Sql;
  /** The database's own URL (not through the proxy). */
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts a real server (demo workspace seeded) on a fresh PostgreSQL database (`DATABASE_URL`'s
 * server) reached through a `TcpProxy`, with `DB_STATEMENT_TIMEOUT_MS` = `statementTimeoutMs`.
 */
export async function startServerBehindProxy(statementTimeoutMs: number): Promise<ServerBehindProxy> {
  const url = await freshDatabaseUrl();
  if (!url) throw new Error("startServerBehindProxy needs DATABASE_URL");
  const proxy = TcpProxy.forUrl(url);
  await proxy.start();
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: "memory://",
    SEED_DEMO: "true",
    JWT_SECRET: "test-secret-test-secret-test-secret-42",
    DATABASE_URL: proxy.rewrite(url),
    DB_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
  });
  const app = await startApp(config, { log: pino({ level: process.env.TEST_LOG ?? "silent" }) });
  const direct = postgres(url, { max: 1, onnotice: () => {} });
  return {
    app,
    proxy,
    direct,
    databaseUrl: url,
    async stop() {
      proxy.pass();
      await app.stop();
      await direct.end();
      await proxy.stop();
      await dropDatabase(url);
    },
  };
}
