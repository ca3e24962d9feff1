import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { childRedis, killAllChildren, killHard, startChildServer } from "../support/child.ts";
import { dropDatabase, freshDatabaseUrl } from "../support/db.ts";
import { WEBCHAT } from "../support/demo.ts";

/**
 * Group commit and `kill -9` (db/commit.ts `CommitQueue`): many customer messages into many
 * conversations at once, so their commits go in group transactions, and the server is killed
 * while they are in flight. Every message answered 202 (acknowledged after its group committed)
 * is stored, once; after a restart the senders' retries store each message that was not, once,
 * and answer the acknowledged ones as duplicates with the seq they had. PostgreSQL only: that is
 * where several group transactions run at once.
 */
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await killAllChildren();
  for (const f of cleanups) await f();
});

const CUSTOMERS = 30;
const PER_CUSTOMER = 3;
const KILL_AFTER = 25;

interface Sent {
  readonly messageId: string;
  readonly customer: string;
  readonly text: string;
}

async function send(url: string, m: Sent): Promise<{ status: number; body: { conversationId?: string; seq?: number; duplicate?: boolean } }> {
  const res = await fetch(`${url}/channels/webchat/${WEBCHAT.channelId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-channel-secret": WEBCHAT.secret },
    body: JSON.stringify({ messageId: m.messageId, customer: { id: m.customer, name: `Kill9 ${m.customer}` }, text: m.text }),
  });
  return { status: res.status, body: (await res.json()) as { conversationId?: string; seq?: number; duplicate?: boolean } };
}

describe.skipIf(!process.env.DATABASE_URL)("group commit and kill -9", () => {
  it("nothing acknowledged is lost and nothing is stored twice when the server dies during group flushes", { timeout: 240_000 }, async () => {
    const databaseUrl = (await freshDatabaseUrl())!;
    cleanups.push(() => dropDatabase(databaseUrl));
    const env = { ...childRedis(5), DATABASE_URL: databaseUrl, DATA_DIR: "unused" };
    const run = randomUUID().slice(0, 6);
    const customers = Array.from({ length: CUSTOMERS }, (_, i) => `k9-${run}-${i}`);
    // Each customer's first message alone (their conversation is made), then the rest all at once.
    const first: Sent[] = customers.map((customer) => ({ messageId: `${customer}-0`, customer, text: `${customer} #0` }));
    const rest: Sent[] = customers.flatMap((customer) =>
      Array.from({ length: PER_CUSTOMER }, (_, k) => ({ messageId: `${customer}-${k + 1}`, customer, text: `${customer} #${k + 1}` })),
    );

    let server = await startChildServer(env);
    for (const m of first) expect((await send(server.url, m)).status).toBe(202);

    const acknowledged = new Map<string, number>();
    const child = server.child;
    let killed: Promise<void> | null = null;
    await Promise.allSettled(
      rest.map(async (m) => {
        const r = await send(server.url, m);
        if (r.status !== 202 || killed) return;
        acknowledged.set(m.messageId, r.body.seq!);
        if (acknowledged.size >= KILL_AFTER) killed ??= killHard(child);
      }),
    );
    await (killed ?? killHard(child));
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);

    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    cleanups.push(() => sql.end({ timeout: 1 }));
    const stored = async () =>
      sql<{ request_id: string; n: number; seq: number }[]>`
        select request_id, count(*)::int as n, min(seq)::int as seq from messages
        where sender = 'customer' and request_id like ${`k9-${run}-%`} group by request_id`;

    // Every acknowledged message is there, with the seq it was answered with; none twice.
    const before = new Map((await stored()).map((r) => [r.request_id, r]));
    for (const [id, seq] of acknowledged) {
      expect(before.get(id)?.n, id).toBe(1);
      expect(before.get(id)?.seq, id).toBe(seq);
    }
    for (const r of before.values()) expect(r.n, r.request_id).toBe(1);

    // The senders retry everything after the restart: each message lands once; the acknowledged are duplicates.
    server = await startChildServer(env);
    for (const m of rest) {
      const r = await send(server.url, m);
      expect(r.status, m.messageId).toBe(202);
      if (acknowledged.has(m.messageId)) {
        expect(r.body.duplicate, m.messageId).toBe(true);
      }
    }
    const after = await stored();
    expect(after).toHaveLength(first.length + rest.length);
    for (const r of after) expect(r.n, r.request_id).toBe(1);
    // No seq of a conversation given twice.
    const seqs = await sql<{ conversation_id: string; n: number; distinct_seqs: number }[]>`
      select m.conversation_id, count(*)::int as n, count(distinct m.seq)::int as distinct_seqs
      from messages m join conversations c on c.id = m.conversation_id join customers cu on cu.id = c.customer_id
      where cu.channel_user_id like ${`k9-${run}-%`} group by m.conversation_id`;
    expect(seqs).toHaveLength(CUSTOMERS);
    for (const c of seqs) expect(c.n).toBe(c.distinct_seqs);
    await killHard(server.child);
  });
});
