import { randomBytes } from "node:crypto";
import type { Room } from "@colyseus/sdk";
import { Watcher, quiet } from "./watch.ts";
import { FakeLine, lineMessageEvent, lineWebhookBody, signLine } from "../../test/support/fakes/line.ts";
import { runLoad } from "../support/load.ts";
import { type Cluster, DEMO, type Row, cpuMs, firstState, int, log, pct, pool, sdkClient, seedConversations, startServers, token } from "./common.ts";

/**
 * P1: customer messages accepted end to end — a signed LINE webhook, committed, and patched to the
 * participants' clients — over CONVERSATIONS busy collaborative conversations with three SDK clients
 * each (the follower and a collaborator in their own view, a supervisor in the team view). The
 * figure is messages per second from the first webhook sent to the last patch seen by all three.
 *
 * Baseline, same run, same database: the raw group-commit ceiling of the same writes done by hand
 * with postgres.js — per message the inbound event, the conversation row (seq, times, waiting), the
 * timeline row and both participants' unread counts — BATCH messages of different conversations
 * per transaction, 4 transactions in flight.
 */
const CONVERSATIONS = int("BENCH_P1_CONVERSATIONS", 200);
const MESSAGES = int("BENCH_P1_MESSAGES", 2000);
const CONCURRENCY = int("BENCH_P1_CONCURRENCY", 64);
const BATCH = int("BENCH_P1_BATCH", 50);
const LINE_SECRET = "bench-p1-line-secret-0123456789abcdef";
const LINE_TOKEN = "bench-p1-line-token";

export const command = `npm run bench:p1  (BENCH_P1_CONVERSATIONS=${CONVERSATIONS} BENCH_P1_MESSAGES=${MESSAGES} BENCH_P1_CONCURRENCY=${CONCURRENCY})`;

