
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { Duplicate, GROUP_COMMIT_MAX } from "../../db/commit.ts";
import { type CommitInput, type CommitResult, VersionConflict, commit, loadConversation, loadMembers } from "../../db/repository.ts";
import * as s from "../../db/schema.ts";
import { type Decision, decide } from "../../domain/decide.ts";
import { NoticeKind } from "../../domain/events.ts";
import type { Conversation } from "../../domain/model.ts";
import { storageKinds } from "../support/db.ts";
import { useSeededDatabase } from "../support/storage.ts";
import { createConversation } from "../support/fixtures.ts";
import type { App } from "../support/server.ts";

/**
 * Group commit (db/commit.ts `CommitQueue`): commits of different conversations issued together
 * share ONE transaction, each keeps its own outcome (version fence, request-id check), a failing
 * one fails none of the others, and every one resolves only after the transaction committed.
 * Run on every storage this machine has (PGlite always; PostgreSQL when DATABASE_URL is set).
 */
describe.each(storageKinds())("group commit on %s", (kind) => {
  const store = useSeededDatabase(kind);

  const now = new Date();
  const app = () => ({ database: store.database }) as unknown as App;

  /** `n` in-progress conversations, each with one customer message already. */
  async function conversations(n: number): Promise<{ c: Conversation; customerId: string }[]> {
    const out: { c: Conversation; customerId: string }[] = [];
    for (let i = 0; i < n; i++) {
      const f = await createConversation(app(), { channel: "line", follower: "demo-agent", texts: ["first"] });
      out.push({ c: (await loadConversation(store.database.db, f.id))!.conversation, customerId: f.customerId });
    }
    return out;
  }

  async function customerMessage(c: Conversation, customerId: string, externalId: string, text: string): Promise<CommitInput> {
    const loaded = (await loadConversation(store.database.db, c.id))!;
    const members = await loadMembers(store.database.db, c.workspaceId, []);
    const decision: Decision = decide(
      c,
      { type: "customer_message", requestId: externalId, text },
      { actor: { type: "customer", id: customerId }, now, members, settings: loaded.settings, timeline: { empty: false, lastAwayAt: null } },
    );
    return { before: c, decision, memberId: null, requestId: externalId, externalId, now };
  }

  async function customerMessagesOf(id: string): Promise<string[]> {
    const rows = await store.database.db
      .select({ body: s.messages.body })
      .from(s.messages)
      .where(sql`${s.messages.conversationId} = ${id} and ${s.messages.sender} = 'customer'`)
      .orderBy(s.messages.seq);
    return rows.map((r) => r.body ?? "");
  }

  /** Runs `inputs` as commits issued in one turn, counting the statements and transactions they cost. */
  async function together(inputs: readonly CommitInput[]): Promise<{ settled: PromiseSettledResult<CommitResult>[]; statements: string[] }> {
    const statements: string[] = [];
    store.database.onStatement = (text) => statements.push(text);
    try {
      const settled = await Promise.allSettled(inputs.map((input) => commit(store.database.db, input)));
      return { settled, statements };
    } finally {
      store.database.onStatement = null;
    }
  }

  it("commits of many conversations issued together go in ONE transaction, each answered with its own result after it committed", async () => {
    const convs = await conversations(12);
    const inputs = await Promise.all(convs.map(({ c, customerId }, i) => customerMessage(c, customerId, `g1-${c.id}`, `group ${i}`)));
    const { settled, statements } = await together(inputs);
    expect(settled.map((r) => r.status)).toEqual(inputs.map(() => "fulfilled"));
    // One BEGIN … COMMIT around the 12 commit statements.
    expect(statements.filter((t) => t === "begin")).toHaveLength(1);
    expect(statements.filter((t) => t.startsWith("with dup"))).toHaveLength(12);
    for (const [i, r] of settled.entries()) {
      const result = (r as PromiseFulfilledResult<CommitResult>).value;
      expect(result.lastSeq).toBe(2);
      expect(result.conversation.version).toBe(convs[i]!.c.version + 1);
      expect(await customerMessagesOf(convs[i]!.c.id)).toEqual(["first", `group ${i}`]);
    }
    expect(GROUP_COMMIT_MAX).toBeGreaterThanOrEqual(12);
  });

  it("in one group, a stale version, a duplicate request and a statement that fails each get their own answer; the others commit", async () => {
    const convs = await conversations(6);
    const [a, b, c, d, e, f] = convs;
    // b's message was accepted before: its retry is a duplicate.
    const first = await commit(store.database.db, await customerMessage(b!.c, b!.customerId, "g2-dup", "once"));
    const stale = await customerMessage(c!.c, c!.customerId, "g2-stale", "stale");
    await commit(store.database.db, await customerMessage(c!.c, c!.customerId, "g2-moved", "moved on"));
    // A notice to a member that does not exist: a foreign key violation half way through d's statement.
    const good = await customerMessage(d!.c, d!.customerId, "g2-broken", "broken");
    const broken: CommitInput = {
      ...good,
      decision: { ...good.decision, notices: [{ recipientId: "nobody", kind: NoticeKind.added_you, actorId: "demo-agent", actorRole: "agent" }] },
    };
    const inputs = [
      await customerMessage(a!.c, a!.customerId, "g2-a", "a"),
      await customerMessage(first.conversation, b!.customerId, "g2-dup", "once"),
      stale,
      broken,
      await customerMessage(e!.c, e!.customerId, "g2-e", "e"),
      await customerMessage(f!.c, f!.customerId, "g2-f", "f"),
    ];
    const { settled } = await together(inputs);
    expect(settled[0]!.status).toBe("fulfilled");
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(Duplicate);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflict);
    expect(settled[3]!.status).toBe("rejected");
    expect((settled[3] as PromiseRejectedResult).reason).not.toBeInstanceOf(Duplicate);
    expect(settled[4]!.status).toBe("fulfilled");
    expect(settled[5]!.status).toBe("fulfilled");
    expect(await customerMessagesOf(a!.c.id)).toEqual(["first", "a"]);
    expect(await customerMessagesOf(b!.c.id)).toEqual(["first", "once"]);
    expect(await customerMessagesOf(c!.c.id)).toEqual(["first", "moved on"]);
    expect(await customerMessagesOf(d!.c.id)).toEqual(["first"]);
    expect(await customerMessagesOf(e!.c.id)).toEqual(["first", "e"]);
    expect(await customerMessagesOf(f!.c.id)).toEqual(["first", "f"]);
    const [row] = await store.database.db.select({ version: s.conversations.version }).from(s.conversations).where(eq(s.conversations.id, d!.c.id));
    expect(row!.version).toBe(d!.c.version);
  });

  it("two commits of one conversation issued together never share a group and run in arrival order: the second meets the version fence of the first", async () => {
    const [one] = await conversations(1);
    const x = await customerMessage(one!.c, one!.customerId, "g3-x", "x");
    const y = await customerMessage(one!.c, one!.customerId, "g3-y", "y");
    const { settled } = await together([x, y]);
    expect(settled[0]!.status).toBe("fulfilled");
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflict);
    expect(await customerMessagesOf(one!.c.id)).toEqual(["first", "x"]);
  });
});
