import { CloseCode } from "../../rooms/closeCodes.ts";
import { describe, expect, it } from "vitest";
import { MAX_FRAME_BYTES, MAX_SEQ } from "../../rooms/protocol.ts";
import { sdk, startTestServer, useTestServer } from "../support/server.ts";
import { Conn, ID, connect, conversationRow, createConversation, messageRows, nextAnonymousResult, tokenOf, waitFor, webchat } from "./helpers.ts";

/**
 * The edges of the conversation room's protocol (docs/protocol.md §2.3, §2.6, §2.7, §6): text
 * limits in any script, the frame limit, unstorable text, out-of-range numbers, request ids,
 * history items shaped like the state's, a pending conversation's first follower, shutdown.
 */
const app = useTestServer();

const CJK = "你"; // 3 UTF-8 bytes, one UTF-16 unit
const EMOJI = "😀"; // 4 UTF-8 bytes, two UTF-16 units (one code point)

/** The conversation's version and last seq: what a refused input must leave as it was. */
async function stamp(id: string) {
  const row = await conversationRow(app, id);
  return { version: row.version, lastSeq: row.lastSeq };
}

async function refusedUnchanged(conn: Conn, id: string, type: string, payload: Record<string, unknown>, code: string) {
  const before = await stamp(id);
  const r = await conn.act(type, payload);
  expect(r, `${type} ${JSON.stringify(payload).slice(0, 80)}`).toMatchObject({ ok: false, code });
  expect(await stamp(id)).toEqual(before);
  return r;
}

describe("text limits count characters (code points) in any script", () => {
  it("[R1.3] a reply of 4,000 CJK characters is accepted and reaches the other participants' state", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const jess = await connect(app, "admin", c.id);
    const dan = await connect(app, "agent", c.id);
    const text = CJK.repeat(4000); // 12,000 bytes: three times the transport's old 4 KiB default
    const r = await jess.act("reply", { text });
    expect(r).toMatchObject({ ok: true });
    await waitFor(() => dan.state.messages.at(-1)?.body === text);
    expect(dan.state.messages.at(-1).senderId).toBe(ID.admin);
    expect((await messageRows(app, c.id)).at(-1)!.body).toBe(text);
    expect(jess.closed).toBeNull();
  });

  it("4,001 CJK characters answer TEXT_TOO_LONG, and nothing is stored", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    const r = await refusedUnchanged(jess, c.id, "reply", { text: CJK.repeat(4001) }, "TEXT_TOO_LONG");
    expect(r.issues).toEqual(["text: at most 4000 characters"]);
    expect(jess.closed).toBeNull();
  });

  it("4,000 four-byte emoji are accepted (16,000 bytes, 8,000 UTF-16 units); 4,001 are too long", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const jess = await connect(app, "admin", c.id);
    const dan = await connect(app, "agent", c.id);
    const text = EMOJI.repeat(4000);
    expect(await jess.act("reply", { text })).toMatchObject({ ok: true });
    await waitFor(() => dan.state.messages.at(-1)?.body === text);
    await refusedUnchanged(jess, c.id, "reply", { text: EMOJI.repeat(4001) }, "TEXT_TOO_LONG");
  });

  it("[R11.1] customer messages count the same way: 4,000 emoji over Webchat are accepted and reach the room; 4,001 are 413 TEXT_TOO_LONG", async () => {
    const c = await createConversation(app, { follower: ID.admin, channel: "webchat" });
    const jess = await connect(app, "admin", c.id);
    const customer = { id: c.channelUserId, name: c.customerName };
    const text = EMOJI.repeat(4000);
    expect((await webchat(app, { messageId: `e-${c.id}`, customer, text })).status).toBeLessThan(300);
    await waitFor(() => jess.state.messages.at(-1)?.body === text);
    const before = await stamp(c.id);
    const long = await webchat(app, { messageId: `e2-${c.id}`, customer, text: CJK.repeat(4001) });
    expect([long.status, long.body.code]).toEqual([413, "TEXT_TOO_LONG"]);
    expect(await stamp(c.id)).toEqual(before);
  });

  it("5,000 ASCII characters answer TEXT_TOO_LONG (not a closed connection); spaces around the text do not count", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    await refusedUnchanged(jess, c.id, "reply", { text: "a".repeat(5000) }, "TEXT_TOO_LONG");
    expect(jess.closed).toBeNull();
    expect(await jess.act("reply", { text: `   ${"b".repeat(4000)}   ` })).toMatchObject({ ok: true });
  });
});

