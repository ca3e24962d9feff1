import fc from "fast-check";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTION_TYPES } from "../../domain/actions.ts";
import { ERROR_CODES } from "../../domain/errors.ts";
import { MAX_FRAME_BYTES } from "../../rooms/protocol.ts";
import { type App, startTestServer } from "../support/server.ts";
import { type Conn, ID, closeAll, connect, conversationRow, createConversation, type Fixture, waitFor } from "./helpers.ts";

/**
 * Property-based: arbitrary room messages of every type (every action, `history`, `log`, unknown
 * names and numeric types) with arbitrary strings (NUL, lone surrogates, 4-byte characters, texts
 * around the 4,000-character limit), numbers (negative, huge, NaN, fractions), wrong types and
 * unknown fields. Each message gets exactly one coded answer, never STORAGE_UNAVAILABLE or
 * INTERNAL; a refused one changes nothing stored; another client is served throughout. Frames over
 * the limit (100 KB) get the documented 1009 close instead (docs/protocol.md §2.3, §2.6).
 */
let app: App;
/** A full collaborative conversation (Jess → Ben, Cathy, Dan, Eve, Finn) Amy views from `team`. */
let full: Fixture;
/** A 1-on-1 conversation Jess follows (her actions reach the rules, some are accepted). */
let direct: Fixture;
let amy: Conn;
let jess: Conn;
let dan: Conn;

beforeAll(async () => {
  app = await startTestServer();
  full = await createConversation(app, { follower: ID.admin, collaborators: [ID.manager, ID.marketing, ID.agent, ID.agent2, ID.agent3] });
  direct = await createConversation(app, { follower: ID.admin });
  amy = await connect(app, "supervisor", full.id, "team");
  jess = await connect(app, "admin", direct.id);
  dan = await connect(app, "agent", full.id);
}, 60_000);
afterAll(async () => {
  await closeAll();
  await app?.stop();
});

// ---- generators ------------------------------------------------------------------------------

const MESSAGE_TYPES = [...ACTION_TYPES, "history", "log"] as const;

const strings = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) }, // any code point, 4-byte ones and lone surrogates included
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 10 }) },
  { weight: 3, arbitrary: fc.constantFrom("", " ", "\u0000", "a\u0000b", "\ud800", "x\udfff", "😀", "你好", "demo-agent", "x".repeat(101)) },
  { weight: 1, arbitrary: fc.integer({ min: 3995, max: 4005 }).map((n) => "你".repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 3999, max: 4001 }).map((n) => "😀".repeat(n)) },
);

const numbers = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, -1, 0, 1, 1.5, 100, 101, 2 ** 31 - 1, 2 ** 31, 2 ** 53, 1e308),
);

const anything = fc.oneof(
  strings,
  numbers,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(strings, { maxLength: 12 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** `"track"`: a fresh valid request id is put there when sending, so the answer can be matched. */
const requestIds = fc.oneof({ weight: 6, arbitrary: fc.constant("track" as const) }, { weight: 2, arbitrary: anything }, { weight: 1, arbitrary: fc.constant("absent" as const) });

/**
 * Each field is mostly well-formed, so that one bad field at a time reaches the checks behind the
 * others (a page request whose only fault is a `beforeSeq` beyond the integer range, a reply whose
 * only fault is its length). Member ids name nobody: an accepted add or transfer would move the
 * fuzzing members out of their conversations.
 */
const fields = {
  text: fc.oneof({ weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) }, { weight: 2, arbitrary: strings }, { weight: 1, arbitrary: anything }),
  memberIds: fc.oneof(
    { weight: 3, arbitrary: fc.array(fc.constantFrom("m-nobody", "m-nobody-2", "x"), { minLength: 1, maxLength: 3 }) },
    { weight: 2, arbitrary: fc.array(strings, { maxLength: 12 }) },
    { weight: 1, arbitrary: anything },
  ),
  memberId: fc.oneof({ weight: 3, arbitrary: fc.constantFrom("m-nobody", "x") }, { weight: 2, arbitrary: strings }, { weight: 1, arbitrary: anything }),
  beforeSeq: fc.oneof(
    { weight: 3, arbitrary: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(2 ** 31 - 1, 2 ** 31, 2 ** 40, 2 ** 53 - 1)) },
    { weight: 2, arbitrary: numbers },
    { weight: 1, arbitrary: anything },
  ),
  limit: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 100 }) }, { weight: 2, arbitrary: numbers }, { weight: 1, arbitrary: anything }),
  extra: fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: fc.dictionary(strings, anything, { maxKeys: 3 }) }),
};

const payloads = fc.oneof(
  { weight: 9, arbitrary: fc.record({ requestId: requestIds, ...fields }, { requiredKeys: ["requestId"] }) },
  { weight: 1, arbitrary: fc.oneof(strings, numbers, fc.constant(null), fc.boolean(), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 })) },
);

const types = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ACTION_TYPES) },
  { weight: 3, arbitrary: fc.constantFrom("history", "log") },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 200 }) },
);

