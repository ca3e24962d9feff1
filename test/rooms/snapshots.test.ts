import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { SNAPSHOT_BATCH_MAX, loadRoomSnapshot, loadRoomSnapshots } from "../../db/snapshot.ts";
import { storageKinds } from "../support/db.ts";
import { ID, WORKSPACE } from "../support/demo.ts";
import { createConversation } from "../support/fixtures.ts";
import type { App } from "../support/server.ts";
import { useSeededDatabase } from "../support/storage.ts";

/**
 * Room restores read together (db/snapshot.ts): a statement for many conversations gives each
 * exactly what reading it alone gives — its own messages, survey and the names it shows, none of
 * another's — and concurrent restores share statements.
 */
describe.each(storageKinds())("room snapshots read together on %s", (kind) => {
  const store = useSeededDatabase(kind);
  const app = () => ({ database: store.database }) as unknown as App;

  /** Three conversations that show different people: followers, collaborators, a system message's subjects, a survey. */
  async function three() {
    const db = store.database.db;
    const a = await createConversation(app(), { follower: ID.admin, collaborators: [ID.agent], texts: ["a1", "a2"] });
    const b = await createConversation(app(), { follower: ID.supervisor, collaborators: [], texts: ["b1"] });
    const c = await createConversation(app(), { follower: null, texts: [] });
    // A system message in `b` naming a member nobody else shows, written by the supervisor.
    await db.insert(s.messages).values({
      conversationId: b.id,
      seq: 2,
      sender: "system",
      senderId: ID.supervisor,
      body: "",
      systemKind: "members_joined",
      subjectIds: [ID.agent2],
      createdAt: new Date(),
    });
    await db.insert(s.surveys).values({
      id: `sv-${b.id}`,
      token: `tok-${b.id}`,
      closeKey: `close-${b.id}`,
      workspaceId: WORKSPACE,
      conversationId: b.id,
      customerId: b.customerId,
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 3600_000),
    });
    return [a, b, c] as const;
  }

  it("gives each conversation what reading it alone gives, and nothing of the others", async () => {
    const db = store.database.db;
    const [a, b, c] = await three();
    const together = await loadRoomSnapshots(db, [a.id, b.id, c.id, "no-such-conversation", a.id], 50);
    expect([...together.keys()].sort()).toEqual([a.id, b.id, c.id].sort());
    for (const f of [a, b, c]) {
      const alone = await loadRoomSnapshots(db, [f.id], 50);
      expect(together.get(f.id)).toEqual(alone.get(f.id));
    }
    const names = (id: string) => [...together.get(id)!.names.keys()].sort();
    expect(names(a.id)).toEqual([ID.admin, ID.agent, a.customerId].sort());
    expect(names(b.id)).toEqual([ID.supervisor, ID.agent2, b.customerId].sort());
    expect(names(c.id)).toEqual([c.customerId]);
    expect(together.get(a.id)!.names.get(a.customerId)).toEqual({ name: a.customerName, role: "customer" });
    expect(together.get(a.id)!.messages.map((m) => m.body)).toEqual(["a1", "a2"]);
    expect(together.get(b.id)!.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(together.get(b.id)!.survey?.id).toBe(`sv-${b.id}`);
    expect(together.get(a.id)!.survey).toBeNull();
    expect(await loadRoomSnapshot(db, "no-such-conversation", 50)).toBeNull();
  });

  it("reads concurrent restores in fewer statements than restores, each as if alone", async () => {
    const db = store.database.db;
    const fixtures = [];
    for (let i = 0; i < 20; i++) fixtures.push(await createConversation(app(), { follower: ID.admin, texts: [`m${i}`] }));
    const statements: string[] = [];
    store.database.onStatement = (text) => {
      if (/\bwith c as\b/.test(text)) statements.push(text);
    };
    let loaded: Awaited<ReturnType<typeof loadRoomSnapshot>>[];
    try {
      loaded = await Promise.all(fixtures.map((f) => loadRoomSnapshot(db, f.id, 50)));
    } finally {
      store.database.onStatement = null;
    }
    expect(statements.length).toBeGreaterThan(0);
    expect(statements.length).toBeLessThan(fixtures.length);
    expect(statements.length).toBeLessThanOrEqual(Math.ceil(fixtures.length / SNAPSHOT_BATCH_MAX) + 2);
    for (const [i, f] of fixtures.entries()) {
      expect(loaded[i]?.loaded.conversation.id).toBe(f.id);
      expect(loaded[i]?.messages.map((m) => m.body)).toEqual([`m${i}`]);
    }
  });
});
