import { DEMO, type Row, int, log, seedConversations, sleep, startServers, token } from "./common.ts";

/**
 * P5: a bulk reopen of CONVERSATIONS closed conversations (`POST /api/v2/bulk/reopen`, an admin in
 * the team view), every item through its room with the same rules, texts and notices as a single
 * reopen; timed from the request to the job's `done` as `GET /api/v2/jobs/{id}` reports it.
 *
 * Baseline, same run: the row writes of the same reopens done by hand in one transaction
 * (conversation status and version, and a status-log event per conversation).
 */
const CONVERSATIONS = int("BENCH_P5_CONVERSATIONS", 5000);
/** The server's `JOB_PARALLEL`; unset: the server's default. */
const PARALLEL = process.env.BENCH_P5_JOB_PARALLEL ? int("BENCH_P5_JOB_PARALLEL", 16) : undefined;

export const command = `npm run bench:p5  (BENCH_P5_CONVERSATIONS=${CONVERSATIONS}${PARALLEL ? ` BENCH_P5_JOB_PARALLEL=${PARALLEL}` : ""})`;

export async function run(): Promise<Row[]> {
  const cluster = await startServers(PARALLEL ? { env: { JOB_PARALLEL: String(PARALLEL) } } : {});
  try {
    const { sql } = cluster;
    const common = { count: CONVERSATIONS, channel: "webchat", channelId: "demo-webchat", status: "closed" as const, followerId: DEMO.follower.id, collaboratorIds: [] };
    const ids = await seedConversations(sql, { ...common, prefix: "p5" });
    const rawIds = await seedConversations(sql, { ...common, prefix: "p5raw" });
    const url = cluster.servers[0]!.url;
    const auth = { authorization: `Bearer ${await token(DEMO.admin.id, DEMO.admin.role)}`, "content-type": "application/json" };
    log(`P5: bulk reopen of ${CONVERSATIONS}…`);
    const t0 = performance.now();
    const res = await fetch(`${url}/api/v2/bulk/reopen`, { method: "POST", headers: auth, body: JSON.stringify({ conversationIds: ids, view: "team" }) });
    if (res.status !== 202) throw new Error(`bulk reopen: ${res.status} ${await res.text()}`);
    const jobId = ((await res.json()) as { job: { id: string } }).job.id;
    // Progress polled every 50 ms without the items (`items=none`, as a client's progress bar
    // would); the items are read once, at the end. (Until 2026-11-30's third session this read
    // all 5,000 items 20 times a second, which cost the server a fifth of a core during the job.)
    let progress: { status: string; processed: number };
    for (;;) {
      progress = ((await (await fetch(`${url}/api/v2/jobs/${jobId}?items=none`, { headers: auth })).json()) as { job: typeof progress }).job;
      if (progress.status !== "running") break;
      if (performance.now() - t0 > 600_000) throw new Error(`P5: job not done in 10 min (${progress.processed})`);
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const job = ((await (await fetch(`${url}/api/v2/jobs/${jobId}`, { headers: auth })).json()) as { job: { status: string; items: { outcome: string | null }[] } }).job;
    const ok = job.items.filter((i) => i.outcome === "ok").length;
    const [{ n: reopened } = { n: 0 }] = await sql<{ n: number }[]>`select count(*)::int n from conversations where id like 'p5-%' and status = 'in_progress'`;

    log("P5: the hand-written baseline…");
    const b0 = performance.now();
    await sql.begin(async (tx) => {
      await tx`with c as (
          update conversations set status = 'in_progress', closed_at = null, version = version + 1, last_seq = last_seq + 1, updated_at = now()
          where id = any(${rawIds}::text[]) returning id, last_seq)
        insert into conversation_events (conversation_id, seq, kind, actor_id, target_ids, created_at)
          select id, last_seq, 'reopened', ${DEMO.admin.id}, '{}', now() from c`;
    });
    const baseSeconds = (performance.now() - b0) / 1000;
    return [
      {
        id: "P5",
        metric: `bulk reopen of ${CONVERSATIONS} conversations through their rooms, request → job done`,
        ours: seconds,
        baseline: baseSeconds,
        baselineName: "the same row writes by hand, one transaction",
        unit: "s",
        target: "≤ 5 s",
        met: seconds <= 5,
        command,
        checks: [`job ${job.status}: ${ok} of ${CONVERSATIONS} items ok; conversations in progress after it: ${reopened}`],
      },
    ];
  } finally {
    await cluster.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { standalone } = await import("./main.ts");
  await standalone("P5", run);
}
