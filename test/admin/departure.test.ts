import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Topic } from "../../rooms/topics.ts";
import {
  type Fixture,
  ID,
  WORKSPACE,
  api,
  connect,
  conversationRow,
  createConversation,
  eventRows,
  finishedJob,
  logTexts,
  tokenOf,
  waitFor,
} from "../rooms/helpers.ts";
import { open, sdk, useTestServer } from "../support/server.ts";

/** SPEC §14 through the admin routes: deactivating or deleting a member (R14.1–R14.5). */
const app = useTestServer();

async function admin(method: string, path: string, body?: unknown) {
  return api(app, await tokenOf(app, "admin"), path, { method, body });
}

/** A new member with a password, signed in: their tokens and id. */
async function newMember(name: string) {
  const email = `${name.toLowerCase()}-${randomUUID().slice(0, 8)}@demo.test`;
  const created = await admin("POST", "/api/v2/members", { name, email, role: "agent", password: "a-long-password-42" });
  expect(created.status).toBe(201);
  const res = await fetch(`${app.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "a-long-password-42" }),
  });
  const tokens = (await res.json()) as { accessToken: string; refreshToken: string };
  return { id: created.body.id as string, name, email, ...tokens };
}

async function finished(jobId: string) {
  return finishedJob(app, await tokenOf(app, "admin"), jobId);
}

async function shape(c: Fixture) {
  const row = await conversationRow(app, c.id);
  return { status: row.status, followerId: row.followerId, collaboratorIds: row.collaboratorIds, collaborative: row.collaborative };
}

/** The departure lines of the status log (R14.2), in zh-TW as Jess reads them. */
async function departureLines(c: Fixture): Promise<string[]> {
  const jess = await connect(app, "admin", c.id, "team");
  const lines = (await logTexts(jess)).filter((t) => t.includes("(停用者)"));
  await jess.leave();
  return lines;
}

describe("deactivating a member (SPEC §14)", () => {
  it("[R14.1] [R14.2] [R14.3] [R14.4] [R14.5] takes them out of every conversation; their tokens and connections end at once (4104)", async () => {
    const x = await newMember("Xavier");
    const leadsTwo = await createConversation(app, { follower: x.id, collaborators: [ID.supervisor, ID.manager] });
    const leadsOne = await createConversation(app, { follower: x.id, collaborators: [ID.manager] });
    const leadsAlone = await createConversation(app, { follower: x.id });
    const helpsWithOther = await createConversation(app, { follower: ID.agent, collaborators: [x.id, ID.agent2] });
    const helpsAlone = await createConversation(app, { follower: ID.agent, collaborators: [x.id] });
    const group = await createConversation(app, { follower: ID.supervisor, collaborators: [x.id], kind: "group", channel: "whatsapp" });
    const closedLead = await createConversation(app, { follower: x.id, collaborators: [ID.agent3], status: "closed" });
    const notHis = await createConversation(app, { follower: ID.agent, collaborators: [ID.agent2] });

    // R14.5: the collaborator order is the list order, not the order of joining. Amy joins first;
    // then Eve, the follower, adds Xavier and transfers to him: Eve is put first (R7.2).
    const ordered = await createConversation(app, { follower: ID.agent2, collaborators: [ID.supervisor] });
    const eve = await connect(app, "agent2", ordered.id);
    expect((await eve.act("add_collaborators", { memberIds: [x.id] })).ok).toBe(true);
    expect((await eve.act("transfer", { memberId: x.id })).ok).toBe(true);
    expect((await shape(ordered)).collaboratorIds).toEqual([ID.agent2, ID.supervisor]);
    const versions = new Map<string, number>();
    for (const c of [leadsTwo, leadsOne, leadsAlone, helpsWithOther, helpsAlone, group, closedLead, ordered, notHis]) {
      versions.set(c.id, (await conversationRow(app, c.id)).version);
    }

    // Xavier is connected: a conversation from `mine` and his inbox.
    const xConn = await open(app, x.accessToken, helpsWithOther.id);
    const xInbox = await sdk(app, x.accessToken).joinOrCreate("inbox", { memberId: x.id });
    let inboxClosed = 0;
    xInbox.onLeave((code: number) => {
      inboxClosed = code;
    });
    const team: any[] = [];
    const onTeam = (e: unknown) => team.push(e);
    await app.presence.subscribe(Topic.team(WORKSPACE), onTeam);

    const r = await admin("POST", `/api/v2/members/${x.id}/deactivate`);
    expect(r.status).toBe(202);
    expect(r.body.job).toMatchObject({ kind: "member_deactivate", total: 8 });

    // At once: connections closed with 4104, the access token refused, the refresh token revoked.
    await waitFor(() => xConn.closed !== null && inboxClosed !== 0);
    expect([xConn.closed?.code, inboxClosed]).toEqual([4104, 4104]);
    const me = await api(app, x.accessToken, "/api/v2/me");
    expect([me.status, me.body.code]).toEqual([403, "MEMBER_INACTIVE"]);
    const refreshed = await fetch(`${app.url}/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: x.refreshToken }),
    });
    expect(refreshed.status).toBe(401);
    await expect(open(app, x.accessToken, helpsAlone.id)).rejects.toMatchObject({ code: 401 });
    await waitFor(() => team.some((e) => e.type === "member" && e.memberId === x.id));
    await app.presence.unsubscribe(Topic.team(WORKSPACE), onTeam);

    const job = await finished(r.body.job.id);
    expect(job).toMatchObject({ status: "done", total: 8, processed: 8 });
    expect(job.items.map((i) => i.outcome)).toEqual(Array(8).fill("ok"));
    expect(new Set(job.items.map((i) => i.conversationId))).toEqual(
      new Set([leadsTwo, leadsOne, leadsAlone, helpsWithOther, helpsAlone, group, closedLead, ordered].map((c) => c.id)),
    );

    // R14.4: the first collaborator in order follows; the rest stay, in order.
    expect(await shape(leadsTwo)).toEqual({ status: "in_progress", followerId: ID.supervisor, collaboratorIds: [ID.manager], collaborative: true });
    // R14.4 + R14.3: the only collaborator follows; 1-on-1 again.
    expect(await shape(leadsOne)).toEqual({ status: "in_progress", followerId: ID.manager, collaboratorIds: [], collaborative: false });
    // R14.4, last clause: a departed follower of a 1-on-1 conversation: back to pending, no follower.
    expect(await shape(leadsAlone)).toEqual({ status: "pending", followerId: null, collaboratorIds: [], collaborative: false });
    // R14.1: removed from the collaborators.
    expect(await shape(helpsWithOther)).toEqual({ status: "in_progress", followerId: ID.agent, collaboratorIds: [ID.agent2], collaborative: true });
    // R14.3: no collaborator left: 1-on-1.
    expect(await shape(helpsAlone)).toEqual({ status: "in_progress", followerId: ID.agent, collaboratorIds: [], collaborative: false });
    expect(await shape(group)).toEqual({ status: "in_progress", followerId: ID.supervisor, collaboratorIds: [], collaborative: false });
    // Closed stays closed; the collaborator follows.
    expect(await shape(closedLead)).toEqual({ status: "closed", followerId: ID.agent3, collaboratorIds: [], collaborative: false });
    // R14.5: Eve (first in order), not Amy (the earliest to join).
    expect(await shape(ordered)).toEqual({ status: "in_progress", followerId: ID.agent2, collaboratorIds: [ID.supervisor], collaborative: true });

    // R14.2: one log line in each conversation that was collaborative; none in the 1-on-1 one.
    for (const c of [leadsTwo, leadsOne, helpsWithOther, helpsAlone, group, closedLead, ordered]) {
      expect([c.id, await departureLines(c)]).toEqual([c.id, ["Jess (停用者) 將 Xavier 退出協作對話"]]);
    }
    expect((await eventRows(app, leadsAlone.id)).filter((e) => e.kind === "member_departed")).toEqual([]);
    // Each changed once; a conversation he was not in, not at all.
    for (const [id, v] of versions) expect([id, (await conversationRow(app, id)).version]).toEqual([id, id === notHis.id ? v : v + 1]);

    // The live room shows it: Dan, still connected, sees Xavier gone.
    const dan = await connect(app, "agent", helpsWithOther.id);
    expect(dan.state.collaborators.map((m: { id: string }) => m.id)).toEqual([ID.agent2]);
  });

  it("[R14.1] an item whose conversation no longer has the member is skipped", async () => {
    const z = await newMember("Zoe");
    const removedMeanwhile = await createConversation(app, { follower: ID.agent, collaborators: [z.id] });
    const still = await createConversation(app, { follower: ID.agent, collaborators: [z.id, ID.agent3] });
    // Hold the runner so the job waits; meanwhile Dan removes Zoe from one of them.
    await app.jobs.stop();
    let jobId = "";
    try {
      const r = await admin("POST", `/api/v2/members/${z.id}/deactivate`);
      expect(r.body.job).toMatchObject({ total: 2, processed: 0, status: "running" });
      jobId = r.body.job.id;
      const dan = await connect(app, "agent", removedMeanwhile.id);
      expect((await dan.act("remove_collaborators", { memberIds: [z.id] })).ok).toBe(true);
    } finally {
      app.jobs.start();
    }
    const job = await finished(jobId);
    expect(job.items.map((i) => [i.conversationId, i.outcome])).toEqual([
      [removedMeanwhile.id, "skipped"],
      [still.id, "ok"],
    ]);
    expect((await eventRows(app, removedMeanwhile.id)).filter((e) => e.kind === "member_departed")).toEqual([]);
    expect((await shape(still)).collaboratorIds).toEqual([ID.agent3]);
  });
});

