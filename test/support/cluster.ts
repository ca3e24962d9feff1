import { createClient } from "redis";
import { type Database, openDatabase } from "../../db/client.ts";
import { type ChildServer, childRedis, killAllChildren, startChildServer } from "./child.ts";
import { dropDatabase, freshDatabaseUrl } from "./db.ts";

/** Several real server processes on one fresh PostgreSQL database and one Redis database. */
export interface Cluster {
  readonly servers: ChildServer[];
  /** The environment the processes share (to start another one like them). */
  readonly env: Record<string, string>;
  /** The same database, opened by the test for its fixtures and checks. */
  readonly database: Database;
  stop(): Promise<void>;
}

/**
 * Starts `count` child servers on a fresh PostgreSQL database (`DATABASE_URL`'s server) and the
 * Redis database `redisDb` (each test file takes its own, see `childRedis`). They start one after
 * the other: the first seeds the demo workspace, the next ones find it seeded.
 */
export interface ClusterOptions {
  /** Each process announces its own `127.0.0.1:<port>` as `PUBLIC_ADDRESS` (how a deployment runs). */
  readonly publicAddress?: boolean;
  /** More settings for every process. */
  readonly env?: Record<string, string>;
}

export async function startCluster(redisDb: number, count = 2, opts: ClusterOptions = {}): Promise<Cluster> {
  const databaseUrl = await freshDatabaseUrl();
  if (!databaseUrl) throw new Error("startCluster needs DATABASE_URL");
  const env: Record<string, string> = { ...opts.env, ...childRedis(redisDb), DATABASE_URL: databaseUrl, DATA_DIR: "unused" };
  // The file's Redis database starts empty: rooms, online ledgers and rate-limit counts of an earlier run are gone.
  if (env.REDIS_URL) {
    const redis = createClient({ url: env.REDIS_URL });
    await redis.connect();
    await redis.flushDb();
    await redis.destroy();
  }
  const servers: ChildServer[] = [];
  for (let i = 0; i < count; i++) servers.push(await startChildServer(env, { publicAddress: opts.publicAddress }));
  const database = await openDatabase({ databaseUrl, dataDir: "unused" });
  return {
    servers,
    env,
    database,
    async stop() {
      await killAllChildren();
      await database.close();
      await dropDatabase(databaseUrl);
    },
  };
}