describe("the frame limit", () => {
  it("a frame over the limit closes the sender's connection with 1009; others are still served and the sender can come back", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const jess = await connect(app, "admin", c.id);
    const dan = await connect(app, "agent", c.id);
    const before = await stamp(c.id);
    jess.room.send("reply", { requestId: "too-big", text: "x".repeat(MAX_FRAME_BYTES + 1) });
    await waitFor(() => jess.closed !== null);
    expect(jess.closed!.code).toBe(1009);
    expect(jess.results.some((r) => r.requestId === "too-big")).toBe(false);
    expect(await stamp(c.id)).toEqual(before);

    expect(await dan.act("reply", { text: "still served" })).toMatchObject({ ok: true });
    const again = await connect(app, "admin", c.id);
    expect(await again.act("reply", { text: "back again" })).toMatchObject({ ok: true });
  });

  it("100 KB closes with 1009 as well; the longest valid reply of 4-byte characters fits the limit", async () => {
    expect(EMOJI.repeat(4000).length * 2).toBeLessThan(MAX_FRAME_BYTES); // 16,000 bytes of text + envelope
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    jess.room.send("log", { requestId: "huge", limit: 10, pad: "y".repeat(100_000) });
    await waitFor(() => jess.closed !== null);
    expect(jess.closed!.code).toBe(1009);
  });
});

describe("text storage cannot keep is refused at the edge (INVALID_PAYLOAD, the path named)", () => {
  it("NUL in any field, known or not, keys included; nothing changes", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const jess = await connect(app, "admin", c.id);
    const cases: [string, Record<string, unknown>, string][] = [
      ["reply", { text: "hello\u0000world" }, "text"],
      ["add_collaborators", { memberIds: [ID.agent2, "x\u0000"] }, "memberIds.1"],
      ["transfer", { memberId: "\u0000" }, "memberId"],
      ["close", { note: "\u0000" }, "note"],
      ["mark_read", { extra: { deep: ["ok", "bad\u0000"] } }, "extra.deep.1"],
      ["history", { limit: 5, "k\u0000ey": 1 }, "k\u0000ey (key)"],
      ["log", { q: "\u0000" }, "q"],
    ];
    for (const [type, payload, path] of cases) {
      const r = await refusedUnchanged(jess, c.id, type, payload, "INVALID_PAYLOAD");
      expect(r.issues, type).toEqual([expect.stringMatching(new RegExp(`^${path.replace(/[.()]/g, "\\$&")}: contains a NUL`))]);
    }
    // A request id that cannot be stored is refused too, and echoed as sent.
    const bad = "id-\u0000";
    const r = await jess.send("reply", { requestId: bad, text: "hi" }, bad);
    expect(r).toMatchObject({ ok: false, code: "INVALID_PAYLOAD", requestId: bad });
    expect(jess.closed).toBeNull();
  });

  it("a lone surrogate cannot travel in a room message: UTF-8 MessagePack carries it as U+FFFD (documented)", async () => {
    // The SDK's encoder replaces it, and the server's decoder turns any invalid UTF-8 into U+FFFD,
    // so no lone surrogate reaches the room; HTTP JSON (`"\ud800"`) is where they are refused.
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    expect(await jess.act("reply", { text: "half \ud800 a pair" })).toMatchObject({ ok: true });
    expect((await messageRows(app, c.id)).at(-1)!.body).toBe("half \ufffd a pair");
  });

  it("a join with a NUL in the conversation id is a 400 INVALID_PAYLOAD refusal, with no SQL in it", async () => {
    const token = await tokenOf(app, "admin");
    for (const conversationId of ["t-\u0000", "\ud800", "x".repeat(101)]) {
      const err = (await sdk(app, token)
        .joinOrCreate("conversation", { conversationId, view: "team" })
        .then(
          () => new Error("joined"),
          (e: Error) => e,
        )) as Error & { code?: number };
      expect(err.message.startsWith("INVALID_PAYLOAD:"), err.message).toBe(true);
      expect(err.code).toBe(400);
      expect(err.message).not.toMatch(/select|from|where|insert|query/i);
    }
  });
});