describe("deleting a member (SPEC §14)", () => {
  it("[R14.1] [R14.2] [R14.4] deletes: the same departures, and the member can never come back", async () => {
    const y = await newMember("Yuri");
    const leads = await createConversation(app, { follower: y.id, collaborators: [ID.marketing, ID.agent3] });
    const helps = await createConversation(app, { follower: ID.agent, collaborators: [y.id] });
    const alone = await createConversation(app, { follower: y.id });
    const yConn = await open(app, y.accessToken, leads.id);

    const r = await admin("DELETE", `/api/v2/members/${y.id}`);
    expect(r.status).toBe(202);
    expect(r.body.job).toMatchObject({ kind: "member_delete", total: 3 });
    await waitFor(() => yConn.closed !== null);
    expect(yConn.closed?.code).toBe(4104);
    const job = await finished(r.body.job.id);
    expect(job.items.map((i) => i.outcome)).toEqual(["ok", "ok", "ok"]);

    expect(await shape(leads)).toEqual({ status: "in_progress", followerId: ID.marketing, collaboratorIds: [ID.agent3], collaborative: true });
    expect(await shape(helps)).toEqual({ status: "in_progress", followerId: ID.agent, collaboratorIds: [], collaborative: false });
    expect(await shape(alone)).toEqual({ status: "pending", followerId: null, collaboratorIds: [], collaborative: false });
    expect(await departureLines(leads)).toEqual(["Jess (停用者) 將 Yuri 退出協作對話"]);
    expect(await departureLines(helps)).toEqual(["Jess (停用者) 將 Yuri 退出協作對話"]);

    const back = await admin("POST", `/api/v2/members/${y.id}/reactivate`);
    expect([back.status, back.body.code]).toEqual([409, "MEMBER_DELETED"]);
    const me = await api(app, y.accessToken, "/api/v2/me");
    expect(me.body.code).toBe("MEMBER_INACTIVE");
  });
});
