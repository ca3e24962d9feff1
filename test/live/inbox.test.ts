import { describe, expect, it } from "vitest";
import { countConversations } from "../../db/lists.ts";
import { SETTLE_MS } from "../../rooms/liveLists.ts";
import type { Role, View } from "../../domain/sets.ts";
import {
  ID,
  type Inbox,
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
import { useTestServer } from "../support/server.ts";
import { seeded } from "../support/random.ts";

/** Live lists of the inbox room (docs/protocol.md §8): `list` deltas and tab counts. */
const app = useTestServer();

interface Placement {
  status: string;
  type: string;
}
interface Delta {
  conversationId: string;
  version: number;
  view: View;
  op: "added" | "moved" | "updated" | "removed";
  from: Placement | null;
  to: Placement | null;
  item: {
    id: string;
    status: string;
    collaborative: boolean;
    unreadCount: number;
    pinned: boolean;
    version: number;
    collaborators: { id: string }[];
  } | null;
}

/** An inbox connection collecting its `list` deltas. */
class Watcher {
  readonly deltas: Delta[] = [];
  constructor(readonly inbox: Inbox) {
    inbox.room.onMessage("list", (d: Delta) => this.deltas.push(d));
    inbox.room.onMessage("list_reset", () => {});
  }

  about(conversationId: string, view?: View): Delta[] {
    return this.deltas.filter((d) => d.conversationId === conversationId && (!view || d.view === view));
  }

  /** Waits until `n` deltas about the conversation (in that view) arrived. */
  async wait(conversationId: string, n: number, view?: View): Promise<Delta[]> {
    await waitFor(() => this.about(conversationId, view).length >= n);
    return this.about(conversationId, view);
  }

  get state(): any {
    return this.inbox.room.state;
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    this.state.counts?.forEach((n: number, key: string) => {
      out[key] = n;
    });
    return out;
  }
}

/**
 * Lets the rooms' count windows pass: a change landing within SETTLE_MS of a count schedules a
 * recount, which would hide a wrong delta. After this, counts stay exact only by their deltas.
 */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, SETTLE_MS + 300));
}

async function watch(who: string): Promise<Watcher> {
  const w = new Watcher(await openInbox(app, who));
  await waitFor(() => w.counts()["mine.pending.regular"] !== undefined);
  return w;
}

/** A fresh count, in the state's keys. */
async function freshCounts(memberId: string, view: View): Promise<Record<string, number>> {
  const counts = await countConversations(app.database.db, { id: memberId, workspaceId: "demo" }, view);
  const out: Record<string, number> = {};
  for (const [status, byType] of Object.entries(counts)) {
    out[`${view}.${status}.regular`] = byType.regular;
    out[`${view}.${status}.collaborative`] = byType.collaborative;
  }
  return out;
}

function onlyView(counts: Record<string, number>, view: View): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([k]) => k.startsWith(`${view}.`)));
}

