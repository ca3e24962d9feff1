import { randomUUID } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import { expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { ID, WORKSPACE, api, openInbox, tokenOf, waitFor } from "../rooms/helpers.ts";
import { useTestServer } from "../support/server.ts";

/** R9.5: no limit on the batch size. One big job, alone in its file (it takes a while). */
const app = useTestServer();

const N = 5000;

interface Job {
  id: string;
  status: string;
  total: number;
  processed: number;
}

it(`[R9.5] a bulk reopen of ${N} closed conversations in one call completes, with progress on the caller's inbox room`, { timeout: 900_000 }, async () => {
  const db = app.database.db;
  const key = randomUUID().slice(0, 8);
  const customerId = `bulk-cust-${key}`;
  await db.insert(s.customers).values({ id: customerId, workspaceId: WORKSPACE, displayName: "大量客人", channel: "line", channelUserId: `bulk-${key}` });
  const ids = Array.from({ length: N }, (_, i) => `bulk-${key}-${String(i).padStart(4, "0")}`);
  const closedAt = new Date();
  // One batch insert: Dan follows half of them, and collaborates on the other half.
  await db.insert(s.conversations).values(
    ids.map((id, i) => ({
      id,
      workspaceId: WORKSPACE,
      customerId,
      channel: "line" as const,
      status: "closed" as const,
      followerId: i % 2 === 0 ? ID.agent : ID.manager,
      collaboratorIds: i % 2 === 0 ? [] : [ID.agent],
      closedAt,
    })),
  );

  const inbox = await openInbox(app, "agent");
  const progress: Job[] = [];
  inbox.room.onMessage("job", (job: Job) => progress.push(job));

  const res = await fetch(`${app.url}/api/v2/bulk/reopen`, {
    method: "POST",
    headers: { authorization: `Bearer ${await tokenOf(app, "agent")}`, "content-type": "application/json" },
    body: JSON.stringify({ conversationIds: ids, view: "mine" }),
  });
  expect(res.status).toBe(202);
  const { job } = (await res.json()) as { job: Job };
  expect(job).toMatchObject({ status: "running", total: N });

  await waitFor(() => progress.some((p) => p.id === job.id && p.status !== "running"), 850_000);
  const mine = progress.filter((p) => p.id === job.id);
  expect(mine.length).toBeGreaterThan(1);
  expect(mine.at(-1)).toMatchObject({ status: "done", total: N, processed: N });
  // Progress only grows.
  const counts = mine.map((p) => p.processed);
  expect(counts).toEqual([...counts].sort((a, b) => a - b));
  expect(mine.some((p) => p.status === "running" && p.processed > 0 && p.processed < N)).toBe(true);

  const outcomes = await db
    .select({ outcome: s.jobItems.outcome, n: sql<number>`count(*)::int` })
    .from(s.jobItems)
    .where(eq(s.jobItems.jobId, job.id))
    .groupBy(s.jobItems.outcome);
  expect(outcomes).toEqual([{ outcome: "ok", n: N }]);
  const reopened = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(s.conversations)
    .where(and(inArray(s.conversations.id, ids.slice(0, 1000)), eq(s.conversations.status, "in_progress")));
  expect(reopened[0]?.n).toBe(1000);
  const stillClosed = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(s.conversations)
    .where(and(eq(s.conversations.customerId, customerId), eq(s.conversations.status, "closed")));
  expect(stillClosed[0]?.n).toBe(0);
  // R9.2: a collaborator's reopen leaves the follower as it was.
  const sample = await db.select().from(s.conversations).where(eq(s.conversations.id, ids[1]!));
  expect([sample[0]?.followerId, sample[0]?.collaboratorIds]).toEqual([ID.manager, [ID.agent]]);

  const read = await api(app, await tokenOf(app, "agent"), `/api/v2/jobs/${job.id}`);
  expect(read.status).toBe(200);
  expect(read.body.job).toMatchObject({ status: "done", total: N, processed: N });
  expect(read.body.job.items).toHaveLength(N);
  expect(read.body.job.items[N - 1]).toEqual({ conversationId: ids[N - 1], outcome: "ok" });
});
