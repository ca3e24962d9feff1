import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, EMAIL, ID, login, open, startTestServer, waitFor } from "../support/server.ts";

let app: App;
beforeAll(async () => {
  app = await startTestServer();
});
afterAll(async () => {
  await app?.stop();
});

describe("conversation room smoke", () => {
  it("a follower's reply reaches another participant", async () => {
    const a = await open(app, await login(app, EMAIL.admin), "demo-collab-full");
    const b = await open(app, await login(app, EMAIL.supervisor), "demo-collab-full");
    expect(a.state.collaborators.length).toBe(5);
    const r = await a.act("reply", { text: "hello" });
    expect(r.ok).toBe(true);
    await waitFor(() => b.state.messages.at(-1)?.body === "hello");
    expect(b.state.me.get(ID.supervisor)).toBeDefined();
    expect(b.state.me.get(ID.admin)).toBeUndefined();
    await a.leave();
    await b.leave();
  });
});
