import { matchMaker } from "@colyseus/core";
import type { Room } from "@colyseus/sdk";
import { and, eq, ne } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { countConversations, listConversations } from "../../db/lists.ts";
import * as s from "../../db/schema.ts";
import type { Status } from "../../domain/sets.ts";
import { TeamRoom } from "../../rooms/TeamRoom.ts";
import { otherWorkspaceConversation } from "../http/fixtures.ts";
import {
  type DemoKey,
  ID,
  WORKSPACE,
  api,
  connect,
  conversationRow,
  createConversation,
  createMember,
  openInbox,
  tokenOf,
  waitFor,
  webchat,
} from "../rooms/helpers.ts";
import { sdk, useTestServer } from "../support/server.ts";
import { seeded } from "../support/random.ts";

/** The team room (docs/protocol.md §9) against a real server and SDK clients. */
const app = useTestServer();
// Runs before useTestServer's own `closeAll` (hooks after each test run in reverse order).
afterEach(leaveTeams);

// ---- team room connections -------------------------------------------------------------------

const teams: Room[] = [];
/** Rooms the server already closed: leaving them again would wait for nothing. */
const gone = new WeakSet<Room>();
async function leaveTeams(): Promise<void> {
  await Promise.all(teams.splice(0).map((r) => (gone.has(r) ? undefined : r.leave().catch(() => {}))));
}

