import { describe, expect, it } from "vitest";
import { ID } from "../support/demo.ts";
import { createConversation } from "../support/fixtures.ts";
import { connect, tokenOf } from "../support/rooms.ts";
import { useTestServer } from "../support/server.ts";

/** `@colyseus/monitor` at /monitor behind the admin gate (server/monitor.ts). */

const app = useTestServer();

const basic = (token: string) => `Basic ${Buffer.from(`admin:${token}`).toString("base64")}`;

describe("the monitor panel", () => {
  it("without a token, with a bad one: 401 with a Basic challenge; a member who is not an admin: 403", async () => {
    const res = await fetch(`${app.url}/monitor/api`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="monitor"/);
    expect(((await res.json()) as { code: string }).code).toBe("UNAUTHENTICATED");
    for (const authorization of ["Bearer not-a-token", basic("not-a-token"), "Basic !!!"]) {
      expect((await fetch(`${app.url}/monitor/api`, { headers: { authorization } })).status).toBe(401);
    }
    const agent = await tokenOf(app, "agent");
    const refused = await fetch(`${app.url}/monitor/api`, { headers: { authorization: `Bearer ${agent}` } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe("ROLE_NOT_ALLOWED");
  });

  it("an admin's token (Bearer, or as the Basic password): the rooms list, a room's inspection and the page", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    await connect(app, "agent", c.id);
    const admin = await tokenOf(app, "admin");
    for (const authorization of [`Bearer ${admin}`, basic(admin)]) {
      const res = await fetch(`${app.url}/monitor/api`, { headers: { authorization } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { rooms: { roomId: string; name: string; clients: number }[] };
      expect(body.rooms).toEqual(expect.arrayContaining([expect.objectContaining({ roomId: c.id, name: "conversation", clients: 1 })]));
    }
    const inspect = await fetch(`${app.url}/monitor/api/room?roomId=${encodeURIComponent(c.id)}`, { headers: { authorization: basic(admin) } });
    expect(inspect.status).toBe(200);
    const page = await fetch(`${app.url}/monitor/`, { headers: { authorization: basic(admin) } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
  });

  it("calling a room's methods through the panel is refused, even to an admin", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    await connect(app, "agent", c.id);
    const admin = await tokenOf(app, "admin");
    const args = encodeURIComponent(JSON.stringify([{ type: "member_departed", requestId: "x", memberId: ID.agent, actorId: null }]));
    const res = await fetch(`${app.url}/monitor/api/room/call?roomId=${c.id}&method=serverAction&args=${args}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe("ROLE_NOT_ALLOWED");
  });

  it("the API's own routes are still served after the panel's mount", async () => {
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.url}/monitorx`)).status).toBe(404);
  });
});
