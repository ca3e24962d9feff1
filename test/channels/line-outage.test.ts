import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import type postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { insertChannelAccount } from "../../db/channels.ts";
import * as s from "../../db/schema.ts";
import type { App } from "../../server/app.ts";
import { useLineApiBaseUrl } from "../../server/channels/line/client.ts";
import { encryptSecrets, secretsKeyOf } from "../../server/channels/secrets.ts";
import { type ServerBehindProxy, startServerBehindProxy } from "../support/behind-proxy.ts";
import { WORKSPACE } from "../support/demo.ts";
import { FakeLine, lineMessageEvent, lineUserId, lineWebhookBody, signLine } from "../support/fakes/line.ts";
import type { TcpProxy } from "../support/tcp-proxy.ts";

/**
 * The LINE webhook while PostgreSQL is unreachable (behind a TCP proxy the test cuts): the webhook
 * answers 503 STORAGE_UNAVAILABLE — never 200 — so LINE keeps the event and redelivers it; nothing
 * was stored; once the database is back the redelivery is stored, once, and lands in a conversation.
 */
const DATABASE_URL = process.env.DATABASE_URL;
const SECRET = "outage-line-secret";
const TOKEN = "outage-line-token";

if (!DATABASE_URL) {
  it.skip("LINE webhook during a PostgreSQL outage: skipped because DATABASE_URL is unset (PGlite runs in this process and cannot be cut)", () => {});
} else {
  let server: ServerBehindProxy | null = null;
  let proxy: TcpProxy;
  let app: App;
  let direct: postgres.Sql;
  let fake: FakeLine;
  let channelId: string;

  beforeAll(async () => {
    server = await startServerBehindProxy(1000);
    ({ app, proxy, direct } = server);
    fake = await FakeLine.start([TOKEN]);
    useLineApiBaseUrl(fake.url);
    channelId = `line-${randomUUID()}`;
    await insertChannelAccount(app.database.db, {
      id: channelId,
      workspaceId: WORKSPACE,
      type: "line",
      name: "LINE outage",
      settings: {},
      secretsEnc: encryptSecrets(secretsKeyOf(app.database.db), { channelSecret: SECRET, channelAccessToken: TOKEN }),
      secretHash: null,
    });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.stop();
  });

  async function post(body: string) {
    const res = await fetch(`${app.url}/webhooks/line/${channelId}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-line-signature": signLine(body, SECRET) },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("database cut: 503 STORAGE_UNAVAILABLE and nothing stored; LINE's redelivery after it is back is stored once", async () => {
    const user = lineUserId("outage-user");
    const event = lineMessageEvent({ userId: user, message: { id: "m1", type: "text", text: "are you there?" } });
    const body = lineWebhookBody([event]);

    proxy.cut();
    const during = await post(body);
    expect(during).toMatchObject({ status: 503, body: { code: "STORAGE_UNAVAILABLE" } });
    proxy.pass();

    const rows = () => direct`select provider_event_id from inbound_events where channel_id = ${channelId}`;
    expect(await rows()).toHaveLength(0);

    const redelivered = JSON.parse(body);
    redelivered.events[0].deliveryContext.isRedelivery = true;
    const redeliveredBody = JSON.stringify(redelivered);
    let after = await post(redeliveredBody);
    // The pool may still hold a connection the cut broke: the first statement on it fails, the next succeeds.
    for (let i = 0; i < 5 && after.status === 503; i++) after = await post(redeliveredBody);
    expect(after).toMatchObject({ status: 200, body: { stored: 1, duplicates: 0 } });
    expect(await post(redeliveredBody)).toMatchObject({ status: 200, body: { stored: 0, duplicates: 1 } });
    expect((await rows()).map((r) => r.provider_event_id)).toEqual([event.webhookEventId]);

    await app.intake.idle();
    const customers = await app.database.db.select().from(s.customers).where(eq(s.customers.channelUserId, user));
    expect(customers).toHaveLength(1);
    const messages =
      await direct`select m.body from messages m join conversations c on c.id = m.conversation_id where c.customer_id = ${customers[0]!.id} and m.sender = 'customer'`;
    expect(messages.map((m) => m.body)).toEqual(["are you there?"]);
  });
}
