import { randomUUID } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { otherWorkspaceConversation } from "../http/fixtures.ts";
import {
  api,
  connect,
  conversationRow,
  createConversation,
  type DemoKey,
  eventRows,
  finishedJob,
  ID,
  type JobItemJson,
  type JobJson,
  logTexts,
  messageRows,
  tokenOf,
  waitFor,
} from "../rooms/helpers.ts";
import { useTestServer } from "../support/server.ts";

/** Bulk close, reopen and transfer through the HTTP API and the job runner (R7.5, R8.5, R9.3). */
const app = useTestServer();

type Job = JobJson;
type JobItem = JobItemJson;

async function bulk(who: DemoKey, action: "close" | "reopen" | "transfer", body: unknown, key?: string) {
  const res = await fetch(`${app.url}/api/v2/bulk/${action}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${await tokenOf(app, who)}`,
      "content-type": "application/json",
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function finished(who: DemoKey, jobId: string): Promise<Job> {
  return finishedJob(app, await tokenOf(app, who), jobId);
}

/** The job's items by conversation id. */
function byConversation(job: Job): Map<string, JobItem> {
  return new Map(job.items.map((i) => [i.conversationId, i]));
}

async function jobsOf(actorId: string, kind: string): Promise<number> {
  const rows = await app.database.db
    .select({ id: s.jobs.id })
    .from(s.jobs)
    .where(and(eq(s.jobs.actorId, actorId), eq(s.jobs.kind, kind as "bulk_transfer")));
  return rows.length;
}

describe("bulk close", () => {
  it("[R8.5] [R8.3] answers per conversation: the follower's close; a collaborator's item refused with 協作者無法結束對話", async () => {
    const withCollaborator = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing] });
    const oneOnOne = await createConversation(app, { follower: ID.agent });
    const asCollaborator = await createConversation(app, { follower: ID.manager, collaborators: [ID.agent] });
    const alreadyClosed = await createConversation(app, { follower: ID.agent, status: "closed" });
    const foreign = await otherWorkspaceConversation(app);
    const before = await conversationRow(app, asCollaborator.id);
    // Cathy has the collaborative one open: a close ends her view (R8.2), as a single close does.
    const cathy = await connect(app, "marketing", withCollaborator.id);

    const ids = [withCollaborator.id, asCollaborator.id, oneOnOne.id, foreign.conversationId, withCollaborator.id, alreadyClosed.id];
    const r = await bulk("agent", "close", { conversationIds: ids });
    expect(r.status).toBe(202);
    expect(r.body.job).toMatchObject({ kind: "bulk_close", status: "running", total: 5, finishedAt: null });
    expect(Object.keys(r.body.job).sort()).toEqual(["createdAt", "finishedAt", "id", "kind", "processed", "status", "total"]);

    const job = await finished("agent", r.body.job.id);
    expect(job).toMatchObject({ status: "done", total: 5, processed: 5 });
    expect(job.finishedAt).not.toBeNull();
    // Repeated ids count once, in the order of their first appearance.
    expect(job.items.map((i) => i.conversationId)).toEqual([
      withCollaborator.id,
      asCollaborator.id,
      oneOnOne.id,
      foreign.conversationId,
      alreadyClosed.id,
    ]);
    const items = byConversation(job);
    expect(items.get(withCollaborator.id)).toEqual({ conversationId: withCollaborator.id, outcome: "ok" });
    expect(items.get(oneOnOne.id)).toEqual({ conversationId: oneOnOne.id, outcome: "ok" });
    // Dan is zh-TW: the refusal comes in his locale.
    expect(items.get(asCollaborator.id)).toEqual({
      conversationId: asCollaborator.id,
      outcome: "refused",
      code: "COLLABORATOR_CANNOT_CLOSE",
      message: "協作者無法結束對話",
    });
    // Another workspace's conversation is not found (nothing about it leaks).
    expect(items.get(foreign.conversationId)).toMatchObject({ outcome: "refused", code: "NOT_FOUND", message: "找不到資料" });
    expect(items.get(alreadyClosed.id)).toMatchObject({ outcome: "refused", code: "ALREADY_CLOSED" });

    // The refused one is left as it was.
    const untouched = await conversationRow(app, asCollaborator.id);
    expect([untouched.status, untouched.version]).toEqual(["in_progress", before.version]);
    expect((await eventRows(app, asCollaborator.id)).some((e) => e.kind === "closed")).toBe(false);

    // The closed ones: as a single close (R8.3): the log line, the collaborator's notice, her view closed.
    for (const id of [withCollaborator.id, oneOnOne.id]) expect((await conversationRow(app, id)).status).toBe("closed");
    await waitFor(() => cathy.closed !== null);
    expect(cathy.closed?.code).toBe(4103);
    const jess = await connect(app, "admin", withCollaborator.id, "team");
    expect((await logTexts(jess)).at(-1)).toBe("Dan 結束了對話");
    const notices = await api(app, await tokenOf(app, "marketing"), "/api/v2/notifications?limit=100");
    const closedBy = (notices.body.items as { conversationId: string; kind: string; text: string }[]).filter(
      (n) => n.conversationId === withCollaborator.id,
    );
    expect(closedBy.map((n) => [n.kind, n.text])).toEqual([["closed_by", "Dan 已將對話結束"]]);
  });

  it("a job is read by its actor or an admin only; an English caller reads refusals in English", async () => {
    const asCollaborator = await createConversation(app, { follower: ID.manager, collaborators: [ID.agent2] });
    const r = await bulk("agent2", "close", { conversationIds: [asCollaborator.id] });
    expect(r.status).toBe(202);
    const job = await finished("agent2", r.body.job.id);
    expect(job.items).toEqual([
      {
        conversationId: asCollaborator.id,
        outcome: "refused",
        code: "COLLABORATOR_CANNOT_CLOSE",
        message: "Collaborators cannot close the conversation",
      },
    ]);
    const byAdmin = await api(app, await tokenOf(app, "admin"), `/api/v2/jobs/${job.id}`);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.job.items[0].message).toBe("協作者無法結束對話");
    for (const who of ["agent", "supervisor"] as const) {
      const other = await api(app, await tokenOf(app, who), `/api/v2/jobs/${job.id}`);
      expect([who, other.status, other.body.code]).toEqual([who, 404, "NOT_FOUND"]);
      const progress = await api(app, await tokenOf(app, who), `/api/v2/jobs/${job.id}?items=none`);
      expect([who, progress.status, progress.body.code]).toEqual([who, 404, "NOT_FOUND"]);
    }
  });

  it("?items=none answers the job's progress without its items; items=all is the default; another value is 400", async () => {
    const conversations = [await createConversation(app, { follower: ID.agent }), await createConversation(app, { follower: ID.agent })];
    const r = await bulk("agent", "close", { conversationIds: conversations.map((c) => c.id) });
    const job = await finished("agent", r.body.job.id);
    const token = await tokenOf(app, "agent");
    const progress = await api(app, token, `/api/v2/jobs/${job.id}?items=none`);
    expect(progress.status).toBe(200);
    const { items, ...summary } = job;
    expect(items).toHaveLength(2);
    expect(progress.body).toEqual({ job: summary });
    expect((await api(app, token, `/api/v2/jobs/${job.id}?items=all`)).body).toEqual({ job });
    const bad = await api(app, token, `/api/v2/jobs/${job.id}?items=some`);
    expect([bad.status, bad.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
  });
});

