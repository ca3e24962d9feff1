import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Topic } from "../../rooms/topics.ts";
import { otherWorkspaceConversation } from "../http/fixtures.ts";
import { type DemoKey, ID, WORKSPACE, api, createConversation, tokenOf } from "../rooms/helpers.ts";
import { open, useTestServer, waitFor } from "../support/server.ts";

/** Member administration through `/api/v2/members` (admin only). */
const app = useTestServer();

interface Member {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  role: string;
  status: string;
  locale: string;
  createdAt: string;
  updatedAt: string;
}

async function call(who: DemoKey | string, method: string, path: string, body?: unknown) {
  return api(app, await tokenOf(app, who), path, { method, body });
}

async function signIn(email: string, password: string) {
  const res = await fetch(`${app.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

function newMemberBody(over: Record<string, unknown> = {}) {
  const key = randomUUID().slice(0, 8);
  return { name: `New ${key}`, email: `new-${key}@demo.test`, role: "agent", password: "a-long-password-42", ...over };
}

/** Collects what is published on a presence topic while the test runs. */
async function listen(topic: string): Promise<unknown[]> {
  const seen: unknown[] = [];
  await app.presence.subscribe(topic, (m: unknown) => seen.push(m));
  return seen;
}

describe("members: admin only", () => {
  it("every route answers 403 ROLE_NOT_ALLOWED to non-admins, before looking at the request", async () => {
    const target = (await call("admin", "POST", "/api/v2/members", newMemberBody())).body as Member;
    const routes: [string, string, unknown?][] = [
      ["GET", "/api/v2/members"],
      ["GET", "/api/v2/members?status=bogus"],
      ["POST", "/api/v2/members", newMemberBody()],
      ["POST", "/api/v2/members", { name: 12 }],
      ["GET", `/api/v2/members/${target.id}`],
      ["PATCH", `/api/v2/members/${target.id}`, { name: "Nope" }],
      ["POST", `/api/v2/members/${target.id}/deactivate`],
      ["DELETE", `/api/v2/members/${target.id}`],
      ["POST", `/api/v2/members/${target.id}/reactivate`],
    ];
    for (const who of ["supervisor", "manager", "marketing", "agent"] as const) {
      for (const [method, path, body] of routes) {
        const r = await call(who, method, path, body);
        expect([who, method, path, r.status, r.body.code]).toEqual([who, method, path, 403, "ROLE_NOT_ALLOWED"]);
      }
    }
    const after = (await call("admin", "GET", `/api/v2/members/${target.id}`)).body as Member;
    expect([after.name, after.status]).toEqual([target.name, "active"]);
  });
});

describe("creating members", () => {
  it("creates an active member who can sign in; the email is stored in lower case and unique case-insensitively (EMAIL_TAKEN)", async () => {
    const team = await listen(Topic.team(WORKSPACE));
    const key = randomUUID().slice(0, 8);
    const body = newMemberBody({ name: "Grace", email: `Grace.${key}@Demo.Test`, phone: "+886911222333", role: "cs_manager", locale: "en" });
    const r = await call("admin", "POST", "/api/v2/members", body);
    expect(r.status).toBe(201);
    const m = r.body as Member;
    expect(m).toMatchObject({ name: "Grace", email: `grace.${key}@demo.test`, phone: "+886911222333", role: "cs_manager", status: "active", locale: "en" });
    expect(Object.keys(m).sort()).toEqual(["createdAt", "email", "id", "locale", "name", "phone", "role", "status", "updatedAt"]);
    await waitFor(() => team.some((e: any) => e.type === "member" && e.memberId === m.id));

    const login = await signIn(`GRACE.${key}@demo.test`, "a-long-password-42");
    expect(login.status).toBe(200);
    expect(login.body.member).toMatchObject({ id: m.id, role: "cs_manager", workspaceId: WORKSPACE });

    for (const email of [`grace.${key}@demo.test`, `GRACE.${key}@DEMO.TEST`, "Admin@Demo.Test"]) {
      const again = await call("admin", "POST", "/api/v2/members", newMemberBody({ email }));
      expect([email, again.status, again.body.code, again.body.message]).toEqual([email, 409, "EMAIL_TAKEN", "此電子郵件已被使用"]);
    }
    // Defaults: zh-TW, no phone.
    const plain = await call("admin", "POST", "/api/v2/members", newMemberBody());
    expect(plain.body).toMatchObject({ locale: "zh-TW", phone: null, status: "active" });
  });

  it("refuses bad bodies with 400 INVALID_PAYLOAD", async () => {
    for (const bad of [newMemberBody({ role: "owner" }), newMemberBody({ email: "not-an-email" }), newMemberBody({ password: "short" }), newMemberBody({ name: "" })]) {
      const r = await call("admin", "POST", "/api/v2/members", bad);
      expect([r.status, r.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
    }
  });
});

describe("listing members", () => {
  it("lists the admin's workspace only, by name, filtered by status, role and q", async () => {
    const foreign = await otherWorkspaceConversation(app);
    const all = await call("admin", "GET", "/api/v2/members");
    expect(all.status).toBe(200);
    const ids = (all.body.items as Member[]).map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(Object.values(ID)));
    expect(ids).not.toContain(foreign.memberId);
    const names = (all.body.items as Member[]).map((m) => m.name);
    expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    const managers = await call("admin", "GET", "/api/v2/members?role=cs_manager&q=ben");
    expect((managers.body.items as Member[]).map((m) => m.id)).toEqual([ID.manager]);
    const byPhone = await call("admin", "GET", "/api/v2/members?q=900000007");
    expect((byPhone.body.items as Member[]).map((m) => m.id)).toEqual([ID.agent3]);

    const off = (await call("admin", "POST", "/api/v2/members", newMemberBody({ name: "Zed Off" }))).body as Member;
    expect((await call("admin", "POST", `/api/v2/members/${off.id}/deactivate`)).status).toBe(202);
    const deactivated = await call("admin", "GET", "/api/v2/members?status=deactivated");
    expect((deactivated.body.items as Member[]).map((m) => m.id)).toContain(off.id);
    const active = await call("admin", "GET", "/api/v2/members?status=active");
    expect((active.body.items as Member[]).map((m) => m.id)).not.toContain(off.id);
  });
});

describe("changing members", () => {
  it("changes name, phone, role and locale; a role change applies to the member's next request and tells live rooms", async () => {
    const m = (await call("admin", "POST", "/api/v2/members", newMemberBody({ name: "Hank" }))).body as Member;
    const token = await tokenOf(app, m.id);
    const c = await createConversation(app, { follower: ID.agent });
    // An agent may not open a conversation from the team view …
    await expect(open(app, token, c.id, "team")).rejects.toMatchObject({ code: 403 });
    const team = await listen(Topic.team(WORKSPACE));
    const inbox = await listen(Topic.inbox(m.id));

    const r = await call("admin", "PATCH", `/api/v2/members/${m.id}`, { name: "Hank Hill", phone: "+886900123456", role: "supervisor", locale: "en" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: m.id, name: "Hank Hill", phone: "+886900123456", role: "supervisor", locale: "en", status: "active" });
    await waitFor(() => team.some((e: any) => e.type === "member" && e.memberId === m.id) && inbox.some((e: any) => e.type === "member"));

    // … as a supervisor, the same token may (rights are read per request, not from the token).
    const conn = await open(app, token, c.id, "team");
    expect(conn.state.id).toBe(c.id);
    await conn.leave();

    const cleared = await call("admin", "PATCH", `/api/v2/members/${m.id}`, { phone: null });
    expect(cleared.body.phone).toBeNull();
    const unknownKey = await call("admin", "PATCH", `/api/v2/members/${m.id}`, { status: "deleted" });
    expect([unknownKey.status, unknownKey.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
  });

  it("an admin may rename themselves but not change their own role (CANNOT_CHANGE_SELF); unknown and foreign members are 404", async () => {
    const self = await call("admin", "PATCH", `/api/v2/members/${ID.admin}`, { role: "agent" });
    expect([self.status, self.body.code, self.body.message]).toEqual([409, "CANNOT_CHANGE_SELF", "無法對自己執行此操作"]);
    const renamed = await call("admin", "PATCH", `/api/v2/members/${ID.admin}`, { name: "Jess", role: "admin" });
    expect([renamed.status, renamed.body.role]).toEqual([200, "admin"]);

    const foreign = await otherWorkspaceConversation(app);
    for (const id of ["no-such-member", foreign.memberId]) {
      for (const [method, path] of [
        ["GET", `/api/v2/members/${id}`],
        ["PATCH", `/api/v2/members/${id}`],
        ["POST", `/api/v2/members/${id}/deactivate`],
        ["DELETE", `/api/v2/members/${id}`],
        ["POST", `/api/v2/members/${id}/reactivate`],
      ] as const) {
        const r = await call("admin", method, path, method === "PATCH" ? { name: "X" } : undefined);
        expect([method, path, r.status, r.body.code]).toEqual([method, path, 404, "NOT_FOUND"]);
      }
    }
  });
});

describe("deactivating, deleting and reactivating", () => {
  it("an admin cannot deactivate, delete or reactivate themselves (CANNOT_CHANGE_SELF)", async () => {
    for (const [method, path] of [
      ["POST", `/api/v2/members/${ID.admin}/deactivate`],
      ["DELETE", `/api/v2/members/${ID.admin}`],
      ["POST", `/api/v2/members/${ID.admin}/reactivate`],
    ] as const) {
      const r = await call("admin", method, path);
      expect([method, r.status, r.body.code]).toEqual([method, 409, "CANNOT_CHANGE_SELF"]);
    }
    expect((await call("admin", "GET", "/api/v2/me")).status).toBe(200);
  });

  it("a reactivated member is active again and signs in anew (old tokens stay revoked)", async () => {
    const body = newMemberBody({ name: "Ivy" });
    const m = (await call("admin", "POST", "/api/v2/members", body)).body as Member;
    const before = await signIn(body.email, body.password);
    expect(before.status).toBe(200);

    const off = await call("admin", "POST", `/api/v2/members/${m.id}/deactivate`);
    expect(off.status).toBe(202);
    expect(off.body.job).toMatchObject({ kind: "member_deactivate", total: 0 });
    expect((await signIn(body.email, body.password)).status).toBe(403);

    const on = await call("admin", "POST", `/api/v2/members/${m.id}/reactivate`);
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ id: m.id, status: "active" });
    const old = await api(app, before.body.accessToken, "/api/v2/me");
    expect([old.status, old.body.code]).toEqual([401, "UNAUTHENTICATED"]);
    const refreshed = await fetch(`${app.url}/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: before.body.refreshToken }),
    });
    expect(refreshed.status).toBe(401);
    const again = await signIn(body.email, body.password);
    expect(again.status).toBe(200);
    expect((await api(app, again.body.accessToken, "/api/v2/me")).status).toBe(200);
    // Reactivating an active member changes nothing.
    expect((await call("admin", "POST", `/api/v2/members/${m.id}/reactivate`)).body.status).toBe("active");
  });

  it("a deleted member cannot be reactivated, changed or deactivated (MEMBER_DELETED)", async () => {
    const body = newMemberBody({ name: "Jack" });
    const m = (await call("admin", "POST", "/api/v2/members", body)).body as Member;
    const del = await call("admin", "DELETE", `/api/v2/members/${m.id}`);
    expect(del.status).toBe(202);
    expect(del.body.job).toMatchObject({ kind: "member_delete" });
    expect((await call("admin", "GET", `/api/v2/members/${m.id}`)).body.status).toBe("deleted");
    expect((await signIn(body.email, body.password)).body.code).toBe("MEMBER_INACTIVE");
    for (const [method, path, payload] of [
      ["POST", `/api/v2/members/${m.id}/reactivate`],
      ["PATCH", `/api/v2/members/${m.id}`, { name: "Back" }],
      ["POST", `/api/v2/members/${m.id}/deactivate`],
      ["DELETE", `/api/v2/members/${m.id}`],
    ] as const) {
      const r = await call("admin", method, path, payload);
      expect([method, r.status, r.body.code, r.body.message]).toEqual([method, 409, "MEMBER_DELETED", "此團隊成員已刪除"]);
    }
    // The deleted account keeps its email: it cannot be taken by a new member.
    const reuse = await call("admin", "POST", "/api/v2/members", newMemberBody({ email: body.email }));
    expect(reuse.body.code).toBe("EMAIL_TAKEN");
  });
});
