/**
 * Action throughput: customer messages through the Webchat endpoint and staff replies over SDK
 * sockets, into C busy conversations with three SDK clients each (follower, collaborator, a
 * supervisor in the team view), next to a baseline measured in the same run: the same writes
 * (conversation row, message, unread of the two participants) done by hand, one transaction per
 * message, with the same concurrency, on the same database. The figures to read are the ratios.
 *
 *   npx tsx bench/action-load.ts                        # PGlite in memory
 *   DATABASE_URL=postgres://… npx tsx bench/action-load.ts
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/action-load.ts   # profile it
 *   BENCH_CONVERSATIONS=50 BENCH_MESSAGES=2000 BENCH_CONCURRENCY=50 (defaults)
 */
import { randomUUID } from "node:crypto";
import { Client, type Room } from "@colyseus/sdk";
import pino from "pino";
import * as s from "../db/schema.ts";
import { startApp } from "../server/app.ts";
import { parseConfig } from "../server/config.ts";

const C = Number(process.env.BENCH_CONVERSATIONS ?? 50);
const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const K = Number(process.env.BENCH_CONCURRENCY ?? 50);
const WEBCHAT = { channelId: "demo-webchat", secret: "demo-webchat-secret" };

/** Runs `total` tasks, `concurrency` at a time; resolves with the seconds it took. */
async function timed(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) await task(i);
    }),
  );
  return (performance.now() - start) / 1000;
}

