import { randomUUID } from "node:crypto";
import type { Room } from "@colyseus/sdk";
import { and, eq, isNull } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { answerSurvey, surveyForClose } from "../../db/surveys.ts";
import { SURVEY_LIFETIME_MS } from "../../domain/csat.ts";
import { SURVEY_INVITE } from "../../domain/texts.ts";
import { LINE_API_DEFAULT_BASE_URL, useLineApiBaseUrl } from "../../server/channels/line/client.ts";
import { createLineAccount, lineConversation } from "../channels/delivery-support.ts";
import { WORKSPACE } from "../support/demo.ts";
import { FakeLine } from "../support/fakes/line.ts";
import { createConversation, messageRows } from "../support/fixtures.ts";
import { connect, tokenOf } from "../support/rooms.ts";
import { EMAIL, ID, login, sdk, useTestServer, waitFor } from "../support/server.ts";

/**
 * The satisfaction survey (issue 11; SPEC R8.2, R13.1): a close with `csatOnClose` sends the
 * customer a link to a page the server serves, once per close even when the outbox retries; the
 * answer (1–5 and a comment) is stored once and shows in the conversation room and the team room,
 * through real SDK clients.
 */

const PUBLIC_URL = "https://inbox.example";
const app = useTestServer({ env: { PUBLIC_URL } });
let line: FakeLine;
const teams: Room[] = [];

beforeAll(async () => {
  line = await FakeLine.start([]);
  useLineApiBaseUrl(line.url);
});
afterEach(async () => {
  for (const t of teams.splice(0)) await t.leave().catch(() => {});
});
afterAll(async () => {
  useLineApiBaseUrl(LINE_API_DEFAULT_BASE_URL);
  await line.stop();
});

async function settings(patch: Record<string, unknown>) {
  const admin = await login(app, EMAIL.admin);
  const res = await app.http.request("/api/v2/workspace/settings", {
    method: "PATCH",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify(patch),
  });
  expect(res.status).toBe(200);
}

