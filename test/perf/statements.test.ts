import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type Fixture, ID, connect, createConversation, waitFor, webchat } from "../rooms/helpers.ts";
import { type App, useTestServer } from "../support/server.ts";

/**
 * The SQL statements one action costs (BEGIN and COMMIT included, and whatever the action wakes:
 * the outbox drain, the delivery worker), counted through `Database.onStatement`. The bounds are
 * what the hot path costs today: a change that adds statements to it fails here. A count, not a
 * timing; background pollers (outbox, jobs, intake) may add a statement to one sample, so each
 * figure is the least of a few identical samples.
 */

const app = useTestServer();
const SAMPLES = 4;

afterEach(() => {
  app.database.onStatement = null;
});

/** Statements sent while `run` runs and until the database has been quiet for `quietMs`. */
async function statementsOf(target: App, run: () => Promise<void>, quietMs = 150): Promise<string[]> {
  const seen: string[] = [];
  let last = Date.now();
  target.database.onStatement = (text) => {
    seen.push(text);
    last = Date.now();
  };
  try {
    await run();
    last = Date.now();
    while (Date.now() - last < quietMs) await new Promise((r) => setTimeout(r, 20));
    return seen;
  } finally {
    target.database.onStatement = null;
  }
}

/** The least count over `SAMPLES` runs of `sample` (and the statements of that run, for the failure message). */
async function fewest(sample: (i: number) => Promise<string[]>): Promise<string[]> {
  let best: string[] | null = null;
  for (let i = 0; i < SAMPLES; i++) {
    const seen = await sample(i);
    if (!best || seen.length < best.length) best = seen;
  }
  if (process.env.PERF_PRINT) console.log(best?.length, best);
  return best ?? [];
}

async function busyConversation(): Promise<Fixture> {
  return createConversation(app, {
    channel: "webchat",
    follower: ID.agent,
    collaborators: [ID.manager, ID.agent2],
    texts: ["hello"],
  });
}

describe("statements per action", () => {
  it("a Webchat customer message into a collaborative conversation with three clients", async () => {
    const c = await busyConversation();
    const clients = [await connect(app, "agent", c.id), await connect(app, "manager", c.id), await connect(app, "supervisor", c.id, "team")];
    const seen = await fewest(async (i) =>
      statementsOf(app, async () => {
        const r = await webchat(app, { messageId: randomUUID(), customer: { id: c.channelUserId, name: c.customerName }, text: `m${i}` });
        expect(r.status).toBe(202);
        await waitFor(() => clients.every((k) => k.state.messages.at(-1)?.body === `m${i}`));
      }),
    );
    expect(seen.length, seen.join("\n")).toBeLessThanOrEqual(BOUND.customerMessage);
  });

  it("a staff reply in a collaborative conversation", async () => {
    const c = await busyConversation();
    const dan = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);
    const seen = await fewest(async (i) =>
      statementsOf(app, async () => {
        const r = await dan.act("reply", { text: `r${i}` });
        expect(r.ok).toBe(true);
        await waitFor(() => ben.state.messages.at(-1)?.body === `r${i}`);
      }),
    );
    expect(seen.length, seen.join("\n")).toBeLessThanOrEqual(BOUND.staffReply);
  });

  it("a cold room join", async () => {
    const seen = await fewest(async () => {
      const c = await busyConversation();
      return statementsOf(app, async () => {
        const dan = await connect(app, "agent", c.id);
        expect(dan.state.id).toBe(c.id);
      });
    });
    expect(seen.length, seen.join("\n")).toBeLessThanOrEqual(BOUND.coldJoin);
  });
});

/** The bounds: the counts reached (docs/benchmarks.md has the before and after). */
const BOUND = { customerMessage: 25, staffReply: 31, coldJoin: 7 };