describe("bulk reopen", () => {
  it("[R9.3] a TEAM_VIEWER reopens from the team view and does not become a participant", async () => {
    const oneOnOne = await createConversation(app, { follower: ID.agent, status: "closed" });
    const collaborative = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing], status: "closed" });
    const r = await bulk("supervisor", "reopen", { conversationIds: [oneOnOne.id, collaborative.id], view: "team" });
    expect(r.status).toBe(202);
    const job = await finished("supervisor", r.body.job.id);
    expect(job.items.map((i) => i.outcome)).toEqual(["ok", "ok"]);
    const a = await conversationRow(app, oneOnOne.id);
    const b = await conversationRow(app, collaborative.id);
    expect([a.status, a.followerId, a.collaboratorIds]).toEqual(["in_progress", ID.agent, []]);
    expect([b.status, b.followerId, b.collaboratorIds]).toEqual(["in_progress", ID.agent, [ID.marketing]]);
    const dan = await connect(app, "agent", collaborative.id);
    expect((await logTexts(dan)).at(-1)).toBe("Amy 重啟了對話");
  });

  it("[R9.3] [R9.1] a non-TEAM_VIEWER who is not a participant is refused per item; from `team` not at all", async () => {
    const notHis = await createConversation(app, { follower: ID.agent, status: "closed" });
    const his = await createConversation(app, { follower: ID.manager, collaborators: [ID.agent3], status: "closed" });
    const before = await conversationRow(app, notHis.id);
    const r = await bulk("agent3", "reopen", { conversationIds: [notHis.id, his.id] });
    expect(r.status).toBe(202);
    const job = await finished("agent3", r.body.job.id);
    expect(job.items).toEqual([
      { conversationId: notHis.id, outcome: "refused", code: "VIEW_NOT_ALLOWED", message: "You may not open this conversation" },
      { conversationId: his.id, outcome: "ok" },
    ]);
    const after = await conversationRow(app, notHis.id);
    expect([after.status, after.version]).toEqual(["closed", before.version]);
    // R9.2: a collaborator's reopen leaves the follower as it was.
    const reopened = await conversationRow(app, his.id);
    expect([reopened.status, reopened.followerId, reopened.collaboratorIds]).toEqual(["in_progress", ID.manager, [ID.agent3]]);

    const team = await bulk("agent3", "reopen", { conversationIds: [notHis.id], view: "team" });
    expect([team.status, team.body.code]).toEqual([403, "VIEW_NOT_ALLOWED"]);
    expect((await conversationRow(app, notHis.id)).status).toBe("closed");
  });
});

