import postgres from "postgres";
import { ID } from "../../test/support/demo.ts";
import { DEMO, type Row, firstState, int, log, pct, sdkClient, seedConversations, startServers } from "./common.ts";
import { quiet } from "./watch.ts";

/**
 * P6: a room's cold start — an admin joins (team view) a conversation whose room is not loaded: 50
 * messages and 6 participants (the follower and 5 collaborators); from `joinOrCreate` to the first
 * state at the client (matchmaking, the seat, the restore from the database, the first patch).
 * One at a time over ROOMS conversations; p95.
 *
 * Baseline, same run: reading the same rows by hand with postgres.js on one connection — the
 * conversation with its customer, the 50 newest messages, the participants' names, the joining
 * member's unread and pin — p95 over the same conversations.
 */
const ROOMS = int("BENCH_P6_ROOMS", 200);

export const command = `npm run bench:p6  (BENCH_P6_ROOMS=${ROOMS})`;

export async function run(): Promise<Row[]> {
  const cluster = await startServers();
  try {
    const collaborators = [ID.agent2, ID.agent3, ID.manager, ID.marketing, ID.supervisor];
    const ids = await seedConversations(cluster.sql, {
      prefix: "p6",
      count: ROOMS,
      channel: "webchat",
      channelId: "demo-webchat",
      status: "in_progress",
      followerId: DEMO.follower.id,
      collaboratorIds: collaborators,
      messages: 50,
    });
    const client = await sdkClient(cluster.servers[0]!.url, DEMO.admin);
    // Warm the server's own paths (auth, matchmaking, code) on another conversation.
    const warm = await seedConversations(cluster.sql, { prefix: "p6warm", count: 20, channel: "webchat", channelId: "demo-webchat", status: "in_progress", followerId: DEMO.follower.id, collaboratorIds: collaborators, messages: 50 });
    for (const conversationId of warm) {
      const r = await client.joinOrCreate("conversation", { conversationId, view: "team" });
      quiet(r);
      await firstState(r);
      await r.leave();
    }
    log(`P6: ${ROOMS} cold starts…`);
    const ours: number[] = [];
    for (const conversationId of ids) {
      const t0 = performance.now();
      const r = await client.joinOrCreate("conversation", { conversationId, view: "team" });
      quiet(r);
      await firstState(r);
      ours.push(performance.now() - t0);
      const messages = (r.state as { messages: { length: number } }).messages.length;
      if (messages !== 50) throw new Error(`P6: ${conversationId} restored ${messages} messages, not 50`);
      await r.leave();
    }

    log("P6: the hand-read baseline…");
    const sql = postgres(cluster.databaseUrl, { max: 1, onnotice: () => {} });
    const base: number[] = [];
    try {
      for (const conversationId of [...warm, ...ids]) {
        const t0 = performance.now();
        const [c] = await sql`select c.*, cu.display_name, cu.picture_url from conversations c join customers cu on cu.id = c.customer_id where c.id = ${conversationId}`;
        await sql`select * from messages where conversation_id = ${conversationId} order by seq desc limit 50`;
        await sql`select id, name, role from members where id = any(${[c!.follower_id, ...c!.collaborator_ids]}::text[])`;
        await sql`select * from member_conversation_state where member_id = ${DEMO.admin.id} and conversation_id = ${conversationId}`;
        if (!warm.includes(conversationId)) base.push(performance.now() - t0);
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
    const p95 = pct(ours, 95);
    const b95 = pct(base, 95);
    return [
      {
        id: "P6",
        metric: `room cold start (50 messages, 6 participants), join → first state, p95 (p50 ${pct(ours, 50).toFixed(1)} ms)`,
        ours: p95,
        baseline: b95,
        baselineName: `the same rows read by hand with postgres.js, 4 statements (p50 ${pct(base, 50).toFixed(1)} ms)`,
        unit: "ms",
        target: "≤ 2×",
        met: p95 <= 2 * b95,
        command,
        checks: [`${ROOMS} cold starts, each restored 50 messages`],
      },
    ];
  } finally {
    await cluster.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { standalone } = await import("./main.ts");
  await standalone("P6", run);
}