async function lineChannel(url: string): Promise<string> {
  const res = await fetch(`${url}/api/v2/channels`, {
    method: "POST",
    headers: { authorization: `Bearer ${await token(DEMO.admin.id, DEMO.admin.role)}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "line", name: "P1", credentials: { channelSecret: LINE_SECRET, channelAccessToken: LINE_TOKEN } }),
  });
  if (res.status !== 201) throw new Error(`create channel: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

async function rawBaseline(cluster: Cluster, channelId: string, ids: readonly string[]): Promise<{ perSecond: number }> {
  const { sql } = cluster;
  const batches: { conv: string[]; event: string[] }[] = [];
  for (let i = 0; i < MESSAGES; i += BATCH) {
    const conv: string[] = [];
    const event: string[] = [];
    for (let j = i; j < Math.min(MESSAGES, i + BATCH); j++) {
      conv.push(ids[j % ids.length]!);
      event.push(`raw-${j}-${randomBytes(4).toString("hex")}`);
    }
    batches.push({ conv, event });
  }
  const members = [DEMO.follower.id, DEMO.collaborator.id];
  const t0 = performance.now();
  await pool(batches, 4, async ({ conv, event }) => {
    await sql.begin(async (tx) => {
      await tx`insert into inbound_events (channel_id, provider_event_id, payload, processed_at)
        select ${channelId}, e, jsonb_build_object('kind', 'message', 'text', 'p1 raw'), now() from unnest(${event}::text[]) as t(e)`;
      await tx`with c as (
          update conversations set last_seq = last_seq + 1, version = version + 1, last_message_at = now(),
            last_message_preview = 'p1 raw', last_customer_message_at = now(), waiting_since = coalesce(waiting_since, now()), updated_at = now()
          where id = any(${conv}::text[]) returning id, last_seq),
        m as (insert into messages (conversation_id, seq, sender, sender_id, body, request_id, created_at)
          select c.id, c.last_seq, 'customer', 'c-' || c.id, 'p1 raw', 'raw-' || c.id || '-' || c.last_seq, now() from c)
        insert into member_conversation_state (member_id, conversation_id, unread_count)
          select mem, c.id, 1 from c, unnest(${members}::text[]) as mem
        on conflict (member_id, conversation_id) do update set unread_count = member_conversation_state.unread_count + 1, updated_at = now()`;
    });
  });
  return { perSecond: (MESSAGES / (performance.now() - t0)) * 1000 };
}

export async function run(): Promise<Row[]> {
  const fake = await FakeLine.start([LINE_TOKEN]);
  const cluster = await startServers({ env: { LINE_API_BASE_URL: fake.url, CHANNEL_SECRETS_KEY: randomBytes(32).toString("base64") } });
  const rooms: Room[] = [];
  try {
    const url = cluster.servers[0]!.url;
    const channelId = await lineChannel(url);
    const users = Array.from({ length: CONVERSATIONS }, (_, i) => `U${(i + 1).toString(16).padStart(32, "0")}`);
    const common = { channel: "line", channelId, status: "in_progress" as const, followerId: DEMO.follower.id, collaboratorIds: [DEMO.collaborator.id] };
    const ids = await seedConversations(cluster.sql, { ...common, prefix: "p1", count: CONVERSATIONS, channelUserId: (i) => users[i]! });
    // LINE answers each user's profile (the seeded name: nothing to update on intake).
    for (const [i, u] of users.entries()) fake.setProfile(u, { displayName: `Bench ${i + 1}` });
    const rawIds = await seedConversations(cluster.sql, { ...common, prefix: "p1raw", count: CONVERSATIONS });

    log(`P1: ${CONVERSATIONS} conversations × 3 clients joining…`);
    const clients = {
      follower: await sdkClient(url, DEMO.follower),
      collaborator: await sdkClient(url, DEMO.collaborator),
      supervisor: await sdkClient(url, DEMO.supervisor),
    };
    const watchers: Watcher[][] = [];
    await pool(ids, 16, async (conversationId, i) => {
      const joined = await Promise.all([
        clients.follower.joinOrCreate("conversation", { conversationId, view: "mine" }),
        clients.collaborator.joinOrCreate("conversation", { conversationId, view: "mine" }),
        clients.supervisor.joinOrCreate("conversation", { conversationId, view: "team" }),
      ]);
      for (const r of joined) quiet(r);
      rooms.push(...joined);
      await Promise.all(joined.map(firstState));
      watchers[i] = joined.map((r) => new Watcher(r, "p1 #"));
    });

    log(`P1: ${MESSAGES} signed webhooks at c=${CONCURRENCY}…`);
    const texts = Array.from({ length: MESSAGES }, (_, i) => `p1 #${i}`);
    const pid = cluster.servers[0]!.child.pid!;
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    const result = await runLoad(url, MESSAGES, CONCURRENCY, (i) => {
      const body = lineWebhookBody([
        lineMessageEvent({ eventId: `01P1${String(i).padStart(22, "0")}`, userId: users[i % CONVERSATIONS]!, message: { id: String(1e12 + i), type: "text", text: texts[i] } }),
      ]);
      return { method: "POST", path: `/webhooks/line/${channelId}`, headers: { "content-type": "application/json", "x-line-signature": signLine(body, LINE_SECRET) }, body };
    });
    const refused = result.answers.filter((a) => a.status !== 200).length;
    const deadline = performance.now() + 120_000;
    const allSeen = () => texts.every((t, i) => watchers[i % CONVERSATIONS]!.every((w) => w.seenAt.has(t)));
    while (!allSeen() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!allSeen()) throw new Error("P1: not every message reached every client in 120 s");
    const serverCpuPerMessage = (cpuMs(pid) - cpu0) / MESSAGES;
    let last = 0;
    texts.forEach((t, i) => {
      for (const w of watchers[i % CONVERSATIONS]!) last = Math.max(last, w.seenAt.get(t)!);
    });
    const ours = (MESSAGES / (last - t0)) * 1000;
    const [{ n: stored } = { n: 0 }] = await cluster.sql<{ n: number }[]>`select count(*)::int n from messages where conversation_id like 'p1-%' and sender = 'customer'`;

    log("P1: the raw group-commit baseline…");
    const raw = await rawBaseline(cluster, channelId, rawIds);
    return [
      {
        id: "P1",
        metric: `customer messages end to end (signed LINE webhook → committed → patched to 3 clients), ${CONVERSATIONS} conversations, c=${CONCURRENCY}`,
        ours,
        baseline: raw.perSecond,
        baselineName: `the same writes by hand, ${BATCH} per transaction (group commit), postgres.js`,
        unit: "msg/s",
        target: "≥ 3,000 msg/s or ≥ 0.40×",
        met: ours >= 3000 || ours / raw.perSecond >= 0.4,
        command,
        checks: [
          `webhooks answered 200: ${MESSAGES - refused} of ${MESSAGES}; customer messages stored: ${stored}; every message seen by all 3 clients of its conversation`,
          `webhook answer p50 ${pct(result.latencies, 50).toFixed(0)} ms, p99 ${pct(result.latencies, 99).toFixed(0)} ms; server CPU ${serverCpuPerMessage.toFixed(2)} ms per message`,
        ],
      },
    ];
  } finally {
    await Promise.all(rooms.map((r) => r.leave().catch(() => {})));
    await cluster.stop();
    await fake.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { standalone } = await import("./main.ts");
  await standalone("P1", run);
}
