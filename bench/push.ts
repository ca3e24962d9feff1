/**
 * Push benchmark (issue 11, R12.1): pushes per second from the server's push worker to a local
 * Web Push service (the tests' FakeWebPush: it verifies each VAPID JWT and decrypts each payload),
 * at BENCH_PUSH_CONVERSATIONS busy conversations, next to a same-run baseline: the same number of
 * pushes built and sent by a bare loop in this process (web-push's `generateRequestDetails` +
 * `fetch`, the same fake, the same payload shape, as many in flight as the worker sends at once).
 *
 *   npm run bench:push
 *   BENCH_PUSH_CONVERSATIONS=200 BENCH_PUSH_MESSAGES=3 BENCH_PUSH_COLLABORATORS=2 BENCH_ROUNDS=3 npm run bench:push   # the defaults
 *
 * Each round: BENCH_PUSH_MESSAGES customer messages into each conversation (Webchat endpoint, 16
 * in flight), each conversation with a follower and BENCH_PUSH_COLLABORATORS collaborators who all
 * have a browser subscription. The server runs with a coalescing window of an hour, so the
 * messages are only folded into batches (one per member and conversation, db/push.ts); once all
 * are folded the bench ends every window at once (`push_batches.due_at = now()`) and times the
 * worker from there until the fake has received every push and no batch is left. So the figure
 * is the push pipeline alone (claim, who is viewing, the member's unread count and locale,
 * encryption, VAPID, the send, finishing the batch), not the message intake.
 *
 * PostgreSQL only: a fresh database next to DATABASE_URL, server/main.ts in a child process.
 */
import { randomUUID } from "node:crypto";
import { and, count, eq, isNull } from "drizzle-orm";
import webpush from "web-push";
import * as s from "../db/schema.ts";
import { type PushPayload, pushPayload } from "../domain/push.ts";
import { topicOf } from "../server/push/webPush.ts";
import { FakeWebPush, type FakeSubscription } from "../test/push/fakes.ts";
import { EMAIL, ID, WEBCHAT } from "../test/support/demo.ts";
import { createConversation } from "../test/support/fixtures.ts";
import type { App } from "../test/support/server.ts";
import { runLoad } from "./support/load.ts";
import { int, machine, signIn, startBenchServer, until } from "./support/childServer.ts";

const CONVERSATIONS = int("BENCH_PUSH_CONVERSATIONS", 200);
const MESSAGES = int("BENCH_PUSH_MESSAGES", 3);
const COLLABORATORS = int("BENCH_PUSH_COLLABORATORS", 2, 0);
const ROUNDS = int("BENCH_ROUNDS", 3);
/** The worker sends up to 16 batches at once (server/push/worker.ts BATCH): the baseline keeps as many in flight. */
const IN_FLIGHT = 16;
const MEMBERS = Object.keys(ID) as (keyof typeof ID)[];

