import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { sdk, useTestServer } from "../support/server.ts";
import {
  type Conn,
  ID,
  connect,
  conversationRow,
  createConversation,
  messageRows,
  nextAnonymousResult,
  tokenOf,
} from "./helpers.ts";

const app = useTestServer();

/** The secret test/support/server.ts starts the server with. */
const TEST_SECRET = "test-secret-test-secret-test-secret-42";

/** After a bad message the server keeps serving: someone else's reply, and the sender's own, still work. */
async function stillServing(bad: Conn, other: Conn, id: string) {
  const text = `still here ${Math.random()}`;
  expect(await other.act("reply", { text })).toMatchObject({ ok: true });
  expect((await messageRows(app, id)).some((m) => m.body === text)).toBe(true);
  expect(bad.closed).toBeNull();
  expect(await bad.act("mark_read")).toMatchObject({ ok: true });
}

/**
 * The error a refused join rejects with. A join that neither succeeds nor fails within a few
 * seconds fails the test at once instead of waiting for the test timeout.
 */
async function joinError(join: Promise<unknown>): Promise<Error> {
  const outcome = await Promise.race([
    join.then(
      (room) => ({ kind: "joined" as const, room }),
      (e: unknown) => ({ kind: "refused" as const, err: e as Error }),
    ),
    new Promise<{ kind: "hung" }>((r) => setTimeout(() => r({ kind: "hung" }), 5000)),
  ]);
  if (outcome.kind === "joined") {
    await (outcome.room as { leave(): Promise<unknown> }).leave().catch(() => {});
    throw new Error("the join was accepted");
  }
  if (outcome.kind === "hung") throw new Error("the join was neither accepted nor refused within 5 s");
  return outcome.err;
}

describe("bad input is refused with its code, and the room keeps serving", () => {
  it("wrong types, unknown actions, missing fields, oversized text", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const dan = await connect(app, "agent", c.id);
    const jess = await connect(app, "admin", c.id);
    const cases: [string, Record<string, unknown>, string][] = [
      ["reply", { text: 42 }, "INVALID_PAYLOAD"],
      ["reply", {}, "INVALID_PAYLOAD"],
      ["reply", { text: "   " }, "INVALID_PAYLOAD"],
      ["fly_away", { text: "hi" }, "UNKNOWN_ACTION"],
      ["customer_message", { text: "I am the customer now" }, "UNKNOWN_ACTION"],
      ["member_departed", { memberId: ID.admin }, "UNKNOWN_ACTION"],
      ["transfer", {}, "INVALID_PAYLOAD"],
      ["transfer", { memberId: 7 }, "INVALID_PAYLOAD"],
      ["add_collaborators", { memberIds: ID.agent3 }, "INVALID_PAYLOAD"],
      ["add_collaborators", { memberIds: [] }, "INVALID_PAYLOAD"],
      ["remove_collaborators", { memberIds: [""] }, "INVALID_PAYLOAD"],
      ["add_collaborators", { memberIds: Array.from({ length: 11 }, (_, i) => `m${i}`) }, "INVALID_PAYLOAD"],
      ["reply", { text: "x".repeat(4001) }, "TEXT_TOO_LONG"],
      ["log", { limit: 1000 }, "INVALID_PAYLOAD"],
      ["history", { beforeSeq: "soon" }, "INVALID_PAYLOAD"],
    ];
    for (const [type, payload, code] of cases) {
      const before = (await conversationRow(app, c.id)).version;
      const r = await dan.act(type, payload);
      expect(r, `${type} ${JSON.stringify(payload).slice(0, 60)}`).toMatchObject({ ok: false, code });
      expect(typeof r.message).toBe("string");
      expect((await conversationRow(app, c.id)).version).toBe(before);
      await stillServing(dan, jess, c.id);
    }
    // The longest allowed text goes through.
    expect(await dan.act("reply", { text: "y".repeat(4000) })).toMatchObject({ ok: true });
  });

  it("a payload that is not an object is refused without a request id", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const dan = await connect(app, "agent", c.id);
    const jess = await connect(app, "admin", c.id);
    for (const payload of ["hello", 42, ["reply", "text"], null, true]) {
      const r = await nextAnonymousResult(dan, () => dan.room.send("reply", payload));
      expect(r, JSON.stringify(payload)).toMatchObject({ ok: false, code: "INVALID_PAYLOAD", requestId: null });
      await stillServing(dan, jess, c.id);
    }
    const none = await nextAnonymousResult(dan, () => dan.room.send("close"));
    expect(none).toMatchObject({ ok: false, code: "INVALID_PAYLOAD" });
    await stillServing(dan, jess, c.id);
    expect((await conversationRow(app, c.id)).status).toBe("in_progress");
  });
});

