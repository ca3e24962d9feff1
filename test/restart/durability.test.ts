import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { Client, type Room } from "@colyseus/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { childRedis, killAllChildren, killHard, startChildServer } from "../support/child.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir, storageKinds } from "../support/db.ts";

/**
 * An acknowledged action survives `kill -9` of the server process: the server runs as a child
 * process, is killed the moment the answer arrives, and is started again on the same data.
 */
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  await killAllChildren();
  for (const f of cleanups) await f();
});

async function openAs(url: string, email: string, conversationId: string): Promise<Room> {
  const res = await fetch(`${url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "demo-password" }),
  });
  const { accessToken } = (await res.json()) as { accessToken: string };
  const client = new Client(url.replace("http", "ws"));
  client.auth.token = accessToken;
  return client.joinOrCreate("conversation", { conversationId, view: "mine" });
}

/** Sends an action and kills the server the moment its `ok` answer arrives. */
function actThenKill(room: Room, child: ChildProcess, type: string, payload: Record<string, unknown>): Promise<void> {
  const requestId = `kill9-${type}`;
  return new Promise((resolve, reject) => {
    room.onMessage("result", (r: { requestId: string; ok: boolean; code?: string }) => {
      if (r.requestId !== requestId) return;
      if (!r.ok) return reject(new Error(`refused: ${r.code}`));
      killHard(child).then(resolve, reject);
    });
    room.send(type, { ...payload, requestId });
  });
}

async function waitForState(room: Room, check: (s: any) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check(room.state)) {
    if (Date.now() > deadline) throw new Error("state not reached");
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The two storages run side by side (each restart waits ~2 s for Colyseus to find the killed
// process dead): each on a Redis database of its own, so they are two separate deployments.
describe.concurrent.each(storageKinds())("kill -9 on %s", (kind) => {
  it("an acknowledged reply and an acknowledged add survive a killed server", { timeout: 240_000 }, async () => {
    let env: Record<string, string>;
    if (kind === "postgres") {
      const databaseUrl = (await freshDatabaseUrl())!;
      cleanups.push(() => dropDatabase(databaseUrl));
      env = { ...childRedis(4), DATABASE_URL: databaseUrl, DATA_DIR: "unused" };
    } else {
      const dir = await freshPgliteDir("inbox-kill9-");
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      env = { ...childRedis(1), DATABASE_URL: "", DATA_DIR: dir };
    }

    // 1. A reply by the follower (Dan), killed on its acknowledgement.
    let server = await startChildServer(env);
    let room = await openAs(server.url, "agent@demo.test", "demo-collab");
    await actThenKill(room, server.child, "reply", { text: "這句話不能遺失" });

    // 2. After a restart, an add of Finn, killed on its acknowledgement.
    server = await startChildServer(env);
    room = await openAs(server.url, "agent@demo.test", "demo-collab");
    await waitForState(room, (s) => s?.messages?.some((m: any) => m.body === "這句話不能遺失"));
    await actThenKill(room, server.child, "add_collaborators", { memberIds: ["demo-agent-3"] });

    // 3. Both are there after the second restart.
    server = await startChildServer(env);
    room = await openAs(server.url, "agent@demo.test", "demo-collab");
    await waitForState(room, (s) => s?.collaborators?.length === 2);
    expect(room.state.messages.some((m: any) => m.body === "這句話不能遺失")).toBe(true);
    expect(room.state.collaborators.map((c: any) => c.id)).toEqual(["demo-cs-manager", "demo-agent-3"]);
    expect(room.state.messages.at(-1).systemKind).toBe("members_joined");
    await room.leave();
    await killHard(server.child);
  });
});