describe("bulk transfer", () => {
  it("[R7.5] a selection holding a collaborative or a group conversation is refused whole: nothing transferred, no job", async () => {
    const plain = await createConversation(app, { follower: ID.agent });
    const collaborative = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing] });
    const group = await createConversation(app, { follower: ID.agent, kind: "group", channel: "whatsapp" });
    const ids = [plain.id, collaborative.id, group.id];
    const versions = await Promise.all(ids.map(async (id) => (await conversationRow(app, id)).version));
    const jobsBefore = await jobsOf(ID.agent, "bulk_transfer");

    for (const selection of [[plain.id, collaborative.id], [plain.id, group.id], ids]) {
      const r = await bulk("agent", "transfer", { conversationIds: selection, memberId: ID.agent2 });
      expect(r.status).toBe(409);
      expect(r.body.code).toBe("BULK_TRANSFER_COLLABORATIVE");
      expect(r.body.message).toBe("協作對話、群組對話無法批量移轉");
    }
    expect(await Promise.all(ids.map(async (id) => (await conversationRow(app, id)).version))).toEqual(versions);
    expect((await conversationRow(app, plain.id)).followerId).toBe(ID.agent);
    expect(await jobsOf(ID.agent, "bulk_transfer")).toBe(jobsBefore);
  });

  it("[R7.5] [R7.3] [R7.4] a selection of 1-on-1 conversations transfers as single transfers do", async () => {
    const a = await createConversation(app, { follower: ID.agent });
    const b = await createConversation(app, { follower: ID.agent });
    const r = await bulk("agent", "transfer", { conversationIds: [a.id, b.id], memberId: ID.agent2 });
    expect(r.status).toBe(202);
    const job = await finished("agent", r.body.job.id);
    expect(job.items.map((i) => i.outcome)).toEqual(["ok", "ok"]);
    for (const c of [a, b]) {
      const row = await conversationRow(app, c.id);
      expect([row.followerId, row.collaboratorIds]).toEqual([ID.agent2, []]);
    }
    const eve = await connect(app, "agent2", a.id);
    expect((await logTexts(eve)).at(-1)).toBe("Dan transferred the conversation to Eve");
    const notices = await api(app, await tokenOf(app, "agent2"), "/api/v2/notifications?limit=100");
    const told = (notices.body.items as { conversationId: string; kind: string }[]).filter((n) => [a.id, b.id].includes(n.conversationId));
    expect(told.map((n) => n.kind)).toEqual(["transferred_to_you", "transferred_to_you"]);
  });

  it("[R7.5] a resumed job sends an applied item again: the room's lane answers duplicate (its one request-id check), though the transfer took the actor's access", async () => {
    const a = await createConversation(app, { follower: ID.agent });
    const r = await bulk("agent", "transfer", { conversationIds: [a.id], memberId: ID.agent2 });
    expect(r.status).toBe(202);
    const first = await finished("agent", r.body.job.id);
    expect(first.items.map((i) => i.outcome)).toEqual(["ok"]);
    const version = (await conversationRow(app, a.id)).version;
    // As if the process had died after the room applied the item but before its outcome was written.
    await app.database.db.update(s.jobItems).set({ outcome: null, code: null, finishedAt: null }).where(eq(s.jobItems.jobId, first.id));
    await app.database.db
      .update(s.jobs)
      .set({ status: "running", processed: 0, finishedAt: null, leaseUntil: null })
      .where(eq(s.jobs.id, first.id));
    app.jobs.kick();
    const again = await finished("agent", first.id);
    expect(again.items.map((i) => [i.outcome, i.code ?? null])).toEqual([["duplicate", null]]);
    const row = await conversationRow(app, a.id);
    expect([row.version, row.followerId]).toEqual([version, ID.agent2]);
  });

  it("an unknown or inactive target is refused before any job", async () => {
    const a = await createConversation(app, { follower: ID.agent });
    const unknown = await bulk("agent", "transfer", { conversationIds: [a.id], memberId: "nobody-here" });
    expect([unknown.status, unknown.body.code, unknown.body.detail]).toEqual([409, "TARGET_NOT_FOUND", { memberId: "nobody-here" }]);
    expect((await conversationRow(app, a.id)).followerId).toBe(ID.agent);
  });
});