describe("joining is refused", () => {
  it("with a token signed by another secret: UNAUTHENTICATED", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const forged = await new SignJWT({ ws: "demo", role: "admin", tv: 0 })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(ID.admin)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode("another-secret-another-secret-another"));
    const err = await joinError(sdk(app, forged).joinOrCreate("conversation", { conversationId: c.id, view: "mine" }));
    expect(err.message.startsWith("UNAUTHENTICATED")).toBe(true);
    const garbage = await joinError(sdk(app, "not-a-token").joinOrCreate("conversation", { conversationId: c.id, view: "mine" }));
    expect(garbage.message.startsWith("UNAUTHENTICATED")).toBe(true);
    const inbox = await joinError(sdk(app, forged).joinOrCreate("inbox", { memberId: ID.admin }));
    expect(inbox.message.startsWith("UNAUTHENTICATED")).toBe(true);
  });

  it("with an expired token: TOKEN_EXPIRED", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ws: "demo", role: "admin", tv: 0 })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(ID.admin)
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 60)
      .sign(new TextEncoder().encode(TEST_SECRET));
    const err = await joinError(sdk(app, expired).joinOrCreate("conversation", { conversationId: c.id, view: "mine" }));
    expect(err.message.startsWith("TOKEN_EXPIRED")).toBe(true);
  });

  it("from `mine` by a member who is not a participant: VIEW_NOT_ALLOWED", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.agent2] });
    const token = await tokenOf(app, "admin");
    const err = await joinError(sdk(app, token).joinOrCreate("conversation", { conversationId: c.id, view: "mine" }));
    expect(err.message.startsWith("VIEW_NOT_ALLOWED")).toBe(true);
  });

  it("from `team` by a plain agent or a marketing CS (not TEAM_VIEWERS): VIEW_NOT_ALLOWED", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing] });
    for (const who of ["agent", "agent3", "marketing"] as const) {
      const err = await joinError(sdk(app, await tokenOf(app, who)).joinOrCreate("conversation", { conversationId: c.id, view: "team" }));
      expect(err.message.startsWith("VIEW_NOT_ALLOWED"), who).toBe(true);
    }
    // The same participants open it from `mine`.
    await connect(app, "agent", c.id);
    await connect(app, "marketing", c.id);
  });

  it("for an unknown conversation, another workspace's one, or a bad view", async () => {
    const token = await tokenOf(app, "admin");
    const unknown = await joinError(sdk(app, token).joinOrCreate("conversation", { conversationId: "no-such-conversation", view: "team" }));
    expect(unknown.message.startsWith("NOT_FOUND")).toBe(true);

    const db = app.database.db;
    await db
      .insert(s.workspaces)
      .values({ id: "other-ws", name: "Other", settings: { csatOnClose: false, overdueAfterMinutes: 30, autoCloseAfterMinutes: 0 } });
    await db
      .insert(s.customers)
      .values({ id: "other-cust", workspaceId: "other-ws", displayName: "Other", channel: "line", channelUserId: "o-1" });
    await db
      .insert(s.conversations)
      .values({ id: "other-conv", workspaceId: "other-ws", customerId: "other-cust", channel: "line", status: "pending" });
    const foreign = await joinError(sdk(app, token).joinOrCreate("conversation", { conversationId: "other-conv", view: "team" }));
    expect(foreign.message.startsWith("NOT_FOUND")).toBe(true);

    const c = await createConversation(app, { follower: ID.admin });
    const badView = await joinError(sdk(app, token).joinOrCreate("conversation", { conversationId: c.id, view: "everything" }));
    expect(badView.message.startsWith("INVALID_PAYLOAD")).toBe(true);
  });

  it("for another member's inbox: VIEW_NOT_ALLOWED", async () => {
    const err = await joinError(sdk(app, await tokenOf(app, "agent")).joinOrCreate("inbox", { memberId: ID.admin }));
    expect(err.message.startsWith("VIEW_NOT_ALLOWED")).toBe(true);
  });
});

describe("[R1.5] the server is the only judge", () => {
  it("[R1.5] fields the protocol does not know cannot grant rights", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent, ID.manager, ID.marketing] });
    const dan = await connect(app, "agent", c.id);
    const amy = await connect(app, "supervisor", c.id, "team");
    const jess = await connect(app, "admin", c.id);
    const before = await conversationRow(app, c.id);

    const pretend = {
      role: "admin",
      actorId: ID.admin,
      memberId: ID.admin,
      followerId: ID.agent,
      view: "team",
      force: true,
      platform: "mobile",
    };
    expect(await dan.act("close", pretend)).toMatchObject({ ok: false, code: "COLLABORATOR_CANNOT_CLOSE" });
    expect(await dan.act("take_over", pretend)).toMatchObject({ ok: false, code: "TAKE_OVER_NOT_ALLOWED" });
    expect(await dan.act("add_collaborators", { ...pretend, memberIds: [ID.agent3] })).toMatchObject({
      ok: false,
      code: "MANAGE_NOT_ALLOWED",
    });
    // A `type` inside the payload does not change the action: this is still a reply, refused before joining.
    expect(await amy.act("reply", { type: "join", text: "let me in", senderId: ID.admin, participant: true })).toMatchObject({
      ok: false,
      code: "REPLY_NOT_ALLOWED",
    });
    // Limits hold whatever the payload claims.
    expect(await jess.act("add_collaborators", { memberIds: [ID.agent2, ID.agent3, ID.supervisor], max: 10, force: true })).toMatchObject({
      ok: false,
      code: "COLLABORATOR_LIMIT",
    });
    const after = await conversationRow(app, c.id);
    expect({ v: after.version, f: after.followerId, c: after.collaboratorIds, s: after.status }).toEqual({
      v: before.version,
      f: before.followerId,
      c: before.collaboratorIds,
      s: before.status,
    });

    // An accepted action ignores the extra fields: the reply is Dan's, whoever the payload names.
    expect(await dan.act("reply", { text: "signed by me", senderId: ID.admin, sender: "customer", seq: 1 })).toMatchObject({ ok: true });
    const row = (await messageRows(app, c.id)).find((m) => m.body === "signed by me")!;
    expect(row).toMatchObject({ sender: "staff", senderId: ID.agent });
    expect(row.seq).toBeGreaterThan(1);
  });
});
