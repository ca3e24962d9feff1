import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { eq, inArray } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../db/client.ts";
import * as s from "../../db/schema.ts";
import { encryptSecrets } from "../../server/channels/secrets.ts";
import { killAllChildren, killHard, startChildServer } from "../support/child.ts";
import { childStorage, storageKinds } from "../support/db.ts";
import { signWhatsApp, waTextMessage, waWebhookBody } from "../support/fakes/whatsapp.ts";

/**
 * Durable intake across `kill -9` (issue 9, item 3): WhatsApp webhooks race a server that is killed
 * while it answers them. Every webhook answered 200 had its message committed before the answer, so
 * after a restart each of them is in its conversation exactly once — also the ones the dead process
 * had stored but not yet applied (its claim runs out and the restarted process applies them). The
 * provider then delivers again whatever it got no 200 for, and nothing is stored twice.
 * Children run without Redis (in-process presence): one process at a time per data set.
 */
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await killAllChildren();
  for (const f of cleanups) await f();
});

const APP_SECRET = "wa-kill9-app-secret";
const PHONE = "106540352242922";
const N = 120;
const CONTACTS = 6;

/** POSTs a signed webhook; the status, or null when the connection died without an answer. */
function post(url: string, body: string): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/webhooks/whatsapp/wa-kill9`,
      {
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", "x-hub-signature-256": signWhatsApp(body, APP_SECRET) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? null));
        res.on("error", () => resolve(null));
      },
    );
    req.on("error", () => resolve(null));
    req.end(body);
  });
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.concurrent.each(storageKinds())("intake across kill -9 on %s", (kind) => {
  it("every webhook answered 200 before the kill lands once after the restart; the provider's re-deliveries add nothing twice", {
    timeout: 300_000,
  }, async () => {
    const key = randomBytes(32);
    const storage = await childStorage(kind, "inbox-intake-kill9-", cleanups);
    const env = {
      REDIS_URL: "",
      DATABASE_URL: storage.databaseUrl ?? "",
      DATA_DIR: storage.dataDir,
      CHANNEL_SECRETS_KEY: key.toString("base64"),
      INTAKE_LEASE_MS: "1000",
      INTAKE_POLL_MS: "100",
      RATE_LIMIT_WEBHOOKS: "100000/10s",
    };
    // The first start seeds the demo workspace; with the server down, a WhatsApp account is added.
    let server = await startChildServer(env);
    await killHard(server.child);
    {
      const database = await openDatabase(storage);
      await database.db.insert(s.channels).values({
        id: "wa-kill9",
        workspaceId: "demo",
        type: "whatsapp",
        name: "WhatsApp",
        settings: { phoneNumberId: PHONE },
        secretsEnc: encryptSecrets(key, { appSecret: APP_SECRET, accessToken: "token", verifyToken: "verify" }),
      });
      await database.close();
    }
    const run = randomBytes(4).toString("hex");
    const contact = (i: number) => `8869${run.slice(0, 4).replace(/\D/g, "1")}${String(i % CONTACTS).padStart(4, "0")}`.slice(0, 15);
    const bodies = Array.from({ length: N }, (_, i) => ({
      wamid: `wamid.kill9-${run}-${i}`,
      body: waWebhookBody(PHONE, [
        {
          contacts: [{ wa_id: contact(i), name: `Kill9 ${i % CONTACTS}` }],
          messages: [waTextMessage({ wamid: `wamid.kill9-${run}-${i}`, from: contact(i), text: `message ${i}` })],
        },
      ]),
    }));

    // The webhooks race the kill: it comes once about a third of them are answered.
    server = await startChildServer(env);
    const answered = new Set<string>();
    const sending = Promise.all(
      bodies.map(async (b, i) => {
        await new Promise((r) => setTimeout(r, i * 3));
        if ((await post(server.url, b.body)) === 200) answered.add(b.wamid);
      }),
    );
    const target = server;
    await until(async () => answered.size >= N / 3, "a third answered", 120_000);
    await killHard(target.child);
    await sending;
    expect(answered.size).toBeGreaterThan(0);

    const customerMessages = async (): Promise<Map<string, number>> => {
      const database = await openDatabase(storage);
      try {
        const rows = await database.db
          .select({ requestId: s.messages.requestId })
          .from(s.messages)
          .innerJoin(s.conversations, eq(s.conversations.id, s.messages.conversationId))
          .where(
            inArray(
              s.messages.requestId,
              bodies.map((b) => b.wamid),
            ),
          );
        const counts = new Map<string, number>();
        for (const r of rows) counts.set(r.requestId!, (counts.get(r.requestId!) ?? 0) + 1);
        return counts;
      } finally {
        await database.close();
      }
    };

    // After the restart, every answered webhook is a message, once.
    server = await startChildServer(env);
    await until(async () => {
      const counts = await customerMessages();
      return [...answered].every((w) => counts.has(w));
    }, "every answered webhook applied");
    await killHard(server.child);
    let counts = await customerMessages();
    for (const w of answered) expect(counts.get(w), w).toBe(1);

    // The provider delivers every webhook again (those without a 200 for certain): all land, once.
    server = await startChildServer(env);
    const again = await Promise.all(bodies.map((b) => post(server.url, b.body)));
    expect(again.every((status) => status === 200)).toBe(true);
    await until(async () => (await customerMessages()).size === N, "every webhook applied");
    await killHard(server.child);
    counts = await customerMessages();
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(N);
    // One conversation per contact.
    const database = await openDatabase(storage);
    const conversations = await database.db
      .selectDistinct({ id: s.messages.conversationId })
      .from(s.messages)
      .where(
        inArray(
          s.messages.requestId,
          bodies.map((b) => b.wamid),
        ),
      );
    await database.close();
    expect(conversations).toHaveLength(CONTACTS);
  });
});
