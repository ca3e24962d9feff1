import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/server.ts";
import { ID, api, connect, createConversation, createMember, tokenOf } from "../rooms/helpers.ts";
import { otherWorkspaceConversation, updateMember } from "./fixtures.ts";

const app = useTestServer();

interface Candidate {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  role: string;
}

async function candidates(who: string, conversationId: string, query = "") {
  return api(app, await tokenOf(app, who), `/api/v2/conversations/${conversationId}/candidates${query}`);
}

async function ids(who: string, conversationId: string, query = ""): Promise<string[]> {
  const r = await candidates(who, conversationId, query);
  expect(r.status).toBe(200);
  return (r.body.items as Candidate[]).map((c) => c.id);
}

describe("GET /api/v2/conversations/{id}/candidates", () => {
  it("[R2.3] active members of the workspace who are not participants, by name", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing] });
    const all = await candidates("agent", c.id, "?limit=100");
    expect(all.status).toBe(200);
    const found = all.body.items as Candidate[];
    const foundIds = found.map((x) => x.id);
    // The demo members other than the two participants, and nobody else (the file creates no member before this test).
    expect(new Set(foundIds)).toEqual(new Set([ID.admin, ID.supervisor, ID.manager, ID.agent2, ID.agent3]));
    expect(found.map((x) => x.name)).toEqual(["Amy", "Ben", "Eve", "Finn", "Jess"]);
    expect(found.find((x) => x.id === ID.admin)).toEqual({ id: ID.admin, name: "Jess", email: "admin@demo.test", phone: "+886900000001", role: "admin" });
  });

  it("[R2.3] deactivated and deleted members and other workspaces' members are not candidates", async () => {
    const key = randomUUID().slice(0, 6);
    const active = await createMember(app, { name: `Zz${key} active` });
    const off = await createMember(app, { name: `Zz${key} off` });
    const gone = await createMember(app, { name: `Zz${key} gone` });
    await updateMember(app, off.id, { status: "deactivated" });
    await updateMember(app, gone.id, { status: "deleted" });
    const other = await otherWorkspaceConversation(app);
    await updateMember(app, other.memberId, { name: `Zz${key} elsewhere` });
    const c = await createConversation(app, { follower: ID.agent });
    expect(await ids("agent", c.id, `?q=Zz${key}`)).toEqual([active.id]);
  });

  it("[R2.3] q matches name, email or phone as a case-insensitive substring; % and _ match themselves", async () => {
    const key = randomUUID().slice(0, 6);
    const byName = await createMember(app, { name: `Qa${key} Walker` });
    const byEmail = await createMember(app, { name: `Qb${key}` });
    await updateMember(app, byEmail.id, { email: `Mail.${key}@Example.test` });
    const byPhone = await createMember(app, { name: `Qc${key}` });
    await updateMember(app, byPhone.id, { phone: `+8869${key}77` });
    const percent = await createMember(app, { name: `Qd${key} 100%_off` });
    const plain = await createMember(app, { name: `Qe${key} 100xyoff` });
    const c = await createConversation(app, { follower: ID.agent });
    expect(await ids("agent", c.id, `?q=${encodeURIComponent(`qa${key} walKER`)}`)).toEqual([byName.id]);
    expect(await ids("agent", c.id, `?q=${encodeURIComponent(`mail.${key}@example`)}`)).toEqual([byEmail.id]);
    expect(await ids("agent", c.id, `?q=${encodeURIComponent(`9${key}7`)}`)).toEqual([byPhone.id]);
    expect(await ids("agent", c.id, `?q=${encodeURIComponent("  100%_off  ")}`)).toEqual([percent.id]);
    expect(await ids("agent", c.id, `?q=${encodeURIComponent("100__off")}`)).toEqual([]);
    expect(await ids("agent", c.id, `?q=${encodeURIComponent("100%off")}`)).toEqual([]);
    expect(await ids("agent", c.id, `?q=${encodeURIComponent(`${key} 100`)}`)).toEqual([percent.id, plain.id]);
  });

  it("[R2.3] the role filter: all, admin, supervisor, cs_manager", async () => {
    const c = await createConversation(app, { follower: ID.agent2 });
    const key = randomUUID().slice(0, 6);
    const admin2 = await createMember(app, { name: `Rr${key} admin`, role: "admin" });
    const sup2 = await createMember(app, { name: `Rr${key} sup`, role: "supervisor" });
    const man2 = await createMember(app, { name: `Rr${key} man`, role: "cs_manager" });
    const agent = await createMember(app, { name: `Rr${key} agent`, role: "agent" });
    const q = `q=Rr${key}`;
    expect(await ids("agent2", c.id, `?${q}`)).toEqual([admin2.id, agent.id, man2.id, sup2.id]);
    expect(await ids("agent2", c.id, `?${q}&role=all`)).toEqual([admin2.id, agent.id, man2.id, sup2.id]);
    expect(await ids("agent2", c.id, `?${q}&role=admin`)).toEqual([admin2.id]);
    expect(await ids("agent2", c.id, `?${q}&role=supervisor`)).toEqual([sup2.id]);
    expect(await ids("agent2", c.id, `?${q}&role=cs_manager`)).toEqual([man2.id]);
    expect(await ids("agent2", c.id, "?role=admin&limit=100")).toEqual(expect.arrayContaining([ID.admin, admin2.id]));
    expect(await ids("agent2", c.id, `?${q}&limit=2`)).toEqual([admin2.id, agent.id]);
  });

  it("[R2.3] someone added as a collaborator stops being a candidate", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    expect(await ids("agent", c.id, "?limit=100")).toContain(ID.agent3);
    const dan = await connect(app, "agent", c.id);
    expect(await dan.act("add_collaborators", { memberIds: [ID.agent3] })).toMatchObject({ ok: true });
    const after = await ids("agent", c.id, "?limit=100");
    expect(after).not.toContain(ID.agent3);
    expect(after).not.toContain(ID.agent);
    // The new collaborator may ask too.
    expect(await ids("agent3", c.id, "?limit=100")).not.toContain(ID.agent3);
  });

  it("[R2.3] the caller must be allowed to open the conversation: participants and TEAM_VIEWERS; others 403; unknown 404", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.agent2] });
    for (const who of ["agent", "agent2", "admin", "supervisor", "manager"] as const) {
      expect([who, (await candidates(who, c.id)).status]).toEqual([who, 200]);
    }
    for (const who of ["marketing", "agent3"] as const) {
      const r = await candidates(who, c.id);
      expect([who, r.status, r.body.code]).toEqual([who, 403, "VIEW_NOT_ALLOWED"]);
    }
    expect(await candidates("admin", "no-such-conversation")).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    const foreign = await otherWorkspaceConversation(app);
    expect(await candidates("admin", foreign.conversationId)).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
  });

  it("bad query values are 400 INVALID_PAYLOAD", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    for (const q of ["?role=agent", "?role=marketing_cs", "?limit=0", "?limit=101", "?limit=x", "?q=", "?q=%20%20", `?q=${"a".repeat(101)}`]) {
      const r = await candidates("agent", c.id, q);
      expect([q, r.status, r.body.code]).toEqual([q, 400, "INVALID_PAYLOAD"]);
    }
  });
});
