import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { drizzle } from "drizzle-orm/postgres-js";
import pino from "pino";
import postgres from "postgres";
import type { Db } from "../../db/client.ts";
import * as schema from "../../db/schema.ts";
import { startApp } from "../../server/app.ts";
import { parseConfig } from "../../server/config.ts";
import { killHard, startChildServer } from "../../test/support/child.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir } from "../../test/support/db.ts";

/**
 * The server under a benchmark, with the demo workspace seeded, its provider base URLs pointed at
 * local fakes, and a database handle the bench reads to verify what was stored.
 *
 * - PostgreSQL: `server/main.ts` in a child process (the way it runs in production), on a fresh
 *   database made next to `DATABASE_URL` and dropped at `stop()`. The child has its own event
 *   loop: the bench's load generator and the fakes do not take the server's CPU time slices in
 *   the same process (on a 2-core machine they still share the cores).
 * - PGlite: in this process (`startApp`), since an embedded database belongs to one process and
 *   the bench must read it to count what was stored.
 */
export interface Target {
  readonly kind: "postgres" | "pglite";
  readonly mode: "child process" | "in-process";
  readonly url: string;
  readonly db: Db;
  /**
   * CPU time used so far, in ms: the server process's, and the database's (the PostgreSQL
   * backends serving the server's connections, read from /proc, the bench's own excluded); null
   * where it cannot be told apart from the bench's own (PGlite in this process).
   */
  cpu(): Promise<CpuSample | null>;
  stop(): Promise<void>;
}

/** CPU time so far: the server's in ms, and per database backend (pid → ms). */
export interface CpuSample {
  readonly serverMs: number;
  readonly backends: ReadonlyMap<number, number>;
}

/** Server and database CPU ms between two samples (a backend born in between counts from zero). */
export function cpuBetween(a: CpuSample, b: CpuSample): { serverMs: number; databaseMs: number } {
  let databaseMs = 0;
  for (const [pid, ms] of b.backends) databaseMs += ms - (a.backends.get(pid) ?? 0);
  return { serverMs: b.serverMs - a.serverMs, databaseMs };
}

let ticksPerSecond: number | null = null;

/** utime + stime of a process in ms (/proc/<pid>/stat), or null when it is gone or unreadable. */
function processCpuMs(pid: number): number | null {
  try {
    ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return null;
  }
}

export interface ProviderUrls {
  readonly lineApiBaseUrl: string;
  readonly metaGraphBaseUrl: string;
}

const JWT_SECRET = "bench-secret-bench-secret-bench-secret";

function providerEnv(urls: ProviderUrls): Record<string, string> {
  return {
    CHANNEL_SECRETS_KEY: randomBytes(32).toString("base64"),
    LINE_API_BASE_URL: urls.lineApiBaseUrl,
    META_GRAPH_BASE_URL: urls.metaGraphBaseUrl,
  };
}

/** A child server on a fresh PostgreSQL database next to `baseUrl`; presence in-process (no Redis). */
export async function startPostgresTarget(baseUrl: string, urls: ProviderUrls): Promise<Target> {
  // freshDatabaseUrl / dropDatabase read the admin URL from the environment.
  process.env.DATABASE_URL = baseUrl;
  const databaseUrl = await freshDatabaseUrl();
  if (!databaseUrl) throw new Error("no DATABASE_URL");
  let server: Awaited<ReturnType<typeof startChildServer>>;
  try {
    server = await startChildServer({
      ...providerEnv(urls),
      DATABASE_URL: databaseUrl,
      DATA_DIR: "unused",
      REDIS_URL: "",
    });
  } catch (e) {
    await dropDatabase(databaseUrl);
    throw e;
  }
  // The bench's own connection, named so its backend is left out of the database's CPU time.
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: "bench" } });
  const db = drizzle(sql, { schema }) as unknown as Db;
  const pid = server.child.pid;
  return {
    kind: "postgres",
    mode: "child process",
    url: server.url,
    db,
    async cpu() {
      const rows = await sql<{ pid: number }[]>`
        select pid from pg_stat_activity
        where datname = current_database() and backend_type = 'client backend' and application_name is distinct from 'bench'`;
      const backends = new Map<number, number>();
      for (const r of rows) {
        const ms = processCpuMs(r.pid);
        if (ms !== null) backends.set(r.pid, ms);
      }
      const serverMs = pid === undefined ? null : processCpuMs(pid);
      return serverMs === null ? null : { serverMs, backends };
    },
    async stop() {
      await sql.end({ timeout: 5 });
      await stopChild(server.child);
      await dropDatabase(databaseUrl);
    },
  };
}

/** SIGTERM (a graceful stop), then `kill -9` if the child has not exited within 10 s. */
async function stopChild(child: Awaited<ReturnType<typeof startChildServer>>["child"]): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return killHard(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 10_000).unref());
  await Promise.race([exited, timer]);
  await killHard(child); // still running after 10 s: kill -9; already gone: only forgets it
}

/** The server in this process on a fresh embedded PGlite folder (a copy of the migrated template). */
export async function startPgliteTarget(urls: ProviderUrls): Promise<Target> {
  const dir = await freshPgliteDir("inbox-bench-channels-");
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dir,
    SEED_DEMO: "true",
    JWT_SECRET,
    ...providerEnv(urls),
  });
  const app = await startApp(config, { log: pino({ level: "silent" }) });
  return {
    kind: "pglite",
    mode: "in-process",
    url: app.url,
    db: app.database.db,
    cpu: async () => null,
    async stop() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