async function waitUntil(check: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main() {
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: "memory://",
    SEED_DEMO: "true",
    JWT_SECRET: "bench-secret-bench-secret-bench-secret",
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  });
  const app = await startApp(config, { log: pino({ level: "silent" }) });
  const db = app.database.db;
  const token = async (email: string) => {
    const r = await fetch(`${app.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "demo-password" }),
    });
    return ((await r.json()) as { accessToken: string }).accessToken;
  };
  const tokens = { agent: await token("agent@demo.test"), manager: await token("manager@demo.test"), supervisor: await token("supervisor@demo.test") };

  // C webchat conversations: follower Dan (agent), collaborator Ben (manager).
  const run = randomUUID().slice(0, 6);
  const convs = Array.from({ length: C }, (_, i) => ({ id: `bench-${run}-${i}`, customerId: `bench-cust-${run}-${i}`, user: `bench-user-${run}-${i}` }));
  for (const c of convs) {
    await db.insert(s.customers).values({ id: c.customerId, workspaceId: "demo", displayName: `Customer ${c.user}`, channel: "webchat", channelUserId: c.user });
    await db.insert(s.conversations).values({
      id: c.id,
      workspaceId: "demo",
      customerId: c.customerId,
      channelId: WEBCHAT.channelId,
      channel: "webchat",
      status: "in_progress",
      followerId: "demo-agent",
      collaboratorIds: ["demo-cs-manager"],
    });
  }
  const join = async (t: string, conversationId: string, view: "mine" | "team") => {
    const client = new Client(`ws://127.0.0.1:${app.port}`);
    client.auth.token = t;
    return client.joinOrCreate("conversation", { conversationId, view });
  };
  const rooms: { agent: Room; others: Room[] }[] = [];
  for (const c of convs) {
    const agent = await join(tokens.agent, c.id, "mine");
    rooms.push({ agent, others: [await join(tokens.manager, c.id, "mine"), await join(tokens.supervisor, c.id, "team")] });
  }
  const lastBody = (r: Room) => (r.state as { messages?: { at(i: number): { body?: string } | undefined } }).messages?.at(-1)?.body;

  // Customer messages through the Webchat endpoint.
  const customerSeconds = await timed(N, K, async (i) => {
    const c = convs[i % C]!;
    const res = await fetch(`${app.url}/channels/webchat/${WEBCHAT.channelId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-channel-secret": WEBCHAT.secret },
      body: JSON.stringify({ messageId: `m-${run}-${i}`, customer: { id: c.user, name: `Customer ${c.user}` }, text: `customer ${i}` }),
    });
    if (res.status !== 202) throw new Error(`webchat answered ${res.status}`);
    await res.arrayBuffer();
  });
  const lastCustomer = (ci: number) => `customer ${N - C + ci}`;
  await waitUntil(() => rooms.every((r, ci) => [r.agent, ...r.others].every((x) => lastBody(x) === lastCustomer(ci))));

  // Staff replies over the sockets: each conversation's follower replies, one at a time per room.
  let n = 0;
  const replySeconds = await timed(N, Math.min(K, C), async (i) => {
    const ci = i % C;
    const room = rooms[ci]!.agent;
    const requestId = `r-${run}-${i}-${n++}`;
    await new Promise<void>((resolve, reject) => {
      const stop = room.onMessage("result", (r: { requestId: string; ok: boolean; code?: string }) => {
        if (r.requestId !== requestId) return;
        stop();
        if (r.ok) resolve();
        else reject(new Error(`reply refused: ${r.code}`));
      });
      room.send("reply", { requestId, text: `reply ${i}` });
    });
  });

  // Baseline: the same writes by hand, one transaction per message, same concurrency.
  const client = (db as unknown as { $client: unknown }).$client as {
    begin?: (cb: (tx: { unsafe(q: string, p: unknown[]): Promise<unknown> }) => Promise<unknown>) => Promise<unknown>;
    transaction?: (cb: (tx: { query(q: string, p: unknown[]): Promise<unknown> }) => Promise<unknown>) => Promise<unknown>;
  };
  const writes = [
    "update conversations set version = version + 1, last_seq = last_seq + 1, last_message_at = now(), last_message_preview = $2::text, waiting_since = coalesce(waiting_since, now()) where id = $1::text returning last_seq",
    "insert into messages (conversation_id, seq, sender, sender_id, body, request_id, created_at) values ($1::text, $3::int, 'customer', $4::text, $2::text, $5::text, now())",
    "insert into member_conversation_state (member_id, conversation_id, unread_count, updated_at) select m, $1::text, 1, now() from unnest(array['demo-agent', 'demo-cs-manager']) m on conflict (member_id, conversation_id) do update set unread_count = member_conversation_state.unread_count + 1",
  ];
  const rawSeconds = await timed(N, K, async (i) => {
    const c = convs[i % C]!;
    const text = `raw ${i}`;
    if (client.begin) {
      await client.begin(async (tx) => {
        const [row] = (await tx.unsafe(writes[0]!, [c.id, text])) as { last_seq: number }[];
        await tx.unsafe(writes[1]!, [c.id, text, row!.last_seq, c.customerId, `raw-${run}-${i}`]);
        await tx.unsafe(writes[2]!, [c.id]);
      });
    } else {
      await client.transaction!(async (tx) => {
        const { rows } = (await tx.query(writes[0]!, [c.id, text])) as { rows: { last_seq: number }[] };
        await tx.query(writes[1]!, [c.id, text, rows[0]!.last_seq, c.customerId, `raw-${run}-${i}`]);
        await tx.query(writes[2]!, [c.id]);
      });
    }
  });

  const rate = (sec: number) => N / sec;
  const rows = [
    ["customer messages (Webchat → committed → patched)", rate(customerSeconds)],
    ["staff replies (SDK → committed → answered)", rate(replySeconds)],
    ["baseline: the writes by hand (1 tx per message)", rate(rawSeconds)],
  ] as const;
  console.log(`\naction throughput — ${app.database.kind}, ${C} conversations × 3 clients, ${N} actions, concurrency ${K}`);
  for (const [what, r] of rows) console.log(`  ${what.padEnd(52)} ${r.toFixed(0).padStart(6)} /s   ${(r / rate(rawSeconds)).toFixed(3)}× baseline`);
  for (const r of rooms) for (const x of [r.agent, ...r.others]) await x.leave().catch(() => {});
  await app.stop();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