async function main() {
  const started = new Date();
  const loadAtStart = machine();
  const vapid = webpush.generateVAPIDKeys();
  const fake = new FakeWebPush(() => vapid.publicKey);
  await fake.start();
  const bench = await startBenchServer({
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: "mailto:bench@inbox.test",
    WEB_PUSH_ALLOW_HTTP: "true",
    PUSH_COALESCE_SECONDS: "3600",
    PUSH_POLL_MS: "50",
  });
  const { server, database } = bench;
  const db = database.db;
  try {
    // One browser subscription per demo member, registered through the API.
    const subs = new Map<string, FakeSubscription>();
    for (const m of MEMBERS) {
      const sub = fake.subscribe();
      const res = await fetch(`${server.url}/api/v2/devices`, {
        method: "POST",
        headers: { authorization: `Bearer ${await signIn(server.url, EMAIL[m])}`, "content-type": "application/json" },
        body: JSON.stringify({ kind: "web", subscription: { endpoint: sub.endpoint, keys: sub.keys } }),
      });
      if (res.status !== 201) throw new Error(`device: ${res.status} ${await res.text()}`);
      subs.set(ID[m], sub);
    }
    if (COLLABORATORS + 1 > MEMBERS.length) throw new Error(`BENCH_PUSH_COLLABORATORS: at most ${MEMBERS.length - 1}`);
    const app = { database } as unknown as App;
    const convs: Awaited<ReturnType<typeof createConversation>>[] = [];
    for (let k = 0; k < CONVERSATIONS; k++) {
      const ids = Array.from({ length: COLLABORATORS + 1 }, (_, j) => ID[MEMBERS[(k + j) % MEMBERS.length]!]);
      convs.push(await createConversation(app, { channel: "webchat", follower: ids[0]!, collaborators: ids.slice(1) }));
    }
    const perRound = CONVERSATIONS * (COLLABORATORS + 1);
    const rows: { round: number; messagesPerSecond: number; pushes: number; serverMs: number; baselineMs: number }[] = [];

    for (let round = 1; round <= ROUNDS; round++) {
      const before = fake.received.length;
      // 1. Customer messages, folded into batches whose window has not ended.
      const intake = await runLoad(server.url, CONVERSATIONS * MESSAGES, 16, (i) => {
        const c = convs[i % CONVERSATIONS]!;
        return {
          method: "POST",
          path: `/channels/webchat/${WEBCHAT.channelId}/messages`,
          headers: { "content-type": "application/json", "x-channel-secret": WEBCHAT.secret },
          body: JSON.stringify({
            messageId: randomUUID(),
            customer: { id: c.channelUserId, name: c.customerName },
            text: `Where is my order? (${round}.${i})`,
          }),
        };
      });
      const refused = intake.answers.filter((a) => a.status !== 202);
      if (refused.length) throw new Error(`${refused.length} customer messages refused: ${refused[0]!.status} ${refused[0]!.body}`);
      await until(
        async () => {
          const [o] = await db
            .select({ n: count() })
            .from(s.outbox)
            .where(and(eq(s.outbox.topic, "push"), isNull(s.outbox.doneAt)));
          const [b] = await db.select({ n: count() }).from(s.pushBatches);
          return Number(o!.n) === 0 && Number(b!.n) === perRound;
        },
        300_000,
        "every message folded into a batch",
      );
      // 2. Every window ends now: time the worker until each push is at the fake and no batch is left.
      const t0 = performance.now();
      await db.update(s.pushBatches).set({ dueAt: new Date() });
      await until(
        async () => {
          if (fake.received.length - before < perRound) return false;
          const [b] = await db.select({ n: count() }).from(s.pushBatches);
          return Number(b!.n) === 0;
        },
        300_000,
        "every push at the fake",
      );
      const serverMs = performance.now() - t0;
      const got = fake.received.length - before;
      if (got !== perRound) throw new Error(`round ${round}: ${got} pushes, expected ${perRound}`);
      const wrong = fake.received.slice(before).filter((r) => r.payload.count !== MESSAGES);
      if (wrong.length) throw new Error(`round ${round}: ${wrong.length} pushes not saying ${MESSAGES} messages`);

      // 3. Baseline: the same pushes from a bare loop here (same fake, same payload shape and size).
      const jobs: { sub: FakeSubscription; payload: PushPayload }[] = [];
      for (let k = 0; k < CONVERSATIONS; k++) {
        const c = convs[k]!;
        for (let j = 0; j <= COLLABORATORS; j++) {
          const memberId = ID[MEMBERS[(k + j) % MEMBERS.length]!];
          const payload = pushPayload({
            conversationId: c.id,
            customerName: c.customerName,
            count: MESSAGES,
            latestText: `Where is my order? (${round}.${k})`,
            unread: MESSAGES * round,
            totalUnread: 100,
            locale: j % 2 ? "en" : "zh-TW",
          });
          jobs.push({ sub: subs.get(memberId)!, payload });
        }
      }
      const b0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          for (;;) {
            const job = jobs[next++];
            if (!job) return;
            const d = webpush.generateRequestDetails({ endpoint: job.sub.endpoint, keys: job.sub.keys }, JSON.stringify(job.payload), {
              vapidDetails: { ...vapid, subject: "mailto:bench@inbox.test" },
              TTL: 3600,
              urgency: "high",
              topic: topicOf(job.payload.conversationId),
              contentEncoding: "aes128gcm",
            });
            const res = await fetch(d.endpoint, {
              method: d.method,
              headers: d.headers as Record<string, string>,
              body: d.body ? new Uint8Array(d.body) : null,
            });
            await res.arrayBuffer();
            if (res.status !== 201) throw new Error(`baseline push: ${res.status}`);
          }
        }),
      );
      const baselineMs = performance.now() - b0;
      rows.push({ round, messagesPerSecond: intake.perSecond, pushes: perRound, serverMs, baselineMs });
      console.error(`round ${round}: ${perRound} pushes in ${serverMs.toFixed(0)} ms (server) vs ${baselineMs.toFixed(0)} ms (bare loop)`);
    }
    if (fake.problems.length) throw new Error(`the fake refused pushes: ${fake.problems.slice(0, 3).join("; ")}`);

    const pushes = rows.reduce((a, r) => a + r.pushes, 0);
    const serverRate = (pushes / rows.reduce((a, r) => a + r.serverMs, 0)) * 1000;
    const baseRate = pushes / (rows.reduce((a, r) => a + r.baselineMs, 0) / 1000);
    const lines = [
      `Push benchmark, ${started.toISOString()} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`,
      `Machine: ${machine()}; at start: ${loadAtStart.replace(/^.*load average /, "")}`,
      `Sizes: ${CONVERSATIONS} conversations × (1 follower + ${COLLABORATORS} collaborators), ${MESSAGES} customer messages each per round, ${ROUNDS} rounds; server on PostgreSQL in a child process`,
      "",
      "| round | pushes | server (worker → fake) | bare web-push loop (baseline) | ratio | customer messages accepted/s |",
      "|---:|---:|---:|---:|---:|---:|",
      ...rows.map(
        (r) =>
          `| ${r.round} | ${r.pushes} | ${((r.pushes / r.serverMs) * 1000).toFixed(0)}/s (${r.serverMs.toFixed(0)} ms) | ${((r.pushes / r.baselineMs) * 1000).toFixed(0)}/s (${r.baselineMs.toFixed(0)} ms) | ${(r.baselineMs / r.serverMs).toFixed(2)}× | ${r.messagesPerSecond.toFixed(0)}/s |`,
      ),
      `| all | ${pushes} | ${serverRate.toFixed(0)}/s | ${baseRate.toFixed(0)}/s | ${(serverRate / baseRate).toFixed(2)}× | |`,
    ];
    console.log(lines.join("\n"));
  } finally {
    await bench.stop();
    await fake.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
