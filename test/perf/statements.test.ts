import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { eq } from "drizzle-orm";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { insertChannelAccount } from "../../db/channels.ts";
import * as schema from "../../db/schema.ts";
import { startApp } from "../../server/app.ts";
import { useLineApiBaseUrl } from "../../server/channels/line/client.ts";
import { encryptSecrets, secretsKeyOf } from "../../server/channels/secrets.ts";
import { parseConfig } from "../../server/config.ts";
import { api, closeAll, connect, createConversation, type Fixture, ID, tokenOf, WORKSPACE, waitFor, webchat } from "../rooms/helpers.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir } from "../support/db.ts";
import { FakeLine, lineMessageEvent, lineUserId, lineWebhookBody, signLine } from "../support/fakes/line.ts";
import type { App } from "../support/server.ts";

/**
 * The SQL statements one action costs (BEGIN and COMMIT included, and whatever the action wakes:
 * the outbox drain, the delivery worker), counted through `Database.onStatement`. The bounds are
 * what the hot path costs today: a change that adds statements to it fails here. A count, not a
 * timing; background pollers (outbox, jobs, intake) may add a statement to one sample, so each
 * figure is the least of a few identical samples.
 */

const SAMPLES = 4;

/**
 * A server like `useTestServer`'s, with the pollers that run on a timer slowed down (the delivery
 * worker, jobs, the push worker's look for due batches, the outbox's fallback poll), so a sample holds what the action does and wakes,
 * not a poll that happened to fall into it. Kicks still run the drains at once.
 */
let app: App;
let databaseUrl: string | undefined;
let dataDir: string;
let fakeLine: FakeLine;
const LINE_SECRET = "perf-line-secret-0123456789abcdef";
const LINE_TOKEN = "perf-line-token";
beforeAll(async () => {
  fakeLine = await FakeLine.start([LINE_TOKEN]);
  useLineApiBaseUrl(fakeLine.url);
  databaseUrl = process.env.DATABASE_URL ? await freshDatabaseUrl() : undefined;
  dataDir = databaseUrl ? "memory://" : await freshPgliteDir();
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    SEED_DEMO: "true",
    JWT_SECRET: "test-secret-test-secret-test-secret-42",
    DELIVERY_POLL_MS: "600000",
    JOB_POLL_MS: "600000",
    PUSH_POLL_MS: "600000",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  app = await startApp(config, { log: pino({ level: process.env.TEST_LOG ?? "silent" }) });
  await app.outbox.stop();
  app.outbox.start(600_000);
});
afterEach(async () => {
  app.database.onStatement = null;
  await closeAll();
});
afterAll(async () => {
  await app?.stop();
  await fakeLine?.stop();
  await dropDatabase(databaseUrl);
  if (dataDir && dataDir !== "memory://") rmSync(dataDir, { recursive: true, force: true });
});

/** Statements sent while `run` runs and until the database has been quiet for `quietMs`. */
async function statementsOf(target: App, run: () => Promise<void>, quietMs = 150): Promise<string[]> {
  const seen: string[] = [];
  let last = Date.now();
  target.database.onStatement = (text) => {
    seen.push(text);
    last = Date.now();
  };
  try {
    await run();
    last = Date.now();
    while (Date.now() - last < quietMs) await new Promise((r) => setTimeout(r, 20));
    return seen;
  } finally {
    target.database.onStatement = null;
  }
}

/** The least count over `SAMPLES` runs of `sample` (and the statements of that run, for the failure message). */
async function fewest(sample: (i: number) => Promise<string[]>): Promise<string[]> {
  let best: string[] | null = null;
  for (let i = 0; i < SAMPLES; i++) {
    const seen = await sample(i);
    if (!best || seen.length < best.length) best = seen;
  }
  if (process.env.PERF_PRINT)
    console.log(`statements: ${best?.length}\n${best?.map((t) => t.replace(/\s+/g, " ").slice(0, 140)).join("\n")}`);
  return best ?? [];
}

async function busyConversation(channel: "webchat" | "line" = "webchat"): Promise<Fixture> {
  return createConversation(app, {
    channel,
    follower: ID.agent,
    collaborators: [ID.manager, ID.agent2],
    texts: ["hello"],
  });
}

/** The follower and a collaborator in their own view, a supervisor in the team view. */
async function threeClients(conversationId: string) {
  return [
    await connect(app, "agent", conversationId),
    await connect(app, "manager", conversationId),
    await connect(app, "supervisor", conversationId, "team"),
  ];
}

