/**
 * Scheduler benchmark (issue 11, R13.4): how late auto-closes happen — the lag from a timer's due
 * time to the conversation's close committed (its `auto_closed` log line) — p50 / p99 / max, and
 * closes per second, with BENCH_TIMERS timers all due at once (a backlog, as after an outage or a
 * busy hour), next to a same-run baseline on the same database: a bare loop in this process that
 * claims the same number of due rows with `FOR UPDATE SKIP LOCKED` and a lease, 32 per claim,
 * and closes them 8 at a time (as server/scheduler.ts does) with the minimum a close writes — the
 * conversation's status and version, one log line, the timer row removed — without the room
 * (loading the conversation, the rules, pins, unread counts, notices, the outbox).
 *
 *   npm run bench:scheduler                     # BENCH_TIMERS=2000
 *   BENCH_TIMERS=10000 npm run bench:scheduler  # the size (~4× longer)
 *
 * PostgreSQL only: a fresh database next to DATABASE_URL, server/main.ts in a child process with
 * the scheduler's default poll (SCHEDULER_POLL_MS=1000) and lease.
 */
import { randomUUID } from "node:crypto";
import { and, count, eq, like, sql } from "drizzle-orm";
import postgres from "postgres";
import type { Db } from "../db/client.ts";
import * as s from "../db/schema.ts";
import { EMAIL, ID, WEBCHAT, WORKSPACE } from "../test/support/demo.ts";
import { int, machine, pct, signIn, startBenchServer, until } from "./support/childServer.ts";

const TIMERS = int("BENCH_TIMERS", 2000);
const CLAIM = 32;
const PARALLEL = 8;
const LEASE_MS = 30_000;
const MEMBERS = Object.values(ID);