const messages = fc.record({ who: fc.constantFrom("amy", "jess"), type: types, payload: payloads });

// ---- sending --------------------------------------------------------------------------------

const packr = new Packr(); // the SDK's encoder (@colyseus/sdk Room: `new Packr()`)
let serial = 0;

/** The payload as it goes out: the tracked request id filled in, an absent one removed. */
function materialize(payload: unknown): { payload: unknown; requestId: unknown } {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return { payload, requestId: undefined };
  const { requestId, extra, ...rest } = payload as Record<string, unknown> & { extra?: Record<string, unknown> };
  const id = requestId === "track" ? `fz-${++serial}` : requestId;
  const out: Record<string, unknown> = { ...(extra ?? {}), ...rest };
  if (requestId !== "absent") out.requestId = id;
  return { payload: out, requestId: requestId === "absent" ? undefined : id };
}

/** Bytes on the wire: protocol byte, the type (string: length-prefixed; number: msgpack), the payload. */
function frameBytes(type: string | number, payload: unknown): number {
  const typeBytes = typeof type === "string" ? 1 + Buffer.byteLength(type) + 4 : 9;
  return 1 + typeBytes + (payload === undefined ? 0 : packr.pack(payload).length);
}

/** The request id the answer must carry (docs/protocol.md §2.3): a string as sent (as UTF-8 carried it), else null. */
function expectedEcho(payload: unknown, requestId: unknown): string | null {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return null;
  return typeof requestId === "string" ? requestId.replace(/\p{Cs}/gu, "\ufffd") : null; // lone surrogates travel as U+FFFD
}

/** Waits for the next answer on `conn` after `index` (each message is answered before the next is sent). */
async function answerAt(conn: Conn, index: number) {
  await waitFor(() => conn.results.length > index, 10_000).catch(() => {
    throw new Error("no answer");
  });
  return conn.results[index]!;
}

async function stamp(id: string) {
  const row = await conversationRow(app, id);
  return { version: row.version, lastSeq: row.lastSeq, status: row.status, follower: row.followerId, collaborators: row.collaboratorIds };
}

const sent = { amy: 0, jess: 0 };

describe("every room message is answered exactly once with a code (property-based)", () => {
  it("arbitrary messages of every type: one coded answer each, never STORAGE_UNAVAILABLE/INTERNAL, refusals change nothing", async () => {
    const codes = new Set<string>(ERROR_CODES);
    const seenTypes = new Set<string | number>();
    await fc.assert(
      fc.asyncProperty(messages, async ({ who, type, payload: raw }) => {
        const { payload, requestId } = materialize(raw);
        fc.pre(frameBytes(type, payload) <= MAX_FRAME_BYTES - 64); // oversized frames: the next test
        const conn = who === "amy" ? amy : jess;
        const id = who === "amy" ? full.id : direct.id;
        const before = await stamp(id);
        const index = sent[who]++;
        conn.room.send(type, payload);
        const r = await answerAt(conn, index);
        seenTypes.add(type);
        expect(r.requestId).toBe(expectedEcho(payload, requestId));
        expect(typeof r.ok).toBe("boolean");
        if (!r.ok) {
          expect(codes.has(r.code!), `unknown code ${r.code}`).toBe(true);
          expect(typeof r.message).toBe("string");
          expect(["STORAGE_UNAVAILABLE", "INTERNAL"]).not.toContain(r.code);
          expect(await stamp(id)).toEqual(before);
        }
        expect(conn.closed).toBeNull();
      }),
      { seed: 42, numRuns: 300 },
    );
    for (const t of MESSAGE_TYPES) expect(seenTypes.has(t), `type ${t} was generated`).toBe(true);

    // No late or second answers: a last request on each connection is the next answer, and the
    // counts match what was sent.
    for (const who of ["amy", "jess"] as const) {
      const conn = who === "amy" ? amy : jess;
      const last = await conn.act("mark_read");
      sent[who]++;
      expect(last.ok).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      expect(conn.results.length).toBe(sent[who]);
    }
    // Another client was served throughout.
    expect(await dan.act("reply", { text: "after the fuzz" })).toMatchObject({ ok: true });
  }, 120_000);

  it("frames over the limit (up to 100 KB) of any type close the sender with 1009; nothing changes; others are served", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...MESSAGE_TYPES, "nope"), fc.constantFrom("text", "memberId", "extra"), fc.integer({ min: MAX_FRAME_BYTES + 1, max: 100_000 }), async (type, field, size) => {
        const conn = await connect(app, "supervisor", full.id, "team");
        const before = await stamp(full.id);
        conn.room.send(type, { requestId: "too-big", [field]: "z".repeat(size) });
        await waitFor(() => conn.closed !== null);
        expect(conn.closed!.code).toBe(1009);
        expect(conn.results).toEqual([]);
        expect(await stamp(full.id)).toEqual(before);
        expect(await dan.act("mark_read")).toMatchObject({ ok: true });
      }),
      { seed: 42, numRuns: 6 },
    );
  }, 60_000);
});
