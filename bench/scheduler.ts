/**
 * Scheduler benchmark (issue 11, R13.4): how late auto-closes happen — the lag from a timer's due
 * time to the conversation's close committed (its `auto_closed` log line) — p50 / p99 / max, and
 * closes per second, in two scenarios: BENCH_TIMERS timers all due at once (a backlog, as after an
 * outage), and BENCH_SPREAD_TIMERS timers due evenly over BENCH_SPREAD_SECONDS (a steady trickle
 * below capacity); each next to a same-run baseline on the same database: a bare loop in this process that
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
import { and, count, eq, like } from "drizzle-orm";
import postgres from "postgres";
import type { Db } from "../db/client.ts";
import * as s from "../db/schema.ts";
import { EMAIL, ID, WEBCHAT, WORKSPACE } from "../test/support/demo.ts";
import { int, machine, pct, signIn, startBenchServer, until } from "./support/childServer.ts";

const TIMERS = int("BENCH_TIMERS", 2000);
const SPREAD_TIMERS = int("BENCH_SPREAD_TIMERS", 600, 0);
const SPREAD_SECONDS = int("BENCH_SPREAD_SECONDS", 30);
/** The server's default SCHEDULER_POLL_MS; the baseline loop looks for due rows as often. */
const POLL_MS = 1000;
const CLAIM = 32;
const PARALLEL = 8;
const LEASE_MS = 30_000;
const MEMBERS = Object.values(ID);

