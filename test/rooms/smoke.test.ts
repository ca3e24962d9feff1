import { describe, expect, it } from "vitest";
import { EMAIL, ID, login, open, useTestServer, waitFor } from "../support/server.ts";

const app = useTestServer();

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
