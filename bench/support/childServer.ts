import { availableParallelism, cpus, loadavg } from "node:os";
import { type Database, openDatabase } from "../../db/client.ts";
import { type ChildServer, killHard, startChildServer } from "../../test/support/child.ts";
import { dropDatabase, freshDatabaseUrl } from "../../test/support/db.ts";
export { int, pct } from "./load.ts";

/**
 * The server under the push and scheduler benchmarks: `server/main.ts` in a child process (as
 * bench/support/target.ts runs it for bench:channels) on a fresh PostgreSQL database next to
 * `DATABASE_URL`, presence in-process (no Redis), the demo workspace seeded, with the bench's own
 * settings on top; and a database handle for the bench to prepare rows and count results.
 */
export interface BenchServer {
  readonly server: ChildServer;
  readonly databaseUrl: string;
  readonly database: Database;
  stop(): Promise<void>;
}

export const BASE_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

export async function startBenchServer(env: Record<string, string>): Promise<BenchServer> {
  process.env.DATABASE_URL = BASE_URL; // freshDatabaseUrl / dropDatabase read the admin URL from here
  const databaseUrl = await freshDatabaseUrl();
  if (!databaseUrl) throw new Error("no DATABASE_URL");
  let server: ChildServer;
  try {
    server = await startChildServer({ ...env, DATABASE_URL: databaseUrl, DATA_DIR: "unused", REDIS_URL: "" });
  } catch (e) {
    await dropDatabase(databaseUrl);
    throw e;
  }
  const database = await openDatabase({ databaseUrl, dataDir: "unused" });
  return {
    server,
    databaseUrl,
    database,
    async stop() {
      await database.close();
      const exited = new Promise<void>((resolve) => server.child.once("exit", () => resolve()));
      server.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      await killHard(server.child);
      await dropDatabase(databaseUrl);
    },
  };
}

/** Signs a demo member in over HTTP; returns the access token. */
export async function signIn(url: string, email: string): Promise<string> {
  const res = await fetch(`${url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "demo-password" }),
  });
  if (res.status !== 200) throw new Error(`sign-in ${email}: ${res.status}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** The machine line of a report. */
export function machine(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? "?"}), node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ")} (1 / 5 / 15 min)`;
}

export async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