async function answer(token: string, body: unknown, raw?: string) {
  const res = await app.http.request(`/surveys/${encodeURIComponent(token)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function surveysOf(conversationId: string) {
  return app.database.db.select().from(s.surveys).where(eq(s.surveys.conversationId, conversationId));
}

async function joinTeam(): Promise<Room> {
  const room = await sdk(app, await tokenOf(app, "supervisor")).joinOrCreate("team", { workspaceId: WORKSPACE });
  teams.push(room);
  await waitFor(() => (room.state as { workspaceId?: string })?.workspaceId === WORKSPACE);
  return room;
}

/** A LINE conversation followed by Dan, closed by him with `csatOnClose`; resolves once the survey's link went out. */
async function closedWithSurvey() {
  await settings({ csatOnClose: true, autoCloseAfterMinutes: 0 });
  const account = await createLineAccount(app);
  line.tokens.add(account.token);
  const conv = await lineConversation(app, account, { follower: ID.agent });
  const dan = await connect(app, "agent", conv.id);
  expect((await dan.act("close")).ok).toBe(true);
  await waitFor(() => line.pushes.some((p) => p.to === conv.lineUser));
  const [survey] = await surveysOf(conv.id);
  return { conv, dan, survey: survey! };
}

describe("the satisfaction survey (R8.2, R13.1)", () => {
  it("[R8.2][R13.1] a close with csatOnClose on LINE sends the survey link once, as an automatic message through the channel, also when the outbox row runs again", async () => {
    const { conv, dan, survey } = await closedWithSurvey();
    expect(survey).toMatchObject({
      conversationId: conv.id,
      workspaceId: WORKSPACE,
      customerId: conv.customerId,
      score: null,
      answeredAt: null,
    });
    expect(survey.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(survey.expiresAt.getTime() - survey.createdAt.getTime()).toBe(SURVEY_LIFETIME_MS);
    const link = `${PUBLIC_URL}/survey/${survey.token}`;

    const auto = (await messageRows(app, conv.id)).filter((m) => m.sender === "auto");
    expect(auto.map((m) => [m.senderId, m.body])).toEqual([["csat", `${SURVEY_INVITE["zh-TW"]}\n${SURVEY_INVITE.en}\n${link}`]]);
    const pushes = line.pushes.filter((p) => p.to === conv.lineUser);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.texts.join("\n")).toContain(link);
    expect(line.violations()).toEqual([]);
    // The timeline shows it, and the state its survey (not answered yet).
    await waitFor(() => dan.state.messages.some((m: { sender: string; senderId: string }) => m.sender === "auto" && m.senderId === "csat"));
    await waitFor(() => dan.state.csat.surveyId === survey.id);
    expect(dan.state.csat.score).toBe(0);

    // The outbox row runs again (a process died after the send, before marking it done): nothing more goes out.
    const o = s.outbox;
    const rows = await app.database.db.select().from(o).where(eq(o.topic, "send_csat"));
    const mine = rows.filter((r) => (r.payload as { conversationId?: string }).conversationId === conv.id);
    expect(mine).toHaveLength(1);
    await app.database.db
      .update(o)
      .set({ doneAt: null, availableAt: new Date(0) })
      .where(eq(o.id, mine[0]!.id));
    await app.csat.drainAll();
    expect(
      await app.database.db
        .select()
        .from(o)
        .where(and(eq(o.id, mine[0]!.id), isNull(o.doneAt))),
    ).toEqual([]);
    expect(await surveysOf(conv.id)).toHaveLength(1);
    expect((await messageRows(app, conv.id)).filter((m) => m.sender === "auto")).toHaveLength(1);
    await app.delivery.drainAll();
    expect(line.pushes.filter((p) => p.to === conv.lineUser)).toHaveLength(1);
  });

  it("[R8.2] without csatOnClose a close sends no survey", async () => {
    await settings({ csatOnClose: false });
    const conv = await createConversation(app, { channel: "webchat", follower: ID.agent });
    const dan = await connect(app, "agent", conv.id);
    expect((await dan.act("close")).ok).toBe(true);
    await app.csat.drainAll();
    expect(await surveysOf(conv.id)).toEqual([]);
    expect((await messageRows(app, conv.id)).filter((m) => m.sender === "auto")).toEqual([]);
  });

  it("[R8.2][R13.1] the page serves; one answer is stored and shows live in the conversation room and the team room; a second is refused with 409 SURVEY_ANSWERED and changes nothing", async () => {
    const team = await joinTeam();
    const before = (team.state as { csatAnswered: number }).csatAnswered;
    const { conv, dan, survey } = await closedWithSurvey();

    const page = await app.http.request(`/survey/${survey.token}`, { headers: { "accept-language": "zh-TW" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain("/surveys/");
    expect(html).toContain("服務滿意度調查");
    expect(html).not.toMatch(/<script[^>]+src="https?:/); // no CDN
    const state = await app.http.request(`/surveys/${survey.token}`);
    expect(await state.json()).toMatchObject({ state: "open", score: null });

    const r = await answer(survey.token, { score: 4, comment: "  很好，謝謝 👍  " });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ state: "answered", score: 4, comment: "很好，謝謝 👍" });
    await waitFor(() => dan.state.csat.score === 4);
    expect(dan.state.csat.comment).toBe("很好，謝謝 👍");
    expect(dan.state.csat.answeredAt).toBeGreaterThan(0);
    const t = team.state as {
      csatAnswered: number;
      csatAverage: number;
      csatRecent: { surveyId: string; score: number; conversationId: string; customerName: string }[];
    };
    await waitFor(() => t.csatAnswered === before + 1);
    expect(t.csatRecent[0]).toMatchObject({ surveyId: survey.id, score: 4, conversationId: conv.id, customerName: conv.customerName });
    expect(t.csatAverage).toBeGreaterThanOrEqual(1);

    const again = await answer(survey.token, { score: 1 });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: "SURVEY_ANSWERED" });
    const [stored] = await surveysOf(conv.id);
    expect(stored).toMatchObject({ score: 4, comment: "很好，謝謝 👍" });
    // A team room created afterwards reads the same from storage.
    for (const room of teams.splice(0)) await room.leave();
    await waitFor(() => true);
    const fresh = await joinTeam();
    const f = fresh.state as { csatRecent: { surveyId: string }[] };
    await waitFor(() => f.csatRecent.some((i) => i.surveyId === survey.id));
  });

  it("[R8.2] a conversation room restored after the answer shows it; an unknown token is 404, an expired survey 410 SURVEY_EXPIRED", async () => {
    const conv = await createConversation(app, { channel: "line", follower: ID.agent, status: "closed" });
    const now = new Date();
    const made = await surveyForClose(app.database.db, {
      id: randomUUID(),
      token: `tok-${randomUUID()}`,
      closeKey: `${conv.id}:1`,
      conversationId: conv.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 60_000),
    });
    await answerSurvey(app.database.db, made!.token, { score: 5, comment: null }, now);
    const dan = await connect(app, "agent", conv.id);
    expect(dan.state.csat).toMatchObject({ surveyId: made!.id, score: 5, comment: "" });

    expect((await answer("no-such-token", { score: 3 })).status).toBe(404);
    expect((await app.http.request("/surveys/no-such-token")).status).toBe(404);
    const old = await surveyForClose(app.database.db, {
      id: randomUUID(),
      token: `tok-${randomUUID()}`,
      closeKey: `${conv.id}:2`,
      conversationId: conv.id,
      createdAt: new Date(now.getTime() - SURVEY_LIFETIME_MS - 1000),
      expiresAt: new Date(now.getTime() - 1000),
    });
    const expired = await answer(old!.token, { score: 3 });
    expect(expired.status).toBe(410);
    expect(expired.body).toMatchObject({ code: "SURVEY_EXPIRED" });
    expect((await surveysOf(conv.id)).find((x) => x.id === old!.id)).toMatchObject({ score: null, answeredAt: null });
  });

  it("[R8.2] bad answers (wrong types, scores outside 1–5, NUL, 4-byte characters past the comment limit, huge values, unknown fields) get 400 and store nothing", async () => {
    const conv = await createConversation(app, { channel: "line", follower: ID.agent, status: "closed" });
    const now = new Date();
    const made = await surveyForClose(app.database.db, {
      id: randomUUID(),
      token: `tok-${randomUUID()}`,
      closeKey: `${conv.id}:1`,
      conversationId: conv.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + SURVEY_LIFETIME_MS),
    });
    const bad = fc.oneof(
      fc.record({
        score: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 6 }), fc.double({ noInteger: true }), fc.string(), fc.constant(null)),
      }),
      fc.record({ score: fc.integer({ min: 1, max: 5 }), comment: fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string())) }),
      fc.constantFrom<unknown>(
        null,
        [],
        "5",
        5,
        {},
        { score: "5" },
        { score: 5, comment: "a\u0000b" },
        { score: 5, comment: "𠀀".repeat(1001) },
        { score: 5, comment: "x".repeat(1001) },
        { score: 5, extra: 1 },
        { score: Number.MAX_SAFE_INTEGER },
      ),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (body) => {
        const r = await answer(made!.token, body);
        expect(r.status).toBe(400);
        expect(r.body.code).toBe("INVALID_PAYLOAD");
      }),
      { numRuns: 60 },
    );
    expect((await answer(made!.token, undefined, "{nope")).status).toBe(400);
    expect((await answer(made!.token, { score: 5, comment: "x".repeat(100_000) })).status).toBe(413);
    expect((await surveysOf(conv.id))[0]).toMatchObject({ score: null, answeredAt: null });
    // A comment of exactly the limit in 4-byte characters (each one character, two UTF-16 units) is stored.
    expect((await answer(made!.token, { score: 5, comment: "𠀀".repeat(1000) })).status).toBe(200);
  });
});