describe("statements per action", () => {
  it("a Webchat customer message into a collaborative conversation with three clients", async () => {
    const c = await busyConversation();
    const clients = await threeClients(c.id);
    const seen = await fewest(async (i) =>
      statementsOf(app, async () => {
        const r = await webchat(app, { messageId: randomUUID(), customer: { id: c.channelUserId, name: c.customerName }, text: `m${i}` });
        expect(r.status).toBe(202);
        await waitFor(() => clients.every((k) => k.state.messages.at(-1)?.body === `m${i}`));
      }),
    );
    expect(seen.length, seen.join("\n")).toBeLessThanOrEqual(BOUND.customerMessage);
  });

  it("a signed LINE webhook's customer message into a collaborative conversation with three clients", async () => {
    const db = app.database.db;
    const channelId = `line-${randomUUID()}`;
    await insertChannelAccount(db, {
      id: channelId,
      workspaceId: WORKSPACE,
      type: "line",
      name: "LINE perf",
      settings: {},
      secretsEnc: encryptSecrets(secretsKeyOf(db), { channelSecret: LINE_SECRET, channelAccessToken: LINE_TOKEN }),
      secretHash: null,
    });
    const c = await busyConversation("line");
    const userId = lineUserId(randomUUID().slice(0, 8));
    await db.update(schema.customers).set({ channelUserId: userId }).where(eq(schema.customers.id, c.customerId));
    fakeLine.setProfile(userId, { displayName: c.customerName });
    const clients = await threeClients(c.id);
    const seen = await fewest(async (i) =>
      statementsOf(app, async () => {
        const body = lineWebhookBody([lineMessageEvent({ userId, message: { id: String(1e12 + i), type: "text", text: `l${i}` } })]);
        const res = await fetch(`${app.url}/webhooks/line/${channelId}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-line-signature": signLine(body, LINE_SECRET) },
          body,
        });
        expect(res.status).toBe(200);
        await waitFor(() => clients.every((k) => k.state.messages.at(-1)?.body === `l${i}`));
      }),
    );
    expect(seen.length, seen.join("\n")).toBeLessThanOrEqual(BOUND.lineMessage);
  });

  it("a staff reply in a collaborative conversation", async () => {
    const c = await busyConversation();
    const dan = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);
    const seen = await fewest(async (i) =>
      statementsOf(app, async () => {
        const r = await dan.act("reply", { text: `r${i}` });
        expect(r.ok).toBe(true);
        await waitFor(() => ben.state.messages.at(-1)?.body === `r${i}`);
      }),
    );
    expect(seen.length, seen.join("\n")).toBeLessThanOrEqual(BOUND.staffReply);
  });

  it("a bulk reopen, per item (each item through its conversation's room, created for it)", async () => {
    const N = 20;
    const token = await tokenOf(app, "agent");
    const seen = await fewest(async () => {
      const ids: string[] = [];
      for (let i = 0; i < N; i++) ids.push((await createConversation(app, { follower: ID.agent, status: "closed", texts: ["hello"] })).id);
      return statementsOf(app, async () => {
        const started = await api(app, token, "/api/v2/bulk/reopen", { method: "POST", body: { conversationIds: ids, view: "mine" } });
        expect(started.status).toBe(202);
        const jobId = (started.body as { job: { id: string } }).job.id;
        for (let tries = 0; (await api(app, token, `/api/v2/jobs/${jobId}`)).body.job.status !== "done"; tries++) {
          if (tries > 400) throw new Error(`bulk job not done in time: ${JSON.stringify((await api(app, token, `/api/v2/jobs/${jobId}`)).body)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      });
    });
    const perItem = seen.length / N;
    if (process.env.PERF_PRINT) console.log(`bulk reopen: ${perItem} statements per item`);
    expect(perItem, seen.join("\n")).toBeLessThanOrEqual(BOUND.bulkReopenItem);
  });

  it("a cold room join", async () => {
    const seen = await fewest(async () => {
      const c = await busyConversation();
      return statementsOf(app, async () => {
        const dan = await connect(app, "agent", c.id);
        expect(dan.state.id).toBe(c.id);
      });
    });
    expect(seen.length, seen.join("\n")).toBeLessThanOrEqual(BOUND.coldJoin);
  });
});

/**
 * The bounds: the counts reached (docs/benchmarks.md has the before and after). A customer
 * message through Webchat: the channel's read, the event stored (already claimed by this process:
 * no claim transaction), the contact (a known contact with a conversation is one read,
 * db/channels.ts `knownContact`, not a transaction of four) and the room's 1, which also marks the
 * event processed; then (issue 11, R12.1: the conversation is collaborative and in progress) the
 * push worker folding its `push` row into the members' push batches (5; a commit's kick folds
 * only: the batches it opens are due a window later, and the timer's runs send them).
 * Through a signed LINE webhook: the same (the account is read once, by the webhook; intake
 * processes with it) — it was 15 (a claim transaction of 4, the account read again, the event
 * marked processed by a statement of its own).
 * A staff reply: the room's 1 and the delivery worker sending it (4: the claim, which also reads
 * the message to send, the channel account read (once per batch of claims), the outcome recorded
 * — the room is told the new status with it and does not read it back, `deliveryAfterTold` — and
 * the look for the next claim) — it was 16, when a claim was a transaction of 4 (3 when it found
 * nothing) and the record one of 5 (each now one statement: db/delivery.ts `claimDueDeliveries`,
 * `recordDelivery`), then 7 while the message and the told status were read apart. A cold join: the token's
 * member, the conversation (the join's access check), the room's restore in one statement
 * (conversation, messages, names, survey: db/snapshot.ts), the member's own state — it was 5
 * (messages and names apart).
 * A bulk reopen of 20 conversations, per item: the room's restore (several rooms' restores read
 * by one statement, db/snapshot.ts) and commit (1, several rooms' commits sharing a transaction:
 * its BEGIN and COMMIT), and the job's own reads and writes spread over its items; the acting
 * member's row is the job's (read at most every 250 ms) and not read again by each new room —
 * 4.9 per item, then 3.85, 2.65 with the restores read together.
 */
const BOUND = { customerMessage: 4, lineMessage: 4, staffReply: 5, coldJoin: 4, bulkReopenItem: 3 };