describe("Idempotency-Key", () => {
  it("a retried bulk call returns the same job and applies once; the same key with another body is 422", async () => {
    const a = await createConversation(app, { follower: ID.agent });
    const b = await createConversation(app, { follower: ID.agent });
    const versions = await Promise.all([a, b].map(async (c) => (await conversationRow(app, c.id)).version));
    const key = `close-${randomUUID()}`;
    const body = { conversationIds: [a.id, b.id] };

    // Two at once (a client retrying before the first answer), then one after the job is done.
    const [first, concurrent] = await Promise.all([bulk("agent", "close", body, key), bulk("agent", "close", body, key)]);
    expect([first.status, concurrent.status]).toEqual([202, 202]);
    expect(concurrent.body.job.id).toBe(first.body.job.id);
    const job = await finished("agent", first.body.job.id);
    expect(job.items.map((i) => i.outcome)).toEqual(["ok", "ok"]);
    const retry = await bulk("agent", "close", body, key);
    expect(retry.status).toBe(202);
    expect(retry.body.job).toMatchObject({ id: job.id, status: "done", processed: 2 });

    // Moved once: one close each and, with the demo workspace's csatOnClose, one survey message each
    // (R8.2), which the survey worker sends in the background: waited for, then counted exactly.
    const surveys = () =>
      Promise.all(
        [a, b].map(async (c) => (await messageRows(app, c.id)).filter((m) => m.sender === "auto" && m.senderId === "csat").length),
      );
    let sent = await surveys();
    for (const deadline = Date.now() + 20_000; sent.some((n) => n < 1) && Date.now() < deadline; sent = await surveys()) {
      await app.csat.drainAll();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sent).toEqual([1, 1]);
    expect(await Promise.all([a, b].map(async (c) => (await conversationRow(app, c.id)).version))).toEqual(versions.map((v) => v + 2));
    expect(await surveys()).toEqual([1, 1]);
    for (const c of [a, b]) expect((await eventRows(app, c.id)).filter((e) => e.kind === "closed")).toHaveLength(1);
    const rows = await app.database.db
      .select({ id: s.jobs.id })
      .from(s.jobs)
      .where(and(eq(s.jobs.actorId, ID.agent), eq(s.jobs.idempotencyKey, key)));
    expect(rows).toHaveLength(1);

    for (const other of [{ conversationIds: [a.id] }, { conversationIds: [b.id, a.id] }]) {
      const r = await bulk("agent", "close", other, key);
      expect([r.status, r.body.code]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"]);
    }
    // Another action under the same key is another request too.
    const reopen = await bulk("agent", "reopen", body, key);
    expect([reopen.status, reopen.body.code]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"]);
    // Keys are the caller's own: another member's same key is another job.
    const c = await createConversation(app, { follower: ID.agent2 });
    const eve = await bulk("agent2", "close", { conversationIds: [c.id] }, key);
    expect(eve.status).toBe(202);
    expect(eve.body.job.id).not.toBe(job.id);
  });

  it("a key longer than 200 characters is refused", async () => {
    const a = await createConversation(app, { follower: ID.agent });
    const r = await bulk("agent", "close", { conversationIds: [a.id] }, "k".repeat(201));
    expect([r.status, r.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
    expect((await conversationRow(app, a.id)).status).toBe("in_progress");
  });
});
