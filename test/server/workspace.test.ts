import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { ID, api, connect, createConversation, tokenOf } from "../rooms/helpers.ts";
import { useTestServer } from "../support/server.ts";

const app = useTestServer();

describe("workspace settings", () => {
  it("any member reads the settings; only an admin changes them; bad values change nothing", async () => {
    const agent = await tokenOf(app, "agent");
    const admin = await tokenOf(app, "admin");
    const read = await api(app, agent, "/api/v2/workspace");
    expect(read.status).toBe(200);
    expect(read.body.settings.overdueAfterMinutes).toBe(30);

    const refused = await api(app, agent, "/api/v2/workspace/settings", { method: "PATCH", body: { overdueAfterMinutes: 5 } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("ROLE_NOT_ALLOWED");

    for (const bad of [{ overdueAfterMinutes: 0 }, { overdueAfterMinutes: "5" }, { unknown: true }]) {
      const r = await api(app, admin, "/api/v2/workspace/settings", { method: "PATCH", body: bad });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("INVALID_PAYLOAD");
    }
    expect((await api(app, agent, "/api/v2/workspace")).body.settings.overdueAfterMinutes).toBe(30);

    const changed = await api(app, admin, "/api/v2/workspace/settings", { method: "PATCH", body: { overdueAfterMinutes: 5 } });
    expect(changed.status).toBe(200);
    expect(changed.body.settings).toMatchObject({ overdueAfterMinutes: 5, csatOnClose: true });
    expect((await api(app, agent, "/api/v2/workspace")).body.settings.overdueAfterMinutes).toBe(5);
  });

  it("[R8.2] a live conversation room follows a change of the CSAT setting without a restart", async () => {
    const admin = await tokenOf(app, "admin");
    const csatRows = async (conversationId: string) =>
      (await app.database.db.select().from(s.outbox).where(eq(s.outbox.topic, "send_csat"))).filter(
        (r) => r.payload.kind === "effect" && r.payload.conversationId === conversationId,
      );

    const first = await createConversation(app, { follower: ID.agent, status: "in_progress" });
    const second = await createConversation(app, { follower: ID.agent, status: "in_progress" });
    const a = await connect(app, "agent", first.id);
    const b = await connect(app, "agent", second.id);
    expect((await a.act("close")).ok).toBe(true);
    expect(await csatRows(first.id)).toHaveLength(1);

    await api(app, admin, "/api/v2/workspace/settings", { method: "PATCH", body: { csatOnClose: false } });
    expect((await b.act("close")).ok).toBe(true);
    expect(await csatRows(second.id)).toHaveLength(0);
  });

  it("answers CORS preflights for any origin with the headers the API reads", async () => {
    const res = await fetch(`${app.url}/api/v2/conversations`, {
      method: "OPTIONS",
      headers: { origin: "https://console.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("idempotency-key");
  });

  it("every answer, the API's (served in front of Colyseus) and matchmaking's, carries the CORS headers and exposes X-Request-Id", async () => {
    for (const [path, init] of [
      ["/healthz", {}],
      ["/api/v2/conversations", {}], // 401: an error answer too
      ["/matchmake/joinOrCreate/conversation", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }],
    ] as const) {
      const res = await fetch(`${app.url}${path}`, { ...init, headers: { ...("headers" in init ? init.headers : {}), origin: "https://console.example" } });
      expect(res.headers.get("access-control-allow-origin"), path).toBe("*");
      expect(res.headers.get("access-control-expose-headers"), path).toContain("X-Request-Id");
      if (!path.startsWith("/matchmake")) expect(res.headers.get("x-request-id"), path).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