describe("numbers out of range never reach the database", () => {
  it("history and log: beforeSeq above the integer column's range, negative, fractional; limit out of 1–100", async () => {
    const c = await createConversation(app, { follower: ID.admin, texts: ["one", "two"] });
    const jess = await connect(app, "admin", c.id);
    for (const type of ["history", "log"] as const) {
      for (const payload of [
        { beforeSeq: MAX_SEQ + 1 },
        { beforeSeq: 2 ** 53 },
        { beforeSeq: 1e308 },
        { beforeSeq: -1 },
        { beforeSeq: 0 },
        { beforeSeq: 1.5 },
        { beforeSeq: Number.NaN },
        { limit: 0 },
        { limit: 101 },
        { limit: Number.POSITIVE_INFINITY },
      ]) {
        const r = await jess.act(type, payload);
        expect(r, `${type} ${JSON.stringify(payload)}`).toMatchObject({ ok: false, code: "INVALID_PAYLOAD" });
        expect(r.issues).toBeDefined();
      }
      // The largest beforeSeq there is, is accepted.
      expect(await jess.act(type, { beforeSeq: MAX_SEQ, limit: 100 })).toMatchObject({ ok: true });
    }
  });
});

describe("request ids", () => {
  it("a request id over 100 characters is echoed whole and refused with INVALID_PAYLOAD", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    const long = `r-${"x".repeat(148)}`;
    for (const type of ["reply", "close", "history"]) {
      const before = await stamp(c.id);
      const r = await jess.send(type, { requestId: long, text: "hi" }, long);
      expect(r).toMatchObject({ ok: false, code: "INVALID_PAYLOAD", requestId: long });
      expect(r.issues).toEqual([expect.stringMatching(/^requestId: /)]);
      expect(await stamp(c.id)).toEqual(before);
    }
  });

  it("a request id that is not a string is answered with requestId null and INVALID_PAYLOAD", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    for (const requestId of [42, true, ["r-1"], { id: "r-1" }, null]) {
      for (const type of ["reply", "history"]) {
        const r = await nextAnonymousResult(jess, () => jess.room.send(type, { requestId, text: "hi" }));
        expect(r, `${type} ${JSON.stringify(requestId)}`).toMatchObject({ ok: false, code: "INVALID_PAYLOAD", requestId: null });
      }
    }
    // An unknown type is UNKNOWN_ACTION whatever its payload, with the request id echoed when it is a string.
    expect(await jess.act("fly", { text: "\u0000" })).toMatchObject({ ok: false, code: "UNKNOWN_ACTION" });
    const numeric = await nextAnonymousResult(jess, () => jess.room.send(7, { requestId: 7 }));
    expect(numeric).toMatchObject({ ok: false, code: "UNKNOWN_ACTION", requestId: null });
  });
});

