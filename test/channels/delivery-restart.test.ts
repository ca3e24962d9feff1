import { randomBytes } from "node:crypto";
import { Client, type Room } from "@colyseus/sdk";
import { and, eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../db/client.ts";
import * as s from "../../db/schema.ts";
import { encryptSecrets } from "../../server/channels/secrets.ts";
import { killAllChildren, killHard, startChildServer } from "../support/child.ts";
import { childStorage, storageKinds } from "../support/db.ts";
import { FakeLine, lineUserId } from "../support/fakes/line.ts";

/**
 * At least once across `kill -9` (issue 9, item 5): the server is killed while LINE has the push
 * and has not answered (the send is out, its outcome not committed); after a restart the reply is
 * pushed again once its claim's lease runs out, and it ends `sent` in the database and the state.
 * Children run without Redis (in-process presence): one process at a time per data set.
 */
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await killAllChildren();
  for (const f of cleanups) await f();
});

const CONVERSATION = "demo-direct"; // LINE, followed by Dan (agent@demo.test)
const CUSTOMER = "demo-cust-line";

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

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.concurrent.each(storageKinds())("delivery across kill -9 on %s", (kind) => {
  it("a reply whose push was out when the server died is pushed again after the restart and ends sent", { timeout: 240_000 }, async () => {
    const key = randomBytes(32);
    const token = randomBytes(24).toString("base64url");
    const fake = await FakeLine.start([token]);
    cleanups.push(() => fake.stop());
    const storage = await childStorage(kind, "inbox-delivery-kill9-", cleanups);
    const env = {
      REDIS_URL: "",
      DATABASE_URL: storage.databaseUrl ?? "",
      DATA_DIR: storage.dataDir,
      CHANNEL_SECRETS_KEY: key.toString("base64"),
      LINE_API_BASE_URL: fake.url,
      DELIVERY_LEASE_MS: "1000",
      DELIVERY_POLL_MS: "100",
    };

    // The first start seeds the demo workspace; then, with the server down, the LINE conversation
    // gets a channel account (credentials encrypted with the server's key) and a LINE user id.
    let server = await startChildServer(env);
    await killHard(server.child);
    const user = lineUserId("kill9-user");
    {
      const database = await openDatabase(storage);
      const db = database.db;
      await db.insert(s.channels).values({
        id: "line-kill9",
        workspaceId: "demo",
        type: "line",
        name: "LINE",
        secretsEnc: encryptSecrets(key, { channelSecret: "secret", channelAccessToken: token }),
      });
      await db.update(s.conversations).set({ channelId: "line-kill9" }).where(eq(s.conversations.id, CONVERSATION));
      await db.update(s.customers).set({ channelUserId: user }).where(eq(s.customers.id, CUSTOMER));
      await database.close();
    }

    // LINE takes the push and never answers: the server is killed with the send out.
    fake.fail("push", { timeout: true });
    server = await startChildServer(env);
    let room = await openAs(server.url, "agent@demo.test", CONVERSATION);
    const seq = await new Promise<number>((resolve, reject) => {
      room.onMessage("result", (r: { requestId: string; ok: boolean; seq?: number; code?: string }) => {
        if (r.requestId === "kill9-delivery") r.ok ? resolve(r.seq!) : reject(new Error(r.code));
      });
      room.send("reply", { requestId: "kill9-delivery", text: "重新啟動後也要送達" });
    });
    await until(() => fake.requests.some((r) => r.path === "/v2/bot/message/push"), "the first push");
    await killHard(server.child);
    expect(fake.pushes).toEqual([]);

    // After the restart the claim runs out and the reply goes out again, once.
    server = await startChildServer(env);
    room = await openAs(server.url, "agent@demo.test", CONVERSATION);
    await until(() => room.state?.messages?.find((m: { seq: number }) => m.seq === seq)?.delivery === "sent", "sent in the state");
    expect(fake.pushes.map((p) => [p.to, p.texts])).toEqual([[user, ["重新啟動後也要送達"]]]);
    const pushes = fake.requests.filter((r) => r.path === "/v2/bot/message/push");
    expect(pushes).toHaveLength(2);
    expect(pushes[1]!.headers["x-line-retry-key"]).toBe(pushes[0]!.headers["x-line-retry-key"]);
    await room.leave();
    await killHard(server.child);
    const database = await openDatabase(storage);
    const [row] = await database.db
      .select({ status: s.messages.deliveryStatus, providerMessageId: s.messages.providerMessageId })
      .from(s.messages)
      .where(and(eq(s.messages.conversationId, CONVERSATION), eq(s.messages.seq, seq)));
    await database.close();
    expect(row).toEqual({ status: "sent", providerMessageId: fake.pushes[0]!.id });
    expect(fake.violations()).toEqual([]);
  });
});
