import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { type App, startApp } from "../../server/app.ts";
import { parseConfig } from "../../server/config.ts";
import { EMAIL, ID, login, open, sdk, waitFor } from "../support/server.ts";
import { dropDatabase, freshDatabaseUrl } from "../support/db.ts";

/**
 * With REDIS_URL set (CI), the server runs on Colyseus's Redis presence and driver. Other test
 * files use in-process presence, so this file takes a Redis database number of its own.
 */
const redisUrl = process.env.REDIS_URL;
let app: App;
let databaseUrl: string | undefined;

describe.skipIf(!redisUrl)("on Redis presence and driver", () => {
  beforeAll(async () => {
    const url = new URL(redisUrl!);
    url.pathname = `/${5 + Math.floor(Math.random() * 7)}`; // 5–11; 12 and 13 are push/scheduler, 14 is test/cluster/cluster.test.ts
    databaseUrl = await freshDatabaseUrl();
    const config = parseConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: "memory://",
      SEED_DEMO: "true",
      JWT_SECRET: "test-secret-test-secret-test-secret-42",
      REDIS_URL: url.toString(),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    });
    app = await startApp(config, { log: pino({ level: "silent" }) });
  });
  afterAll(async () => {
    await app?.stop();
    await dropDatabase(databaseUrl);
  });

  it("[R2.7] an add reaches the other participant's state and the added member's inbox", async () => {
    const follower = await open(app, await login(app, EMAIL.agent), "demo-collab");
    const ben = await open(app, await login(app, EMAIL.manager), "demo-collab");
    const finnToken = await login(app, EMAIL.agent3);
    const inbox = await sdk(app, finnToken).joinOrCreate("inbox", { memberId: ID.agent3 });
    const notices: { text: string }[] = [];
    inbox.onMessage("notice", (n: { text: string }) => notices.push(n));

    const r = await follower.act("add_collaborators", { memberIds: [ID.agent3] });
    expect(r.ok).toBe(true);
    await waitFor(() => ben.state.collaborators.length === 2 && notices.length === 1);
    expect(notices[0]!.text).toBe("Dan (Agent) added you to 陳美玲's collaborative conversation");
    await follower.leave();
    await ben.leave();
    await inbox.leave();
  });
});