async function main() {
  const started = new Date();
  const loadAtStart = machine();
  const bench = await startBenchServer({ SCHEDULER_ENABLED: "true" });
  const { server, database, databaseUrl } = bench;
  const db = database.db;
  const raw = postgres(databaseUrl, { max: PARALLEL + 1, onnotice: () => {}, connection: { application_name: "bench" } });
  try {
    const res = await fetch(`${server.url}/api/v2/workspace/settings`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${await signIn(server.url, EMAIL.admin)}`, "content-type": "application/json" },
      body: JSON.stringify({ autoCloseAfterMinutes: 60, csatOnClose: false }),
    });
    if (res.status !== 200) throw new Error(`settings: ${res.status} ${await res.text()}`);

    // Two sets of in_progress Webchat conversations, one customer message each: `s-` for the server, `b-` for the baseline.
    const t = performance.now();
    for (const prefix of ["s", "b"]) await makeConversations(db, prefix, TIMERS);
    console.error(`${2 * TIMERS} conversations made in ${((performance.now() - t) / 1000).toFixed(0)} s`);

    // Baseline first: the bare claim-and-close loop.
    await raw`create table bench_timers (conversation_id text primary key, due_at timestamptz not null, lease_until timestamptz, attempts int not null default 0)`;
    await raw`create index on bench_timers (due_at)`;
    const baseDue = new Date();
    await raw`insert into bench_timers (conversation_id, due_at) select id, ${baseDue} from conversations where id like 'b-%'`;
    const baseLags: number[] = [];
    const b0 = performance.now();
    for (;;) {
      const now = new Date();
      const claims = await raw.begin(async (tx) => {
        const rows = await tx<{ conversation_id: string }[]>`
          select conversation_id from bench_timers
          where due_at <= ${now} and (lease_until is null or lease_until < ${now})
          order by due_at limit ${CLAIM} for update skip locked`;
        if (rows.length)
          await tx`update bench_timers set lease_until = ${new Date(now.getTime() + LEASE_MS)}, attempts = attempts + 1 where conversation_id in ${tx(rows.map((r) => r.conversation_id))}`;
        return rows.map((r) => r.conversation_id);
      });
      if (claims.length === 0) break;
      for (let i = 0; i < claims.length; i += PARALLEL) {
        await Promise.all(
          claims.slice(i, i + PARALLEL).map((id) =>
            raw
              .begin(async (tx) => {
                const [c] = await tx<{ last_seq: number }[]>`
                update conversations set status = 'closed', closed_at = now(), version = version + 1, last_seq = last_seq + 1, updated_at = now()
                where id = ${id} and status <> 'closed' returning last_seq`;
                if (c)
                  await tx`insert into conversation_events (conversation_id, seq, kind, actor_id, target_ids, created_at) values (${id}, ${c.last_seq}, 'auto_closed', null, '{}', now())`;
                await tx`delete from bench_timers where conversation_id = ${id}`;
              })
              .then(() => baseLags.push(Date.now() - baseDue.getTime())),
          ),
        );
      }
    }
    const baseMs = performance.now() - b0;
    if (baseLags.length !== TIMERS) throw new Error(`baseline closed ${baseLags.length} of ${TIMERS}`);
    console.error(`baseline: ${TIMERS} closes in ${baseMs.toFixed(0)} ms`);

    // The server: the same number of auto_close timers, all due now; its scheduler polls on its own.
    const due = new Date();
    await db.execute(
      sql`insert into timers (conversation_id, kind, due_at, created_at) select id, 'auto_close', ${due.toISOString()}::timestamptz, ${due.toISOString()}::timestamptz from conversations where id like 's-%'`,
    );
    const s0 = performance.now();
    const closedCount = async () => {
      const [r] = await db
        .select({ n: count() })
        .from(s.conversations)
        .where(and(like(s.conversations.id, "s-%"), eq(s.conversations.status, "closed")));
      return Number(r!.n);
    };
    let last = 0;
    await until(
      async () => {
        const n = await closedCount();
        if (n >= last + 1000) {
          console.error(`server: ${n} closed after ${((performance.now() - s0) / 1000).toFixed(0)} s`);
          last = n;
        }
        return n === TIMERS;
      },
      3_600_000,
      "every conversation closed by the scheduler",
    );
    const serverMs = performance.now() - s0;
    const events = await db
      .select({ at: s.conversationEvents.createdAt })
      .from(s.conversationEvents)
      .where(and(like(s.conversationEvents.conversationId, "s-%"), eq(s.conversationEvents.kind, "auto_closed")));
    if (events.length !== TIMERS) throw new Error(`${events.length} auto_closed lines for ${TIMERS} timers: not exactly once`);
    const [left] = await db.select({ n: count() }).from(s.timers);
    if (Number(left!.n) !== 0) throw new Error(`${left!.n} timers left`);
    const lags = events.map((e) => e.at.getTime() - due.getTime());

    const f = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
    const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
    const serverRate = (TIMERS / Math.max(...lags)) * 1000;
    const baseRate = (TIMERS / Math.max(...baseLags)) * 1000;
    const lines = [
      `Scheduler benchmark, ${started.toISOString()} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`,
      `Machine: ${machine()}; at start: ${loadAtStart.replace(/^.*load average /, "")}`,
      `Sizes: ${TIMERS} auto_close timers due at once (Webchat conversations in progress), scheduler poll 1000 ms, claims of ${CLAIM}, ${PARALLEL} fired at once; server on PostgreSQL in a child process`,
      "",
      "| lag due → closed | server scheduler (through the rooms) | bare SKIP LOCKED claim-and-close loop (baseline) | ratio |",
      "|:---|---:|---:|---:|",
      `| p50 | ${f(pct(lags, 50))} | ${f(pct(baseLags, 50))} | ${ratio(pct(lags, 50), pct(baseLags, 50))} |`,
      `| p99 | ${f(pct(lags, 99))} | ${f(pct(baseLags, 99))} | ${ratio(pct(lags, 99), pct(baseLags, 99))} |`,
      `| max | ${f(Math.max(...lags))} | ${f(Math.max(...baseLags))} | ${ratio(Math.max(...lags), Math.max(...baseLags))} |`,
      `| closes/s | ${serverRate.toFixed(0)}/s | ${baseRate.toFixed(0)}/s | ${(serverRate / baseRate).toFixed(2)}× |`,
      `| wall (bench clock) | ${f(serverMs)} | ${f(baseMs)} | |`,
    ];
    console.log(lines.join("\n"));
  } finally {
    await raw.end({ timeout: 5 });
    await bench.stop();
  }
}

/** `n` in_progress Webchat conversations `<prefix>-<k>`, each with its customer and one customer message, in bulk. */
async function makeConversations(db: Db, prefix: string, n: number): Promise<void> {
  const now = new Date();
  for (let from = 0; from < n; from += 500) {
    const ks = Array.from({ length: Math.min(500, n - from) }, (_, i) => from + i);
    const key = (k: number) => `${prefix}-${k}`;
    await db.insert(s.customers).values(
      ks.map((k) => ({
        id: `cust-${key(k)}`,
        workspaceId: WORKSPACE,
        displayName: `客人 ${key(k)}`,
        channel: "webchat" as const,
        channelUserId: `user-${key(k)}-${randomUUID().slice(0, 8)}`,
      })),
    );
    await db.insert(s.conversations).values(
      ks.map((k) => ({
        id: key(k),
        workspaceId: WORKSPACE,
        customerId: `cust-${key(k)}`,
        channelId: WEBCHAT.channelId,
        channel: "webchat" as const,
        kind: "direct" as const,
        status: "in_progress" as const,
        followerId: MEMBERS[k % MEMBERS.length]!,
        collaboratorIds: [],
        lastSeq: 1,
        lastMessageAt: now,
        lastMessagePreview: "thanks",
        lastCustomerMessageAt: now,
        waitingSince: null,
      })),
    );
    await db.insert(s.messages).values(
      ks.map((k) => ({
        conversationId: key(k),
        seq: 1,
        sender: "customer" as const,
        senderId: `cust-${key(k)}`,
        body: "thanks",
        requestId: `bench-${key(k)}`,
        createdAt: now,
      })),
    );
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