/** Waits until no team room is alive, so the next join creates one from a fresh snapshot. */
async function noTeamRoom(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await matchMaker.query({ name: "team" })).length > 0) {
    if (Date.now() > deadline) throw new Error("a team room is still alive");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Joins the demo workspace's team room and waits for its first state. */
async function joinTeam(who: DemoKey | string): Promise<Room> {
  const room = await sdk(app, await tokenOf(app, who)).joinOrCreate("team", { workspaceId: WORKSPACE });
  teams.push(room);
  room.onLeave(() => gone.add(room));
  await waitFor(() => (room.state as { workspaceId?: string })?.workspaceId === WORKSPACE);
  return room;
}

/** The SDK's rejection of a join (an accepted join fails the test). */
async function refused(join: Promise<Room>): Promise<{ code?: number; message?: string }> {
  try {
    const room = await join;
    await room.leave().catch(() => {});
  } catch (err) {
    return err as { code?: number; message?: string };
  }
  throw new Error("the join was accepted");
}

// ---- what the room shows, and what fresh queries say it should show ---------------------------

interface Dashboard {
  counts: Record<string, number>;
  members: Record<string, { name: string; role: string; status: string; online: boolean; following: number; collaborating: number }>;
  overdue: { conversationId: string; customerName: string; channel: string; status: string; followerId: string; waitingSince: number }[];
  overdueTotal: number;
}

function shown(room: Room): Dashboard {
  const st = room.state as any;
  const counts: Dashboard["counts"] = {};
  st.counts.forEach((n: number, k: string) => {
    counts[k] = n;
  });
  const members: Dashboard["members"] = {};
  st.members.forEach((m: any, id: string) => {
    members[id] = {
      name: m.name,
      role: m.role,
      status: m.status,
      online: m.online,
      following: m.following,
      collaborating: m.collaborating,
    };
  });
  const overdue: Dashboard["overdue"] = [];
  st.overdue.forEach((o: any) => {
    overdue.push({
      conversationId: o.conversationId,
      customerName: o.customerName,
      channel: o.channel,
      status: o.status,
      followerId: o.followerId,
      waitingSince: o.waitingSince,
    });
  });
  return { counts, members, overdue, overdueTotal: st.overdueTotal };
}

/**
 * The dashboard computed afresh: counts by the lists' own count query, loads by counting the
 * stored conversations, overdue by the lists' overdue order and flag (R13.3).
 */
async function expected(online: ReadonlySet<string> = new Set()): Promise<Dashboard> {
  const db = app.database.db;
  const viewer = { id: ID.admin, workspaceId: WORKSPACE };
  const c = await countConversations(db, viewer, "team");
  const counts: Dashboard["counts"] = {};
  for (const [status, t] of Object.entries(c)) {
    counts[`${status}.regular`] = t.regular;
    counts[`${status}.collaborative`] = t.collaborative;
  }
  const convs = await db
    .select({ status: s.conversations.status, followerId: s.conversations.followerId, collaboratorIds: s.conversations.collaboratorIds })
    .from(s.conversations)
    .where(eq(s.conversations.workspaceId, WORKSPACE));
  const rows = await db
    .select()
    .from(s.members)
    .where(and(eq(s.members.workspaceId, WORKSPACE), ne(s.members.status, "deleted")));
  const members: Dashboard["members"] = {};
  for (const m of rows) {
    const open = convs.filter((x) => x.status !== "closed");
    members[m.id] = {
      name: m.name,
      role: m.role,
      status: m.status,
      online: online.has(m.id),
      following: open.filter((x) => x.followerId === m.id).length,
      collaborating: open.filter((x) => x.collaboratorIds.includes(m.id)).length,
    };
  }
  const overdueItems = [];
  for (const status of ["pending", "in_progress"] as Status[]) {
    const page = await listConversations(db, viewer, { view: "team", status, type: "all", sort: "overdue", limit: 500 }, new Date());
    overdueItems.push(...page.items.filter((i) => i.overdue));
  }
  overdueItems.sort((a, b) => a.waitingSince!.localeCompare(b.waitingSince!) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    counts,
    members,
    overdue: overdueItems.slice(0, 100).map((i) => ({
      conversationId: i.id,
      customerName: i.customer.name,
      channel: i.channel,
      status: i.status,
      followerId: i.follower?.id ?? "",
      waitingSince: Date.parse(i.waitingSince!),
    })),
    overdueTotal: overdueItems.length,
  };
}

/** Waits until the room shows what fresh queries say (state patches are asynchronous), then compares. */
async function settlesTo(room: Room, want: Dashboard): Promise<void> {
  await waitFor(() => JSON.stringify(shown(room)) === JSON.stringify(want), 10_000).catch(() => {});
  expect(shown(room)).toEqual(want);
}

async function setWaitingSince(conversationId: string, at: Date | null): Promise<void> {
  await app.database.db.update(s.conversations).set({ waitingSince: at }).where(eq(s.conversations.id, conversationId));
}


// ---- tests ---------------------------------------------------------------------------------

describe("the team room", () => {
  it("admits TEAM_VIEWERS of the workspace only; bad options, other roles and other workspaces are refused", async () => {
    for (const who of ["admin", "supervisor", "manager"] as const) {
      const room = await joinTeam(who);
      expect(room.roomId).toBe(`team-${WORKSPACE}`);
    }
    for (const who of ["agent", "marketing"] as const) {
      const err = await refused(sdk(app, await tokenOf(app, who)).joinOrCreate("team", { workspaceId: WORKSPACE }));
      expect([who, err.code, err.message?.split(":")[0]]).toEqual([who, 403, "VIEW_NOT_ALLOWED"]);
    }
    const other = await otherWorkspaceConversation(app);
    const cross = await refused(sdk(app, await tokenOf(app, "admin")).joinOrCreate("team", { workspaceId: other.workspaceId }));
    expect([cross.code, cross.message?.split(":")[0]]).toEqual([403, "VIEW_NOT_ALLOWED"]);
    // The other workspace's own admin is refused here too.
    const outsider = await refused(sdk(app, await tokenOf(app, other.memberId)).joinOrCreate("team", { workspaceId: WORKSPACE }));
    expect(outsider.code).toBe(403);
    for (const bad of [{}, { workspaceId: 5 }, { workspaceId: "" }]) {
      const err = await refused(sdk(app, await tokenOf(app, "admin")).joinOrCreate("team", bad));
      expect([err.code, err.message?.split(":")[0]]).toEqual([400, "INVALID_PAYLOAD"]);
    }
    const anonymous = await refused(sdk(app, "not-a-token").joinOrCreate("team", { workspaceId: WORKSPACE }));
    expect(anonymous.code).toBe(401);

    // Read-only: a message is refused, with its request id.
    const room = teams[0]!;
    const answer = new Promise<any>((resolve) => room.onMessage("result", resolve));
    room.send("close", { requestId: "r-1" });
    expect(await answer).toMatchObject({ requestId: "r-1", ok: false, code: "UNKNOWN_ACTION" });
  });

  it("[R10.1] TeamRoom counts and loads equal a fresh count query after a random sequence of actions", async () => {
    const seed = Number(process.env.TEAM_SEED ?? 20261125);
    const rand = seeded(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const pool = [ID.agent, ID.agent2, ID.agent3, ID.supervisor, ID.manager, ID.marketing];
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);

    // Conversations written before the room exists: its snapshot must hold them.
    const convs: string[] = [];
    const webchatCustomers: { id: string; name: string }[] = [];
    for (const spec of [
      { channel: "webchat" as const, follower: null },
      { channel: "webchat" as const, follower: ID.agent },
      { channel: "webchat" as const, follower: ID.agent2, collaborators: [ID.manager] },
      { follower: ID.agent, collaborators: [ID.agent2, ID.supervisor] },
      { follower: ID.manager },
      { follower: ID.supervisor, collaborators: [ID.agent3] },
      { follower: ID.agent3, status: "closed" as const },
      { follower: ID.marketing, collaborators: [ID.agent], status: "closed" as const },
    ]) {
      const f = await createConversation(app, spec);
      convs.push(f.id);
      if (spec.channel === "webchat") webchatCustomers.push({ id: f.channelUserId, name: f.customerName });
    }
    for (const id of convs.slice(0, 4)) await setWaitingSince(id, twoHoursAgo); // overdue at once

    await noTeamRoom();
    const room = await joinTeam("admin");
    await settlesTo(room, await expected());

    const outcomes = { ok: 0, refused: 0 };
    for (let step = 0; step < 30; step++) {
      // Mostly actions the rules accept (a closed conversation is mostly reopened), some refused.
      const id = pick(convs);
      const row = await conversationRow(app, id);
      const openActions = ["reply", "add", "remove", "close", "transfer"] as const;
      const kind =
        rand() < 0.25
          ? "customer"
          : row.status === "closed"
            ? rand() < 0.8
              ? "reopen"
              : pick(openActions)
            : rand() < 0.1
              ? "reopen"
              : pick(openActions);
      if (kind === "customer") {
        const fresh = rand() < 0.25;
        const customer = fresh ? { id: `team-visitor-${seed}-${step}`, name: `Visitor ${step}` } : pick(webchatCustomers);
        const r = await webchat(app, { messageId: `team-${seed}-${step}`, customer, text: `hello ${step}` });
        expect(r.status).toBe(202);
        if (fresh) {
          webchatCustomers.push(customer);
          convs.push(r.body.conversationId);
        }
        outcomes.ok++;
        continue;
      }
      const follower = row.followerId;
      const collaborators = row.collaboratorIds;
      const asFollower = follower ? { who: follower, view: "mine" as const } : { who: ID.admin, view: "team" as const };
      let actor = asFollower;
      let type: string = kind;
      let payload: Record<string, unknown> = {};
      if (kind === "reply") {
        payload = { text: `reply ${step}` };
      } else if (kind === "add") {
        type = "add_collaborators";
        const candidates = [...pool, ID.admin].filter((m) => m !== follower && !collaborators.includes(m));
        payload = { memberIds: [pick(candidates)] };
      } else if (kind === "remove") {
        if (collaborators.length === 0) {
          type = "reply";
          payload = { text: `reply ${step}` };
        } else {
          type = "remove_collaborators";
          payload = { memberIds: [pick(collaborators)] };
        }
      } else if (kind === "reopen") {
        if (rand() < 0.5) actor = { who: ID.admin, view: "team" };
      } else if (kind === "transfer") {
        if (collaborators.length > 0) {
          payload = { memberId: pick(collaborators) };
        } else {
          actor = { who: ID.admin, view: "team" }; // 1-on-1 or pending: a TEAM_VIEWER assigns
          payload = { memberId: pick(pool.filter((m) => m !== follower)) };
        }
      }
      const conn = await connect(app, actor.who, id, actor.view);
      const r = await conn.act(type, payload);
      outcomes[r.ok ? "ok" : "refused"]++;
      await conn.leave();
    }
    // The sequence did change things (a refused action changes nothing and proves little).
    expect(outcomes.ok).toBeGreaterThanOrEqual(20);

    await settlesTo(room, await expected());
    // A second viewer joining now gets the same picture from the room's state.
    const second = await joinTeam("supervisor");
    await settlesTo(second, await expected());
  });

  it("a member's online flag follows their inbox connections", async () => {
    const room = await joinTeam("admin");
    const onlineOf = (id: string) => shown(room).members[id]?.online;
    await waitFor(() => onlineOf(ID.agent2) === false);

    const phone = await openInbox(app, "agent2");
    await waitFor(() => onlineOf(ID.agent2) === true);
    const web = await openInbox(app, "agent2"); // a second device
    await phone.leave();
    await new Promise((r) => setTimeout(r, 300));
    expect(onlineOf(ID.agent2)).toBe(true); // one device is still connected
    await web.leave();
    await waitFor(() => onlineOf(ID.agent2) === false);

    // A room created while a member is online loads the flag from the presence hash.
    await openInbox(app, "agent3");
    await leaveTeams();
    await noTeamRoom();
    const later = await joinTeam("manager");
    await waitFor(() => shown(later).members[ID.agent3]?.online === true);
    expect(shown(later).members[ID.agent2]?.online).toBe(false);
  });

  it("[R13.3] a conversation becomes overdue in the team room when its waiting time passes the threshold", async () => {
    const admin = await tokenOf(app, "admin");
    const saved = TeamRoom.overdueIntervalMs;
    TeamRoom.overdueIntervalMs = 200;
    try {
      expect((await api(app, admin, "/api/v2/workspace/settings", { method: "PATCH", body: { overdueAfterMinutes: 1 } })).status).toBe(200);
      const f = await createConversation(app, { follower: ID.agent, channel: "facebook" });
      const waitingSince = Date.now() - 55_000; // 5 s short of the one-minute threshold
      await setWaitingSince(f.id, new Date(waitingSince));

      await noTeamRoom();
      const room = await joinTeam("admin");
      const overdueIds = () => shown(room).overdue.map((o) => o.conversationId);
      await waitFor(() => (room.state as { overdueAfterMinutes?: number }).overdueAfterMinutes === 1);
      expect(overdueIds()).not.toContain(f.id);

      // Nothing happens to the conversation: time alone makes it overdue.
      await waitFor(() => overdueIds().includes(f.id), 20_000);
      expect(Date.now()).toBeGreaterThanOrEqual(waitingSince + 60_000);
      expect(shown(room).overdue.find((o) => o.conversationId === f.id)).toEqual({
        conversationId: f.id,
        customerName: f.customerName,
        channel: "facebook",
        status: "in_progress",
        followerId: ID.agent,
        waitingSince,
      });
      await settlesTo(room, await expected());

      // The follower answers: the conversation is not waiting any more.
      const conn = await connect(app, "agent", f.id);
      expect((await conn.act("reply", { text: "sorry for the wait" })).ok).toBe(true);
      await waitFor(() => !overdueIds().includes(f.id));
      await settlesTo(room, await expected());
    } finally {
      TeamRoom.overdueIntervalMs = saved;
      await api(app, admin, "/api/v2/workspace/settings", { method: "PATCH", body: { overdueAfterMinutes: 30 } });
    }
  });

  it("a deactivated member shows as deactivated, offline and without load; their own team connection closes with 4104", async () => {
    const x = await createMember(app, { name: "Xander", role: "supervisor" });
    await createConversation(app, { follower: x.id }); // 1-on-1: back to pending (R14.4)
    await createConversation(app, { follower: x.id, collaborators: [ID.agent2] }); // Eve follows (R14.4)
    await createConversation(app, { follower: ID.agent, collaborators: [x.id] }); // removed (R14.1)
    await createConversation(app, { follower: x.id, status: "closed" }); // closed: no load either way

    await noTeamRoom();
    const room = await joinTeam("admin");
    const xTeam = await joinTeam(x.id);
    let xClosed = 0;
    xTeam.onLeave((code: number) => {
      xClosed = code;
    });
    await openInbox(app, x.id);
    await waitFor(() => shown(room).members[x.id]?.online === true);
    expect(shown(room).members[x.id]).toEqual({
      name: "Xander",
      role: "supervisor",
      status: "active",
      online: true,
      following: 2,
      collaborating: 1,
    });
    await settlesTo(room, await expected(new Set([x.id])));

    const r = await api(app, await tokenOf(app, "admin"), `/api/v2/members/${x.id}/deactivate`, { method: "POST" });
    expect(r.status).toBe(202);
    await waitFor(() => xClosed !== 0);
    expect(xClosed).toBe(4104);
    await waitFor(() => {
      const m = shown(room).members[x.id];
      return m?.status === "deactivated" && !m.online && m.following === 0 && m.collaborating === 0;
    }, 20_000);
    await settlesTo(room, await expected());
  });
});