describe("history items have the state's values", () => {
  it("systemKind, senderId, senderName and body are \"\" (never null) where a message has none, as in the state", async () => {
    const c = await createConversation(app, { follower: ID.admin, texts: ["hello"] });
    const jess = await connect(app, "admin", c.id);
    expect(await jess.act("add_collaborators", { memberIds: [ID.agent] })).toMatchObject({ ok: true });
    expect(await jess.act("reply", { text: "hi" })).toMatchObject({ ok: true });
    await waitFor(() => jess.state.messages.length === 3);
    const page = (await jess.act("history", {})).messages as Record<string, unknown>[];
    expect(page).toHaveLength(3);
    for (const [i, item] of page.entries()) {
      const s = jess.state.messages[i];
      expect({ seq: item.seq, sender: item.sender, senderId: item.senderId, senderName: item.senderName, body: item.body, systemKind: item.systemKind }).toEqual({
        seq: s.seq,
        sender: s.sender,
        senderId: s.senderId,
        senderName: s.senderName,
        body: s.body,
        systemKind: s.systemKind,
      });
    }
    expect(page.map((m) => m.systemKind)).toEqual(["", "members_joined", ""]);
    expect(page[1]).toMatchObject({ senderId: "", senderName: "", body: "", text: "Dan 加入了協作對話" });
  });
});

describe("a pending conversation's first follower", () => {
  it("[R4.2] [R7.3] [R7.4] it cannot be joined (NO_FOLLOWER); a team viewer assigns it with `transfer` from the team view, to another member or to themselves", async () => {
    for (const target of [ID.agent, ID.supervisor]) {
      const c = await createConversation(app, { follower: null });
      expect((await conversationRow(app, c.id)).status).toBe("pending");
      const amy = await connect(app, "supervisor", c.id, "team");
      await refusedUnchanged(amy, c.id, "join", {}, "NO_FOLLOWER");
      expect(await amy.act("transfer", { memberId: target })).toMatchObject({ ok: true });
      const row = await conversationRow(app, c.id);
      expect({ status: row.status, follower: row.followerId, collaborators: row.collaboratorIds }).toEqual({
        status: "in_progress",
        follower: target,
        collaborators: [],
      });
      await waitFor(() => amy.state.follower?.id === target);
    }
  });

  it("[R4.2] a member outside TEAM_VIEWERS cannot open a pending conversation to assign it", async () => {
    const c = await createConversation(app, { follower: null });
    const token = await tokenOf(app, "agent");
    for (const view of ["mine", "team"]) {
      const err = await sdk(app, token)
        .joinOrCreate("conversation", { conversationId: c.id, view })
        .then(
          () => new Error("joined"),
          (e: Error) => e,
        );
      expect(err.message.startsWith("VIEW_NOT_ALLOWED:"), view).toBe(true);
    }
  });
});

describe("storage failures and shutdown (a server of its own)", () => {
  it("with the database gone, actions and queries answer STORAGE_UNAVAILABLE, once each; at shutdown connections close with 4106 (server_restarting: rejoin)", async () => {
    const own = await startTestServer();
    try {
      const c = await createConversation(own, { follower: ID.admin });
      const token = await tokenOf(app, "admin"); // same secret and demo member ids on both servers
      const room = await sdk(own, token).joinOrCreate("conversation", { conversationId: c.id, view: "mine" });
      const jess = new Conn(room);
      await waitFor(() => jess.state?.id === c.id);
      expect(await jess.act("reply", { text: "before" })).toMatchObject({ ok: true });

      await own.database.close(); // storage is really gone: PGlite closed, or the PostgreSQL pool ended
      for (const [type, payload] of [
        ["reply", { text: "after" }],
        ["close", {}],
        ["history", {}],
        ["log", { beforeSeq: 5 }],
      ] as const) {
        const r = await jess.act(type, payload);
        expect(r, type).toMatchObject({ ok: false, code: "STORAGE_UNAVAILABLE" });
        expect(r.message).not.toMatch(/select|insert|update|pglite|postgres/i);
      }
      // Bad input is still refused for what it is, not as a storage failure.
      expect(await jess.act("reply", { text: 7 })).toMatchObject({ ok: false, code: "INVALID_PAYLOAD" });
      const answered = jess.results.filter((r) => r.requestId !== null).map((r) => r.requestId);
      expect(new Set(answered).size).toBe(answered.length);

      // The database is already closed: stopping may complain about closing it again.
      await own.stop().catch(() => {});
      await waitFor(() => jess.closed !== null);
      expect(jess.closed!.code).toBe(CloseCode.restarting);
    } finally {
      await own.stop().catch(() => {});
    }
  });
});
