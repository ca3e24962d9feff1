import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { Client, type Room } from "@colyseus/sdk";
import { SignJWT } from "jose";
import postgres from "postgres";
import { type ChildServer, killHard, startChildServer } from "../../test/support/child.ts";
import { dropDatabase, freshDatabaseUrl } from "../../test/support/db.ts";
import { ID } from "../../test/support/demo.ts";
export { BASE_URL } from "../support/childServer.ts";
export { int, pct } from "../support/load.ts";
import { BASE_URL } from "../support/childServer.ts";

/**
 * What the P1–P7 benchmarks of issue 10 share: the servers under test (server/main.ts in child
 * processes on a fresh PostgreSQL database, optionally sharing Redis), access tokens minted with
 * the children's JWT secret (no password hashing in the load), rows seeded by SQL, the process
 * figures read from /proc, and the result rows of the table.
 */

export const REDIS_BASE = process.env.REDIS_URL || "redis://127.0.0.1:6379";
/** The JWT secret test/support/child.ts gives every child server. */
const CHILD_JWT_SECRET = "kill9-secret-kill9-secret-kill9-secret";
export const WORKSPACE = "demo";

export const log = (line: string) => process.stderr.write(`${line}\n`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One line of the P table: ours next to its same-run baseline, and the issue's target. */
export interface Row {
  readonly id: string;
  readonly metric: string;
  readonly ours: number;
  readonly baseline: number;
  readonly baselineName: string;
  readonly unit: string;
  /** The issue's target, in words. */
  readonly target: string;
  /** Whether the target is met by these figures. */
  readonly met: boolean;
  readonly command: string;
  /** What was checked along the way (counts that must match), one line each. */
  readonly checks?: readonly string[];
}

export function ratio(row: Pick<Row, "ours" | "baseline">): number {
  return row.ours / row.baseline;
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function machine(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? "?"}), node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}

let ticks: number | null = null;
/** utime + stime of a process in ms. */
export function cpuMs(pid: number): number {
  ticks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticks;
}