/** Polls until the room's counts of `view` equal a fresh count, then asserts it (shows the difference on failure). */
async function expectExactCounts(w: Watcher, memberId: string, view: View): Promise<void> {
  const deadline = Date.now() + 15_000;
  let fresh = await freshCounts(memberId, view);
  while (JSON.stringify(sorted(onlyView(w.counts(), view))) !== JSON.stringify(sorted(fresh)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    fresh = await freshCounts(memberId, view);
  }
  expect(onlyView(w.counts(), view)).toEqual(fresh);
}

function sorted(o: Record<string, number>): [string, number][] {
  return Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
}

async function member(role: Role = "agent"): Promise<string> {
  return (await createMember(app, { role })).id;
}

/** One action through the conversation room as `who`; the answer (refusals included). */
async function act(who: string, conversationId: string, type: string, payload: Record<string, unknown> = {}) {
  const conn = await connect(app, who, conversationId);
  try {
    return await conn.act(type, payload);
  } finally {
    await conn.leave();
  }
}

/** As `act`, where a refused join (the actor may not open the conversation) is a refusal too. */
async function tryAct(who: string, conversationId: string, type: string, payload: Record<string, unknown> = {}): Promise<{ ok: boolean }> {
  try {
    return await act(who, conversationId, type, payload);
  } catch (e) {
    if (e instanceof Error && /VIEW_NOT_ALLOWED|NOT_FOUND/.test(e.message)) return { ok: false };
    throw e;
  }
}

describe("the inbox room takes no actions", () => {
  it("a message with a request id is answered UNKNOWN_ACTION with that id, in the member's locale; the room stays open", async () => {
    const inbox = await openInbox(app, "agent2");
    const answer = new Promise<Record<string, unknown>>((resolve) => inbox.room.onMessage("result", resolve));
    inbox.room.send("mark_read", { requestId: "inbox-r-1" });
    expect(await answer).toEqual({ requestId: "inbox-r-1", ok: false, code: "UNKNOWN_ACTION", message: "Unknown action" });
    expect(inbox.room.connection.isOpen).toBe(true);
  });
});

describe("list deltas", () => {
  it("[R10.1] [R8.5] two SDK clients on a member's inbox room see an item move from in_progress to closed after a bulk close done by a third member", async () => {
    // No survey on close here: its message (R8.2, a later change of the row) would move the version past the close's.
    const off = await fetch(`${app.url}/api/v2/workspace/settings`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${await tokenOf(app, "admin")}`, "content-type": "application/json" },
      body: JSON.stringify({ csatOnClose: false }),
    });
    expect(off.status).toBe(200);
    const eve = await member("agent");
    const finn = await member("agent");
    const supervisor = await member("supervisor");
    const c = await createConversation(app, { follower: ID.agent, collaborators: [eve, finn], unread: { [eve]: 2 } });
    // Eve on two devices, Finn (another participant) and a supervisor who does not take part (team view).
    const phone = await watch(eve);
    const laptop = await watch(eve);
    const other = await watch(finn);
    const boss = await watch(supervisor);
    await settle();
    expect(boss.state.teamView).toBe(true);
    expect(phone.state.teamView).toBe(false);

    const r = await fetch(`${app.url}/api/v2/bulk/close`, {
      method: "POST",
      headers: { authorization: `Bearer ${await tokenOf(app, "agent")}`, "content-type": "application/json" },
      body: JSON.stringify({ conversationIds: [c.id] }),
    });
    expect(r.status).toBe(202);

    const moved = {
      view: "mine",
      op: "moved",
      from: { status: "in_progress", type: "collaborative" },
      to: { status: "closed", type: "collaborative" },
    };
    await phone.wait(c.id, 1);
    const row = await conversationRow(app, c.id); // the job has closed it by now
    expect(row.status).toBe("closed");
    for (const w of [phone, laptop]) {
      const [d] = await w.wait(c.id, 1);
      expect(d).toMatchObject({ conversationId: c.id, ...moved });
      expect(d!.version).toBe(row.version);
      // The item is Eve's own: her unread, closed now.
      expect(d!.item).toMatchObject({ id: c.id, status: "closed", collaborative: true, unreadCount: 2, pinned: false });
      await expectExactCounts(w, eve, "mine");
    }
    const [f] = await other.wait(c.id, 1);
    expect(f).toMatchObject(moved);
    expect(f!.item).toMatchObject({ status: "closed", unreadCount: 0 });
    const [t] = await boss.wait(c.id, 1);
    expect(t).toMatchObject({ ...moved, view: "team" });
    expect(boss.about(c.id, "mine")).toEqual([]);
    await expectExactCounts(boss, supervisor, "team");
    await expectExactCounts(boss, supervisor, "mine");
    // Exactly one delta per view and change: nothing doubled.
    expect(phone.about(c.id)).toHaveLength(1);
    expect(laptop.about(c.id)).toHaveLength(1);
  });

  it("[R2.2] [R3.2] [R3.6] an added collaborator sees the item added, a removed one sees it removed; the follower sees it move between types", async () => {
    const follower = await member("agent");
    const x = await member("agent");
    const c = await createConversation(app, { follower });
    const fw = await watch(follower);
    const xw = await watch(x);
    await settle();

    expect((await act(follower, c.id, "add_collaborators", { memberIds: [x] })).ok).toBe(true);
    const [added] = await xw.wait(c.id, 1);
    expect(added).toMatchObject({ view: "mine", op: "added", from: null, to: { status: "in_progress", type: "collaborative" } });
    expect(added!.item!.collaborators.map((m) => m.id)).toEqual([x]);
    await expectExactCounts(xw, x, "mine");
    expect(xw.counts()["mine.in_progress.collaborative"]).toBe(1);
    const [typeMoved] = await fw.wait(c.id, 1);
    expect(typeMoved).toMatchObject({
      op: "moved",
      from: { status: "in_progress", type: "regular" },
      to: { status: "in_progress", type: "collaborative" },
    });

    expect((await act(follower, c.id, "remove_collaborators", { memberIds: [x] })).ok).toBe(true);
    const [, removed] = await xw.wait(c.id, 2);
    expect(removed).toMatchObject({
      view: "mine",
      op: "removed",
      from: { status: "in_progress", type: "collaborative" },
      to: null,
      item: null,
    });
    expect(removed!.version).toBeGreaterThan(added!.version);
    await expectExactCounts(xw, x, "mine");
    expect(xw.counts()["mine.in_progress.collaborative"]).toBe(0);
    const [, back] = await fw.wait(c.id, 2);
    expect(back).toMatchObject({ op: "moved", to: { status: "in_progress", type: "regular" } });
    expect(back!.item!.collaborators).toEqual([]);
    await expectExactCounts(fw, follower, "mine");
  });

  it("[R11.1] [R11.6] [R12.2] a customer message updates each participant's own item (unread + 1); another member's pin sends nothing", async () => {
    const a = await member("agent");
    const b = await member("agent");
    const supervisor = await member("supervisor");
    const c = await createConversation(app, { channel: "webchat", follower: a, collaborators: [b], unread: { [a]: 2 } });
    const aw = await watch(a);
    const bw = await watch(b);
    const sw = await watch(supervisor);

    const sent = await webchat(app, {
      messageId: `live-${c.id}`,
      customer: { id: c.channelUserId, name: c.customerName },
      text: "還在嗎？",
    });
    expect(sent.status).toBe(202);
    const [da] = await aw.wait(c.id, 1);
    const [db] = await bw.wait(c.id, 1);
    const [ds] = await sw.wait(c.id, 1, "team");
    for (const d of [da, db])
      expect(d).toMatchObject({ view: "mine", op: "updated", from: { status: "in_progress", type: "collaborative" } });
    expect(da!.item).toMatchObject({ unreadCount: 3, lastMessagePreview: "還在嗎？" });
    expect(db!.item).toMatchObject({ unreadCount: 1 });
    // The supervisor does not take part: a team delta with their own (zero) unread, no mine delta.
    expect(ds).toMatchObject({ view: "team", op: "updated" });
    expect(ds!.item).toMatchObject({ unreadCount: 0 });
    expect(sw.about(c.id, "mine")).toEqual([]);

    // A pins: only A hears of it.
    expect((await act(a, c.id, "pin")).ok).toBe(true);
    const [, pinA] = await aw.wait(c.id, 2);
    expect(pinA).toMatchObject({ op: "updated", item: { pinned: true, unreadCount: 3 } });
    // Then B pins (B's own delta is the barrier: deltas come in order, so A's pin would be before it).
    expect((await act(b, c.id, "pin")).ok).toBe(true);
    const [, pinB] = await bw.wait(c.id, 2);
    expect(pinB).toMatchObject({ op: "updated", item: { pinned: true, unreadCount: 1 } });
    expect(bw.about(c.id)).toHaveLength(2);
    // And a reply is the supervisor's barrier: neither pin reached them.
    expect((await act(a, c.id, "reply", { text: "在的" })).ok).toBe(true);
    const teamDeltas = await sw.wait(c.id, 2, "team");
    expect(teamDeltas).toHaveLength(2);
    expect(teamDeltas[1]!.item).toMatchObject({ pinned: false, lastMessagePreview: "在的" });
  });

  it("[R10.1] a role change shows or hides the team view: counts appear (exact) and go, team deltas follow", async () => {
    const m = await member("agent");
    const w = await watch(m);
    expect(w.state.teamView).toBe(false);
    expect(Object.keys(onlyView(w.counts(), "team"))).toEqual([]);
    const admin = await tokenOf(app, "admin");

    expect((await api(app, admin, `/api/v2/members/${m}`, { method: "PATCH", body: { role: "cs_manager" } })).status).toBe(200);
    await waitFor(() => w.state.teamView === true);
    await expectExactCounts(w, m, "team");
    const c = await createConversation(app, { follower: ID.agent });
    expect((await act("agent", c.id, "reply", { text: "hi" })).ok).toBe(true);
    const [d] = await w.wait(c.id, 1);
    expect(d).toMatchObject({ view: "team", op: "updated" });

    expect((await api(app, admin, `/api/v2/members/${m}`, { method: "PATCH", body: { role: "agent" } })).status).toBe(200);
    await waitFor(() => w.state.teamView === false);
    expect(Object.keys(onlyView(w.counts(), "team"))).toEqual([]);
    await expectExactCounts(w, m, "mine");
  });
});

// ---- counts under a random sequence ------------------------------------------------------------


describe("counts", () => {
  it("[R10.1] [R10.2] counts in the room state equal a fresh count (mine; mine and team for a supervisor) after a random sequence of actions", async () => {
    const seed = Number(process.env.LIVE_SEED ?? 20261125);
    const rnd = seeded(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const watcher = await member("agent");
    const supervisor = await member("supervisor");
    const pool = [watcher, supervisor, await member("cs_manager"), await member("agent"), await member("agent")];
    const convs = [];
    for (let i = 0; i < 6; i++) {
      const follower = pool[i % pool.length]!;
      const collaborators = i % 2 === 0 ? [pool[(i + 1) % pool.length]!] : [];
      convs.push(
        await createConversation(app, { channel: "webchat", follower, collaborators, status: i === 5 ? "closed" : "in_progress" }),
      );
    }
    // The rooms count after every fixture is written (fixtures bypass the rooms and publish nothing).
    const ww = await watch(watcher);
    const sw = await watch(supervisor);
    await settle();
    const initial = { mine: await freshCounts(watcher, "mine"), team: await freshCounts(supervisor, "team") };

    const done: string[] = [];
    for (let step = 0; step < 30; step++) {
      const c = pick(convs);
      const row = await conversationRow(app, c.id);
      const follower = row.followerId ?? pick(pool);
      const participants = [...(row.followerId ? [row.followerId] : []), ...row.collaboratorIds];
      const outsiders = pool.filter((id) => !participants.includes(id));
      const kind = pick(["reply", "add", "remove", "close", "reopen", "transfer", "pin", "customer"] as const);
      let ok = false;
      if (kind === "reply")
        ok = (await tryAct(pick(participants.length ? participants : [follower]), c.id, "reply", { text: `r${step}` })).ok;
      else if (kind === "add" && outsiders.length)
        ok = (await tryAct(follower, c.id, "add_collaborators", { memberIds: [pick(outsiders)] })).ok;
      else if (kind === "remove" && row.collaboratorIds.length)
        ok = (await tryAct(follower, c.id, "remove_collaborators", { memberIds: [pick(row.collaboratorIds)] })).ok;
      else if (kind === "close") ok = (await tryAct(follower, c.id, "close")).ok;
      else if (kind === "reopen") ok = (await tryAct(pick(participants.length ? participants : [follower]), c.id, "reopen")).ok;
      else if (kind === "transfer") {
        const targets = row.collaboratorIds.length ? row.collaboratorIds : outsiders;
        if (targets.length) ok = (await tryAct(follower, c.id, "transfer", { memberId: pick(targets) })).ok;
      } else if (kind === "pin" && participants.length) ok = (await tryAct(pick(participants), c.id, "pin")).ok;
      else if (kind === "customer") {
        const r = await webchat(app, {
          messageId: `rnd-${c.id}-${step}`,
          customer: { id: c.channelUserId, name: c.customerName },
          text: `c${step}`,
        });
        ok = r.status === 202;
      }
      if (ok) done.push(kind);
    }

    await expectExactCounts(ww, watcher, "mine");
    await expectExactCounts(sw, supervisor, "mine");
    await expectExactCounts(sw, supervisor, "team");
    // The sequence did move conversations between tabs (else the comparison would prove little).
    expect(done.length, `seed ${seed}: ${done.join(",")}`).toBeGreaterThanOrEqual(10);
    const final = { mine: await freshCounts(watcher, "mine"), team: await freshCounts(supervisor, "team") };
    expect(final, `seed ${seed}`).not.toEqual(initial);
    expect(ww.deltas.length).toBeGreaterThan(0);
    // Counts are also exact from a room opened now (a fresh load).
    const late = await watch(pool[2]!);
    await expectExactCounts(late, pool[2]!, "mine");
    await expectExactCounts(late, pool[2]!, "team");
  });
});