async function main() {
  const started = new Date();
  const loadAtStart = machine();
  const bench = await startBenchServer({ SCHEDULER_ENABLED: "true", SCHEDULER_POLL_MS: String(POLL_MS) });
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

    // In-progress Webchat conversations, one customer message each: `s-` / `ss-` for the server, `b-` / `bs-` for the baseline.
    const t = performance.now();
    for (const [prefix, n] of [
      ["s", TIMERS],
      ["b", TIMERS],
      ["ss", SPREAD_TIMERS],
      ["bs", SPREAD_TIMERS],
    ] as const)
      await makeConversations(db, prefix, n);
    console.error(`${2 * (TIMERS + SPREAD_TIMERS)} conversations made in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    await raw`create table bench_timers (conversation_id text primary key, due_at timestamptz not null, lease_until timestamptz, attempts int not null default 0)`;
    await raw`create index on bench_timers (due_at)`;

    /** Due times: all at `t0` (backlog), or evenly over SPREAD_SECONDS from `t0` (spread). */
    const dueOf = (t0: number, n: number, spread: boolean) => (k: number) =>
      spread ? t0 + Math.floor((k * SPREAD_SECONDS * 1000) / n) : t0;

    /** The baseline: timers in `bench_timers`, a bare claim-and-close loop here. Lags in ms. */
    const baseline = async (prefix: string, n: number, spread: boolean) => {
      const due = dueOf(Date.now() + 200, n, spread);
      const rows = Array.from({ length: n }, (_, k) => ({ conversation_id: `${prefix}-${k}`, due_at: new Date(due(k)) }));
      for (let i = 0; i < rows.length; i += 1000) await raw`insert into bench_timers ${raw(rows.slice(i, i + 1000))}`;
      const lags: number[] = [];
      while (lags.length < n) {
        const now = new Date();
        const claims = await raw.begin(async (tx) => {
          const got = await tx<{ conversation_id: string }[]>`
            select conversation_id from bench_timers
            where due_at <= ${now} and (lease_until is null or lease_until < ${now})
            order by due_at limit ${CLAIM} for update skip locked`;
          if (got.length)
            await tx`update bench_timers set lease_until = ${new Date(now.getTime() + LEASE_MS)}, attempts = attempts + 1 where conversation_id in ${tx(got.map((r) => r.conversation_id))}`;
          return got.map((r) => r.conversation_id);
        });
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
                .then(() => lags.push(Date.now() - due(Number(id.slice(prefix.length + 1))))),
            ),
          );
        }
        // As the scheduler: a full claim means more may be due at once; otherwise wait for the next poll.
        if (claims.length < CLAIM && lags.length < n) await new Promise((r) => setTimeout(r, POLL_MS));
      }
      return lags;
    };

    /** The server: `auto_close` timers in `timers`; its scheduler polls on its own. Lags from the log lines, in ms. */
    const serverRun = async (prefix: string, n: number, spread: boolean) => {
      const due = dueOf(Date.now() + 200, n, spread);
      const rows = Array.from({ length: n }, (_, k) => ({
        conversationId: `${prefix}-${k}`,
        kind: "auto_close" as const,
        dueAt: new Date(due(k)),
        createdAt: new Date(),
      }));
      for (let i = 0; i < rows.length; i += 1000) await db.insert(s.timers).values(rows.slice(i, i + 1000));
      const closed = async () => {
        const [r] = await db
          .select({ n: count() })
          .from(s.conversations)
          .where(and(like(s.conversations.id, `${prefix}-%`), eq(s.conversations.status, "closed")));
        return Number(r!.n);
      };
      let last = 0;
      await until(
        async () => {
          const c = await closed();
          if (c >= last + 1000) {
            console.error(`server: ${c} closed`);
            last = c;
          }
          return c === n;
        },
        3_600_000,
        "every conversation closed by the scheduler",
      );
      const events = await db
        .select({ id: s.conversationEvents.conversationId, at: s.conversationEvents.createdAt })
        .from(s.conversationEvents)
        .where(and(like(s.conversationEvents.conversationId, `${prefix}-%`), eq(s.conversationEvents.kind, "auto_closed")));
      if (events.length !== n) throw new Error(`${events.length} auto_closed lines for ${n} timers: not exactly once`);
      const [left] = await db.select({ n: count() }).from(s.timers);
      if (Number(left!.n) !== 0) throw new Error(`${left!.n} timers left`);
      return events.map((e) => e.at.getTime() - due(Number(e.id.slice(prefix.length + 1))));
    };

    const results: { name: string; server: number[]; base: number[] }[] = [];
    const baseLags = await baseline("b", TIMERS, false);
    console.error(`backlog baseline: ${TIMERS} closes, max lag ${Math.max(...baseLags)} ms`);
    const serverLags = await serverRun("s", TIMERS, false);
    results.push({ name: `backlog: ${TIMERS} due at once`, server: serverLags, base: baseLags });
    if (SPREAD_TIMERS > 0) {
      const b = await baseline("bs", SPREAD_TIMERS, true);
      console.error(`spread baseline: p50 ${pct(b, 50)} ms`);
      const sv = await serverRun("ss", SPREAD_TIMERS, true);
      results.push({ name: `spread: ${SPREAD_TIMERS} due evenly over ${SPREAD_SECONDS} s`, server: sv, base: b });
    }

    const f = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
    const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
    const lines = [
      `Scheduler benchmark, ${started.toISOString()} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`,
      `Machine: ${machine()}; at start: ${loadAtStart.replace(/^.*load average /, "")}`,
      `Scheduler poll ${POLL_MS} ms (the default; the baseline loop waits as long when nothing is due), claims of ${CLAIM}, ${PARALLEL} fired at once; server on PostgreSQL in a child process`,
      "",
      "| scenario | lag due → closed | server scheduler (through the rooms) | bare SKIP LOCKED claim-and-close loop (baseline) | ratio |",
      "|:---|:---|---:|---:|---:|",
    ];
    for (const r of results) {
      for (const [label, p] of [
        ["p50", 50],
        ["p99", 99],
      ] as const)
        lines.push(`| ${r.name} | ${label} | ${f(pct(r.server, p))} | ${f(pct(r.base, p))} | ${ratio(pct(r.server, p), pct(r.base, p))} |`);
      lines.push(
        `| ${r.name} | max | ${f(Math.max(...r.server))} | ${f(Math.max(...r.base))} | ${ratio(Math.max(...r.server), Math.max(...r.base))} |`,
      );
      if (r.name.startsWith("backlog")) {
        const sr = (r.server.length / Math.max(...r.server)) * 1000;
        const br = (r.base.length / Math.max(...r.base)) * 1000;
        lines.push(`| ${r.name} | closes/s | ${sr.toFixed(0)}/s | ${br.toFixed(0)}/s | ${(sr / br).toFixed(2)}× |`);
      }
    }
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
