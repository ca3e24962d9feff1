import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { sdk, useTestServer } from "../support/server.ts";
import { type DemoKey, ID, WORKSPACE, api, createConversation, createMember, tokenOf } from "../rooms/helpers.ts";
import { otherWorkspaceConversation } from "./fixtures.ts";

/**
 * The route × role matrix of the rules, against the contract in docs (common notes). Routes other
 * helpers are still building are looked up in the served OpenAPI document: a case whose route is
 * not served yet is skipped with a note, and runs as soon as the route exists.
 */
const app = useTestServer();
let doc: any;
beforeAll(async () => {
  doc = await (await app.http.request("/openapi.json")).json();
});

const TEAM_VIEWERS: DemoKey[] = ["admin", "supervisor", "manager"];
const NOT_TEAM_VIEWERS: DemoKey[] = ["marketing", "agent"];
const NOT_ADMINS: DemoKey[] = ["supervisor", "manager", "marketing", "agent"];

/** The route under test must be in the served document (a route that disappeared fails the test). */
function needs(_ctx: unknown, method: string, path: string): void {
  expect(doc.paths?.[path]?.[method.toLowerCase()], `${method} ${path} in /openapi.json`).toBeTruthy();
}

async function call(who: DemoKey | string, method: string, path: string, body?: unknown) {
  return api(app, await tokenOf(app, who), path, { method, body });
}

/** A member's status as stored. */
async function statusOf(memberId: string): Promise<string | undefined> {
  return (await app.database.db.select({ status: s.members.status }).from(s.members).where(eq(s.members.id, memberId)))[0]?.status;
}

describe("team lists: TEAM_VIEWERS only", () => {
  it("GET /api/v2/conversations?view=team: admin, supervisor, cs_manager 200; marketing_cs, agent 403 VIEW_NOT_ALLOWED", async (ctx) => {
    needs(ctx, "GET", "/api/v2/conversations");
    for (const who of TEAM_VIEWERS) {
      const r = await call(who, "GET", "/api/v2/conversations?view=team");
      expect([who, r.status]).toEqual([who, 200]);
      expect(Array.isArray(r.body.items)).toBe(true);
    }
    for (const who of NOT_TEAM_VIEWERS) {
      const r = await call(who, "GET", "/api/v2/conversations?view=team");
      expect([who, r.status, r.body.code]).toEqual([who, 403, "VIEW_NOT_ALLOWED"]);
      // Their own view stays open to them.
      expect([who, (await call(who, "GET", "/api/v2/conversations?view=mine")).status]).toEqual([who, 200]);
    }
  });

  it("GET /api/v2/conversations/counts: team counts for TEAM_VIEWERS, null for the others", async (ctx) => {
    needs(ctx, "GET", "/api/v2/conversations/counts");
    for (const who of TEAM_VIEWERS) {
      const r = await call(who, "GET", "/api/v2/conversations/counts");
      expect([who, r.status, r.body.team === null]).toEqual([who, 200, false]);
    }
    for (const who of NOT_TEAM_VIEWERS) {
      const r = await call(who, "GET", "/api/v2/conversations/counts");
      expect([who, r.status, r.body.team]).toEqual([who, 200, null]);
      expect(r.body.mine).toBeTruthy();
    }
  });
});

