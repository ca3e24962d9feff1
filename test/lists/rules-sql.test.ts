import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findCandidates } from "../../db/candidates.ts";
import { type Database, openDatabase } from "../../db/client.ts";
import { loadTransferShapes } from "../../db/conversations.ts";
import { listLegacyConversations } from "../../db/legacy.ts";
import { overdueCondition } from "../../db/lists.ts";
import * as s from "../../db/schema.ts";
import { bulkTransferable } from "../../domain/bulk.ts";
import { CANDIDATE_ROLES, type CandidateFields, candidateCriteria, isCandidate } from "../../domain/candidates.ts";
import { inLegacyScope, legacyScope } from "../../domain/legacy.ts";
import { isOverdue } from "../../domain/overdue.ts";
import { ROLES, type Role, STATUSES, type Status } from "../../domain/sets.ts";
import { seedDemo } from "../../server/seed.ts";
import { dropDatabase, freshDatabaseUrl, storageKinds } from "../support/db.ts";
import { seeded } from "../support/random.ts";

/**
 * The queries that carry a rule of domain/ (R2.3 candidates, R15.1 legacy lists, R13.3 overdue,
 * R7.5 bulk transfer shapes) agree with the rule's pure predicate, row for row, on generated data
 * and on every storage this machine has. Breaking either side fails here.
 */
describe.each(storageKinds())("rule queries agree with domain/ on %s", (kind) => {
  let database: Database;
  let url: string | undefined;
  const WS = "demo";
  const rand = seeded(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const now = new Date("2026-11-25T10:00:00.000Z");
  const members: CandidateFields[] = [];
  const conversations: {
    id: string;
    status: Status;
    followerId: string | null;
    collaboratorIds: string[];
    kind: "direct" | "group";
    waitingSince: Date | null;
  }[] = [];

  beforeAll(async () => {
    url = kind === "postgres" ? await freshDatabaseUrl() : undefined;
    database = await openDatabase({ databaseUrl: url, dataDir: "memory://" });
    await seedDemo(database.db);
    const db = database.db;
    await db
      .insert(s.workspaces)
      .values({ id: "other", name: "Other", settings: { csatOnClose: false, overdueAfterMinutes: 30, autoCloseAfterMinutes: 0 } });
    const names = ["Nina", "nina_x", "100% Ann", "王小明", "Bob", "Ánh", "a_b"];
    for (let i = 0; i < 40; i++) {
      const m: CandidateFields = {
        id: `g-${i}`,
        workspaceId: rand() < 0.85 ? WS : "other",
        status: pick(["active", "active", "active", "deactivated", "deleted"] as const),
        role: pick(ROLES) as Role,
        name: `${pick(names)} ${i}`,
        email: `${pick(["nina", "x_y", "bob", "ann"])}${i}@Shop.test`,
        phone: rand() < 0.3 ? null : `+8869${String(i).padStart(8, "0")}`,
      };
      members.push(m);
    }
    await db.insert(s.members).values(members.map((m) => ({ ...m, locale: "en" as const, passwordHash: "x" })));
    const staff = members.filter((m) => m.workspaceId === WS).map((m) => m.id);
    for (let i = 0; i < 60; i++) {
      const followerId = rand() < 0.2 ? null : pick(staff);
      const collaboratorIds = followerId && rand() < 0.4 ? [...new Set([pick(staff), pick(staff)])].filter((id) => id !== followerId) : [];
      const status: Status = followerId === null ? "pending" : pick(STATUSES.filter((x) => x !== "pending"));
      const c = {
        id: `gc-${i}`,
        status,
        followerId,
        collaboratorIds,
        kind: rand() < 0.2 ? ("group" as const) : ("direct" as const),
        waitingSince: rand() < 0.25 ? null : new Date(now.getTime() - Math.floor(rand() * 120) * 60_000 - (rand() < 0.1 ? 0 : 1)),
      };
      conversations.push(c);
    }
    await db
      .insert(s.conversations)
      .values(conversations.map((c) => ({ ...c, workspaceId: WS, customerId: "demo-cust-line", channel: "line" as const })));
  });
  afterAll(async () => {
    await database?.close();
    await dropDatabase(url);
  });

  it("[R2.3] findCandidates returns exactly the members isCandidate admits, for every role filter and searches", async () => {
    const demoMembers = (await database.db.select().from(s.members)).map((m) => ({ ...m }));
    for (const conv of conversations.slice(0, 6)) {
      for (const role of CANDIDATE_ROLES) {
        for (const q of [undefined, "nina", "NINA", "_", "%", "0% a", "shop.test", "+8869000000", "王", "á"]) {
          const criteria = candidateCriteria(WS, conv, { role, q });
          const expected = demoMembers
            .filter((m) => isCandidate(m, criteria))
            .map((m) => m.id)
            .sort();
          const got = (await findCandidates(database.db, criteria, 1000)).map((m) => m.id).sort();
          expect(got, `role ${role}, q ${q}, conversation ${conv.id}`).toEqual(expected);
        }
      }
    }
  });

  it("[R15.1] the v1 list holds exactly the conversations inLegacyScope admits, for every role", async () => {
    const stored = await database.db
      .select({
        id: s.conversations.id,
        followerId: s.conversations.followerId,
        collaboratorIds: s.conversations.collaboratorIds,
        status: s.conversations.status,
      })
      .from(s.conversations)
      .where(eq(s.conversations.workspaceId, WS));
    for (const role of ROLES) {
      for (const who of [conversations[1]!.followerId ?? "demo-agent", "demo-agent"]) {
        const scope = legacyScope({ id: who, role });
        for (const status of [undefined, ...STATUSES]) {
          const { rows, total } = await listLegacyConversations(database.db, WS, scope, { status, limit: 1000, offset: 0 });
          const expected = stored.filter((c) => inLegacyScope(c, scope) && (!status || c.status === status)).map((c) => c.id);
          expect(rows.map((r) => r.id).sort()).toEqual([...expected].sort());
          expect(total).toBe(expected.length);
        }
      }
    }
  });

  it("[R13.3] overdueCondition selects exactly the conversations isOverdue calls overdue, for several thresholds", async () => {
    for (const minutes of [1, 10, 30, 60, 10_080]) {
      const c = s.conversations;
      const rows = await database.db
        .select({ id: c.id })
        .from(c)
        .where(and(eq(c.workspaceId, WS), overdueCondition(now, minutes)));
      const stored = await database.db
        .select({ id: c.id, status: c.status, waitingSince: c.waitingSince })
        .from(c)
        .where(eq(c.workspaceId, WS));
      const expected = stored.filter((r) => isOverdue(r, now, minutes)).map((r) => r.id);
      expect(rows.map((r) => r.id).sort(), `threshold ${minutes}`).toEqual(expected.sort());
      if (minutes === 30) expect(expected.length).toBeGreaterThan(0);
    }
  });

  it("[R7.5] the shapes read for a bulk transfer are the workspace's only, and bulkTransferable judges them as stored", async () => {
    const ids = [...conversations.map((c) => c.id), "demo-collab", "unknown-id"];
    const shapes = await loadTransferShapes(database.db, WS, ids);
    expect(shapes.map((r) => r.id).sort()).toEqual([...conversations.map((c) => c.id), "demo-collab"].sort());
    const byId = new Map(conversations.map((c) => [c.id, c]));
    for (const sh of shapes) {
      const c = byId.get(sh.id);
      if (c) expect(bulkTransferable(sh)).toBe(c.kind === "direct" && c.collaboratorIds.length === 0);
    }
    expect(await loadTransferShapes(database.db, "other", ids)).toEqual([]);
  });
});
