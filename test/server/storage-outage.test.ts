import type postgres from "postgres";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../db/client.ts";
import { isStorageUnavailable } from "../../db/errors.ts";
import type { App } from "../../server/app.ts";
import { type ServerBehindProxy, startServerBehindProxy } from "../support/behind-proxy.ts";
import { type Conn, EMAIL, login, open } from "../support/server.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";

/**
 * PostgreSQL behind a TCP proxy the test controls: stalled (the server never answers) and cut
 * (connections destroyed, new ones dropped). Room actions and HTTP routes answer their documented
 * code (STORAGE_UNAVAILABLE / 503) within the statement timeout plus the client's grace, `/readyz`
 * answers 503 within its own deadline, nothing is acknowledged that is not committed (what was
 * answered ok is in the database; what was answered STORAGE_UNAVAILABLE is retried with the same
 * request id and then applied exactly once), and service resumes when the proxy forwards again.
 */
const DATABASE_URL = process.env.DATABASE_URL;
const TIMEOUT_MS = 1000;
/** The statement timeout plus the client's grace (db/client.ts): the longest one statement may take. */
const DEADLINE_MS = TIMEOUT_MS + 1000;
/** Far beyond any answer's deadline: an answer later than this is a hang. */
const HANG_MS = 4 * DEADLINE_MS + 2000;

if (!DATABASE_URL) {
  it.skip("PostgreSQL outage through a TCP proxy: skipped because DATABASE_URL is unset (PGlite runs in this process and cannot stall)", () => {});
} else {
  let server: ServerBehindProxy | null = null;
  let proxy: TcpProxy;
  let app: App;
  let direct: postgres.Sql;
  let agentToken: string;
  let conn: Conn;

  beforeAll(async () => {
    server = await startServerBehindProxy(TIMEOUT_MS);
    ({ app, proxy, direct } = server);
    agentToken = await login(app, EMAIL.agent);
    conn = await open(app, agentToken, "demo-direct");
  });
  afterAll(async () => {
    proxy?.pass();
    await conn?.leave();
    await server?.stop();
  });

  /** `work`, or a failure naming `what` when it has not settled after HANG_MS. */
  async function answered<T>(what: string, work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${HANG_MS} ms`)), HANG_MS);
    });
    try {
      return await Promise.race([work, hang]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function get(path: string, token?: string) {
    const res = await answered(
      `GET ${path}`,
      fetch(`${app.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }),
    );
    return { status: res.status, body: (await res.json()) as { code?: string; ok?: boolean } };
  }

  async function webchat(messageId: string, text: string) {
    const res = await answered(
      "POST webchat",
      fetch(`${app.url}/channels/webchat/demo-webchat/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-channel-secret": "demo-webchat-secret" },
        body: JSON.stringify({ messageId, customer: { id: "outage-visitor", name: "Outage visitor" }, text }),
      }),
    );
    return { status: res.status, body: (await res.json()) as { code?: string } };
  }

  async function storedReplies(requestId: string): Promise<number> {
    const [row] = await direct<{ n: number }[]>`select count(*)::int as n from messages where request_id = ${requestId}`;
    return row?.n ?? -1;
  }

  /** Waits until `/readyz` says ready again (the pool reconnects after the proxy forwards). */
  async function resumed(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if ((await get("/readyz")).status === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("/readyz did not come back");
  }

  describe("the database client alone", () => {
    it("a connection cut inside a transaction fails the transaction as storage-unavailable; the process and the pool survive", async () => {
      const url = server!.databaseUrl;
      const own = TcpProxy.forUrl(url);
      await own.start();
      const database = await openDatabase({ databaseUrl: own.rewrite(url), dataDir: "unused", poolSize: 2, statementTimeoutMs: TIMEOUT_MS });
      try {
        for (const cutWhile of ["between statements", "after the last statement"] as const) {
          const outcome = await answered(
            "transaction",
            database.db
              .transaction(async (tx) => {
                await tx.execute(sql`select 1`);
                own.cut();
                await new Promise((r) => setTimeout(r, 100)); // the cut reaches the client
                if (cutWhile === "between statements") await tx.execute(sql`select 2`);
              })
              .then(
                () => "committed",
                (e: unknown) => (isStorageUnavailable(e) ? "storage unavailable" : `other: ${String(e)}`),
              ),
          );
          expect([cutWhile, outcome]).toEqual([cutWhile, "storage unavailable"]);
          own.pass();
          // Let a postgres.js write to the dead connection (the crash this guards against) have its turn.
          await new Promise((r) => setTimeout(r, 200));
          const [row] = (await answered("after", database.db.execute(sql`select 3 as n`))) as unknown as { n: number }[];
          expect(row?.n).toBe(3);
        }
      } finally {
        await database.close();
        await own.stop();
      }
    });
  });

  for (const fault of ["stall", "cut"] as const) {
    describe(`PostgreSQL ${fault === "stall" ? "stalled (never answers)" : "cut (connections destroyed)"}`, () => {
      it("an action answered ok before the fault is committed", async () => {
        const requestId = `before-${fault}`;
        expect(await answered("reply", conn.act("reply", { text: `before the ${fault}`, requestId }))).toMatchObject({ ok: true });
        expect(await storedReplies(requestId)).toBe(1);
      });

      it("room actions answer STORAGE_UNAVAILABLE, HTTP routes 503 with a code, /readyz 503, all in time; then service resumes", async () => {
        fault === "stall" ? proxy.stall() : proxy.cut();
        const requestId = `during-${fault}`;

        const during = await answered("reply", conn.act("reply", { text: `during the ${fault}`, requestId }));
        expect(during).toMatchObject({ ok: false, code: "STORAGE_UNAVAILABLE" });

        const ready = await get("/readyz");
        expect([ready.status, ready.body.ok]).toEqual([503, false]);

        const list = await get("/api/v2/conversations?view=mine", agentToken);
        expect([list.status, list.body.code]).toEqual([503, "STORAGE_UNAVAILABLE"]);

        const chat = await webchat(`wc-${fault}`, "hello during the outage");
        expect([chat.status, chat.body.code]).toEqual([503, "STORAGE_UNAVAILABLE"]);

        proxy.pass();
        await resumed();

        // Not acknowledged, so the client retries with the same request id: applied exactly once.
        const retried = await answered("reply retry", conn.act("reply", { text: `during the ${fault}`, requestId }));
        expect(retried).toMatchObject({ ok: true });
        expect(await storedReplies(requestId)).toBe(1);

        const chatAgain = await webchat(`wc-${fault}`, "hello during the outage");
        expect(chatAgain.status).toBe(202);
        expect((await get("/api/v2/conversations?view=mine", agentToken)).status).toBe(200);
      });
    });
  }
}