describe("member administration: admin only (others 403 ROLE_NOT_ALLOWED)", () => {
  const refusedToOthers = async (method: string, path: string, body?: unknown) => {
    for (const who of NOT_ADMINS) {
      const r = await call(who, method, path, body);
      expect([who, method, path, r.status, r.body.code]).toEqual([who, method, path, 403, "ROLE_NOT_ALLOWED"]);
    }
  };

  it("GET /api/v2/members", async (ctx) => {
    needs(ctx, "GET", "/api/v2/members");
    await refusedToOthers("GET", "/api/v2/members");
    expect((await call("admin", "GET", "/api/v2/members")).status).toBe(200);
  });

  it("POST /api/v2/members", async (ctx) => {
    needs(ctx, "POST", "/api/v2/members");
    const body = () => ({ name: "New One", email: `new-${randomUUID().slice(0, 8)}@demo.test`, role: "agent", password: "a-long-password-42" });
    const tried = body();
    await refusedToOthers("POST", "/api/v2/members", tried);
    const created = (await app.database.db.select().from(s.members).where(eq(s.members.email, tried.email))).length;
    expect(created).toBe(0);
    expect((await call("admin", "POST", "/api/v2/members", body())).status).toBe(201);
  });

  it("PATCH /api/v2/members/{id}", async (ctx) => {
    needs(ctx, "PATCH", "/api/v2/members/{id}");
    const target = await createMember(app, { name: "Patch Target" });
    await refusedToOthers("PATCH", `/api/v2/members/${target.id}`, { name: "Renamed by someone" });
    const row = (await app.database.db.select().from(s.members).where(eq(s.members.id, target.id)))[0];
    expect(row?.name).toBe("Patch Target");
    expect((await call("admin", "PATCH", `/api/v2/members/${target.id}`, { name: "Renamed" })).status).toBe(200);
  });

  it("POST /api/v2/members/{id}/deactivate", async (ctx) => {
    needs(ctx, "POST", "/api/v2/members/{id}/deactivate");
    const target = await createMember(app);
    await refusedToOthers("POST", `/api/v2/members/${target.id}/deactivate`);
    expect(await statusOf(target.id)).toBe("active");
    expect((await call("admin", "POST", `/api/v2/members/${target.id}/deactivate`)).status).toBe(202);
  });

  it("DELETE /api/v2/members/{id}", async (ctx) => {
    needs(ctx, "DELETE", "/api/v2/members/{id}");
    const target = await createMember(app);
    await refusedToOthers("DELETE", `/api/v2/members/${target.id}`);
    expect(await statusOf(target.id)).toBe("active");
    expect((await call("admin", "DELETE", `/api/v2/members/${target.id}`)).status).toBe(202);
  });

  it("POST /api/v2/members/{id}/reactivate", async (ctx) => {
    needs(ctx, "POST", "/api/v2/members/{id}/reactivate");
    const target = await createMember(app);
    await app.database.db.update(s.members).set({ status: "deactivated" }).where(eq(s.members.id, target.id));
    await refusedToOthers("POST", `/api/v2/members/${target.id}/reactivate`);
    expect(await statusOf(target.id)).toBe("deactivated");
    const r = await call("admin", "POST", `/api/v2/members/${target.id}/reactivate`);
    expect(r.status).toBe(200);
    expect(await statusOf(target.id)).toBe("active");
  });
});

describe("jobs: read by their actor or an admin (others 404)", () => {
  it("GET /api/v2/jobs/{id}", async (ctx) => {
    needs(ctx, "GET", "/api/v2/jobs/{id}");
    // A finished job of the supervisor's, written straight to storage (the runner leaves done jobs alone).
    const c = await createConversation(app, { follower: ID.supervisor });
    const jobId = `job-${randomUUID()}`;
    const now = new Date();
    await app.database.db.insert(s.jobs).values({
      id: jobId,
      workspaceId: WORKSPACE,
      actorId: ID.supervisor,
      kind: "bulk_close",
      input: { conversationIds: [c.id] },
      status: "done",
      total: 1,
      processed: 1,
      finishedAt: now,
    });
    await app.database.db.insert(s.jobItems).values({ jobId, idx: 0, conversationId: c.id, outcome: "ok", finishedAt: now });
    for (const who of ["supervisor", "admin"] as const) {
      const r = await call(who, "GET", `/api/v2/jobs/${jobId}`);
      expect([who, r.status, r.body.job?.id]).toEqual([who, 200, jobId]);
    }
    for (const who of ["manager", "marketing", "agent"] as const) {
      const r = await call(who, "GET", `/api/v2/jobs/${jobId}`);
      expect([who, r.status, r.body.code]).toEqual([who, 404, "NOT_FOUND"]);
    }
  });
});