/** Resident set size of a process, in KiB (/proc/<pid>/status VmRSS). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Servers under test on one fresh PostgreSQL database, and a connection the bench writes and reads with. */
export interface Cluster {
  readonly servers: ChildServer[];
  readonly sql: postgres.Sql;
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * `processes` child servers (server/main.ts, demo workspace seeded) on a fresh database next to
 * DATABASE_URL. With more than one, they share Redis database `redisDb` (flushed first) and each
 * announces its own address (PUBLIC_ADDRESS), as in production.
 */
export async function startServers(
  opts: { processes?: number; redisDb?: number; env?: Record<string, string>; nodeArgs?: readonly string[] } = {},
): Promise<Cluster> {
  const processes = opts.processes ?? 1;
  process.env.DATABASE_URL = BASE_URL; // freshDatabaseUrl reads the admin URL from here
  const databaseUrl = await freshDatabaseUrl();
  if (!databaseUrl) throw new Error("no DATABASE_URL");
  // Load comes from few members and channels: their rate limits would refuse it.
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    DATA_DIR: "unused",
    REDIS_URL: "",
    RATE_LIMIT_ROOM_ACTIONS: "9999999/1s",
    RATE_LIMIT_WEBHOOKS: "9999999/1s",
    ...opts.env,
  };
  if (opts.redisDb !== undefined) {
    const url = new URL(REDIS_BASE);
    url.pathname = `/${opts.redisDb}`;
    env.REDIS_URL = url.toString();
    const { createClient } = await import("redis");
    const r = createClient({ url: env.REDIS_URL });
    await r.connect();
    await r.flushDb();
    await r.quit();
  }
  const servers: ChildServer[] = [];
  try {
    // The first migrates and seeds; the others start once it is ready.
    // BENCH_CPU_PROF=<dir>: each server writes a V8 CPU profile there when it stops (bench/profile-top.ts reads it).
    // BENCH_HEAP_SNAPSHOT=<dir>: each server writes a heap snapshot there on SIGUSR2 (P3 sends it before and after the joins).
    const nodeArgs = [
      ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      ...(process.env.BENCH_HEAP_SNAPSHOT ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${process.env.BENCH_HEAP_SNAPSHOT}`] : []),
      ...(opts.nodeArgs ?? []),
    ];
    servers.push(await startChildServer(env, { publicAddress: processes > 1, nodeArgs }));
    servers.push(...(await Promise.all(Array.from({ length: processes - 1 }, () => startChildServer(env, { publicAddress: true, nodeArgs })))));
  } catch (e) {
    await Promise.all(servers.map((s) => killHard(s.child)));
    await dropDatabase(databaseUrl);
    throw e;
  }
  const sql = postgres(databaseUrl, { max: 4, onnotice: () => {}, connection: { application_name: "bench" } });
  return {
    servers,
    sql,
    databaseUrl,
    async stop() {
      await sql.end({ timeout: 5 });
      // SIGTERM first (a graceful stop writes a --cpu-prof profile given through NODE_OPTIONS), kill -9 after 10 s.
      await Promise.all(
        servers.map(async (s) => {
          if (s.child.exitCode === null && s.child.signalCode === null) {
            const exited = new Promise((resolve) => s.child.once("exit", resolve));
            s.child.kill("SIGTERM");
            await Promise.race([exited, sleep(process.env.BENCH_CPU_PROF ? 60_000 : 10_000)]);
          }
          await killHard(s.child);
        }),
      );
      await dropDatabase(databaseUrl);
    },
  };
}

const jwtKey = new TextEncoder().encode(CHILD_JWT_SECRET);

/** An access token for a member as the server issues them (server/auth.ts), valid for an hour. */
export function token(memberId: string, role: string, tokenVersion = 0): Promise<string> {
  return new SignJWT({ ws: WORKSPACE, role, tv: tokenVersion })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(memberId)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(jwtKey);
}

export const DEMO = {
  follower: { id: ID.agent, role: "agent" },
  collaborator: { id: ID.agent2, role: "agent" },
  supervisor: { id: ID.supervisor, role: "supervisor" },
  admin: { id: ID.admin, role: "admin" },
} as const;

/** An SDK client of `httpUrl` holding `member`'s token. */
export async function sdkClient(httpUrl: string, member: { id: string; role: string }): Promise<Client> {
  const c = new Client(httpUrl.replace(/^http/, "ws"));
  c.auth.token = await token(member.id, member.role);
  return c;
}

/** Resolves once the room's first state has arrived (the state is empty right after the join). */
export function firstState(room: Room): Promise<void> {
  return new Promise((resolve) => {
    const s = room.state as { id?: string } | undefined;
    if (s?.id) return resolve();
    room.onStateChange.once(() => resolve());
  });
}

/** Runs `fn` over `items` with at most `width` at a time. */
export async function pool<T, R>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

export interface SeedOptions {
  readonly prefix: string;
  readonly count: number;
  readonly channel: string;
  readonly channelId: string | null;
  readonly status: "in_progress" | "closed";
  readonly followerId: string;
  readonly collaboratorIds: readonly string[];
  /** Customer messages per conversation (seq 1…n). */
  readonly messages?: number;
  /** The customer's channel user id for conversation `i`. */
  readonly channelUserId?: (i: number) => string;
}

/** Conversations `${prefix}-<i>` (and their customers `${prefix}-c<i>`), seeded by SQL in one transaction. */
export async function seedConversations(sql: postgres.Sql, o: SeedOptions): Promise<string[]> {
  const ids = Array.from({ length: o.count }, (_, i) => `${o.prefix}-${i}`);
  const users = ids.map((_, i) => o.channelUserId?.(i) ?? `${o.prefix}-user-${i}`);
  const messages = o.messages ?? 0;
  await sql.begin(async (tx) => {
    await tx`insert into customers (id, workspace_id, display_name, channel, channel_user_id)
      select 'c-' || id, ${WORKSPACE}, 'Bench ' || n, ${o.channel}, u
      from unnest(${ids}::text[], ${users}::text[]) with ordinality as t(id, u, n)`;
    await tx`insert into conversations (id, workspace_id, customer_id, channel_id, channel, status, follower_id, collaborator_ids, last_seq, closed_at)
      select id, ${WORKSPACE}, 'c-' || id, ${o.channelId}, ${o.channel}, ${o.status}, ${o.followerId}, ${o.collaboratorIds as string[]}::text[], ${messages},
        ${o.status === "closed" ? sql`now()` : null}
      from unnest(${ids}::text[]) as t(id)`;
    if (messages > 0)
      await tx`insert into messages (conversation_id, seq, sender, sender_id, body, request_id, created_at)
        select id, g, 'customer', 'c-' || id, 'seeded message ' || g, id || '-seed-' || g, now() - (${messages} - g) * interval '1 minute'
        from unnest(${ids}::text[]) as t(id), generate_series(1, ${messages}) as g`;
  });
  return ids;
}

/** The generated block of docs/benchmarks.md. */
export function table(rows: readonly Row[]): string[] {
  const out = ["| | metric | ours | baseline (same run) | ratio | target | met |", "|---|---|---|---|---|---|---|"];
  for (const r of rows)
    out.push(
      `| ${r.id} | ${r.metric} | ${fmt(r.ours)} ${r.unit} | ${fmt(r.baseline)} ${r.unit} — ${r.baselineName} | ${fmt(ratio(r))}× | ${r.target} | ${r.met ? "yes" : "**no**"} |`,
    );
  return out;
}

/** The plain `ws` server of bench/p/plain-ws.ts in a child process: its port and pid. */
export async function startPlainWs(nodeArgs: readonly string[] = []): Promise<{ port: number; pid: number; stop(): void }> {
  const { spawn } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", fileURLToPath(new URL("./plain-ws.ts", import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
    child.once("exit", (code) => reject(new Error(`plain ws server exited ${code}`)));
  });
  return { port, pid: child.pid!, stop: () => child.kill("SIGKILL") };
}

/**
 * A full garbage collection in a process started with `--inspect=127.0.0.1:<port>`, through its
 * inspector (`HeapProfiler.collectGarbage`): what is left is what the process really holds, not
 * the garbage its last busy minute left for V8's next collection.
 */
export async function collectGarbage(inspectPort: number): Promise<void> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  try {
    for (let id = 1; id <= 2; id++) {
      ws.send(JSON.stringify({ id, method: "HeapProfiler.collectGarbage" }));
      await new Promise<void>((resolve) => {
        const onMessage = (data: unknown) => {
          if ((JSON.parse(String(data)) as { id?: number }).id === id) {
            ws.off("message", onMessage);
            resolve();
          }
        };
        ws.on("message", onMessage);
      });
    }
  } finally {
    ws.close();
  }
}