describe("candidates: participants and TEAM_VIEWERS only", () => {
  it("[R2.3] GET /api/v2/conversations/{id}/candidates by role and participation", async (ctx) => {
    needs(ctx, "GET", "/api/v2/conversations/{id}/candidates");
    const marketing2 = await createMember(app, { role: "marketing_cs" });
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing] });
    const path = `/api/v2/conversations/${c.id}/candidates`;
    for (const who of ["agent", "marketing", "admin", "supervisor", "manager"]) {
      expect([who, (await call(who, "GET", path)).status]).toEqual([who, 200]);
    }
    for (const who of ["agent2", marketing2.id]) {
      const r = await call(who, "GET", path);
      expect([who, r.status, r.body.code]).toEqual([who, 403, "VIEW_NOT_ALLOWED"]);
    }
    const foreign = await otherWorkspaceConversation(app);
    const r = await call("admin", "GET", `/api/v2/conversations/${foreign.conversationId}/candidates`);
    expect([r.status, r.body.code]).toEqual([404, "NOT_FOUND"]);
  });
});

describe("legacy open: participants and TEAM_VIEWERS only", () => {
  it("[R15.2] GET /api/v1/conversations/{id} by role and participation", async (ctx) => {
    needs(ctx, "GET", "/api/v1/conversations/{id}");
    const plain = await createConversation(app, { follower: ID.agent });
    for (const who of ["agent", "admin", "supervisor", "manager"]) {
      expect([who, (await call(who, "GET", `/api/v1/conversations/${plain.id}`)).status]).toEqual([who, 200]);
    }
    for (const who of ["agent2", "marketing"]) {
      const r = await call(who, "GET", `/api/v1/conversations/${plain.id}`);
      expect([who, r.status, r.body.code]).toEqual([who, 403, "VIEW_NOT_ALLOWED"]);
    }
    // A collaborative one: those who may open it learn it is collaborative; the others are refused as before.
    const collab = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing] });
    for (const who of ["agent", "marketing", "admin"]) {
      const r = await call(who, "GET", `/api/v1/conversations/${collab.id}`);
      expect([who, r.status, r.body.code]).toEqual([who, 409, "LEGACY_COLLABORATIVE"]);
    }
    const r = await call("agent3", "GET", `/api/v1/conversations/${collab.id}`);
    expect([r.status, r.body.code]).toEqual([403, "VIEW_NOT_ALLOWED"]);
  });
});

describe("the team room: TEAM_VIEWERS only", () => {
  /** The SDK's rejection of a join; a join that is accepted or hangs fails the test. */
  async function refusal(join: Promise<{ leave(): Promise<unknown> }>): Promise<{ code?: number; message?: string }> {
    const outcome = await Promise.race([
      join.then(
        (room) => ({ kind: "joined" as const, room }),
        (err: unknown) => ({ kind: "refused" as const, err: err as { code?: number; message?: string } }),
      ),
      new Promise<{ kind: "hung" }>((r) => setTimeout(() => r({ kind: "hung" }), 5000)),
    ]);
    if (outcome.kind === "joined") {
      await outcome.room.leave().catch(() => {});
      throw new Error("the join was accepted");
    }
    if (outcome.kind === "hung") throw new Error("the join was neither accepted nor refused within 5 s");
    return outcome.err;
  }

  it("joining `team` { workspaceId }: admin, supervisor, cs_manager join; marketing_cs and agent are refused with 403", async () => {
    for (const who of TEAM_VIEWERS) {
      const room = await sdk(app, await tokenOf(app, who)).joinOrCreate("team", { workspaceId: WORKSPACE });
      expect(room.roomId).toBeTruthy();
      await room.leave();
    }
    for (const who of NOT_TEAM_VIEWERS) {
      const err = await refusal(sdk(app, await tokenOf(app, who)).joinOrCreate("team", { workspaceId: WORKSPACE }));
      expect([who, err.code, err.message?.split(":")[0]]).toEqual([who, 403, "VIEW_NOT_ALLOWED"]);
    }
    // Another workspace's team room is not an admin's of this one.
    const other = await otherWorkspaceConversation(app);
    const err = await refusal(sdk(app, await tokenOf(app, "admin")).joinOrCreate("team", { workspaceId: other.workspaceId }));
    expect([403, 404]).toContain(err.code);
  });
});
