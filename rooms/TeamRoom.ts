import { type AuthContext, type Client, Room } from "@colyseus/core";
import { ArraySchema, MapSchema, Schema, type } from "@colyseus/schema";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { overdueMinutes } from "../db/lists.ts";
import { type MemberRow, loadMember } from "../db/repository.ts";
import { type TallySnapshot, loadOverdue, loadTeamMembers, readTallySnapshot as readSnapshot } from "../db/team.ts";
import { ErrorCode } from "../domain/errors.ts";
import { type Status, TEAM_VIEWERS } from "../domain/sets.ts";
import type { ConversationChange, ListSummary } from "./feed.ts";
import { SerialLane } from "./lane.ts";
import { type OnlineEvent, onlineMembers } from "./online.ts";
import { activeMember, holdSeat } from "./reconnect.ts";
import { joinError, readOnlyRefusal, verifyForJoin } from "./protocol.ts";
import { CloseCode } from "./closeCodes.ts";
import { services } from "./ports.ts";
import type { MemberChange } from "./revocations.ts";
import { Topic } from "./topics.ts";
import { teamRoomId } from "./roomIds.ts";
import { CsatItem } from "./state.ts";
import { type CsatEvent, CSAT_RECENT, TeamCsat } from "./csat.ts";
import { teamCsat } from "../db/surveys.ts";

// ---- state ---------------------------------------------------------------------------------------

/** One member's row on the dashboard: who they are, whether they are online, what they carry. */
export class MemberLoad extends Schema {
  @type("string") id = "";
  @type("string") name = "";
  @type("string") role = "";
  /** "active" | "deactivated" (deleted members are not listed). */
  @type("string") status = "";
  /** At least one inbox connection open, in any process. */
  @type("boolean") online = false;
  /** Open (pending or in_progress) conversations they follow. */
  @type("number") following = 0;
  /** Open conversations where they are a collaborator. */
  @type("number") collaborating = 0;
}

/** An open conversation waiting longer than the workspace's threshold (R13.3). */
export class OverdueItem extends Schema {
  @type("string") conversationId = "";
  @type("string") customerName = "";
  @type("string") channel = "";
  /** "pending" | "in_progress" */
  @type("string") status = "";
  /** "" when nobody follows. */
  @type("string") followerId = "";
  /** Milliseconds since the epoch: the oldest unanswered customer message. */
  @type("number") waitingSince = 0;
}

export class TeamState extends Schema {
  @type("string") workspaceId = "";
  /** The whole workspace's conversations by `"<status>.<type>"`, type `regular` | `collaborative`; all six keys always present. */
  @type({ map: "number" }) counts = new MapSchema<number>();
  /** Keyed by member id. */
  @type({ map: MemberLoad }) members = new MapSchema<MemberLoad>();
  /** The oldest overdue conversations first, at most `OVERDUE_LIMIT`. */
  @type([OverdueItem]) overdue = new ArraySchema<OverdueItem>();
  /** How many conversations are overdue in all (may exceed `overdue.length`). */
  @type("number") overdueTotal = 0;
  /** The threshold the overdue list was computed with (workspace setting `overdueAfterMinutes`). */
  @type("number") overdueAfterMinutes = 0;
  /** Satisfaction surveys answered in the workspace, all time (R8.2). */
  @type("number") csatAnswered = 0;
  /** Their average score (1–5, two decimals); 0 when none. */
  @type("number") csatAverage = 0;
  /** The newest answers first, at most `CSAT_RECENT`. */
  @type([CsatItem]) csatRecent = new ArraySchema<CsatItem>();
}

/** The most overdue conversations the state lists; `overdueTotal` counts them all. */
export const OVERDUE_LIMIT = 100;

// ---- the tally: counts and loads from per-conversation summaries --------------------------------

/** How long before the snapshot a change may have committed and still be delivered after it. */
export const LATE_CHANGE_MS = 5 * 60_000;

const countKey = (status: Status, collaborative: boolean) => `${status}.${collaborative ? "collaborative" : "regular"}`;
const COUNT_KEYS = (["pending", "in_progress", "closed"] as const).flatMap((st) => [countKey(st, false), countKey(st, true)]);

/** What the tally needs of one side of a change. */
type Side = Pick<ListSummary, "status" | "collaborative" | "followerId" | "collaboratorIds">;

/** The snapshot a tally starts from (db/team.ts); `recent` holds the changes of the last `LATE_CHANGE_MS`. */
export type { TallySnapshot };

/**
 * Counts and loads of one workspace: aggregates read in one snapshot, then every change applied
 * as the difference between its `before` and `after` (changes of one conversation arrive in
 * order, from the one room that makes them). Memory does not grow with the workspace's
 * conversations: only the versions of those changed just before the snapshot are kept, for a
 * while, so that a change committed before the snapshot but delivered after it — already in the
 * aggregates — is recognised by its version and not counted twice.
 */
export class TeamTally {
  readonly counts = new Map<string, number>(COUNT_KEYS.map((k) => [k, 0]));
  readonly following = new Map<string, number>();
  readonly collaborating = new Map<string, number>();
  private recent = new Map<string, number>();

  load(snap: TallySnapshot): void {
    for (const r of snap.counts) this.counts.set(countKey(r.status, r.collaborative), r.n);
    for (const r of snap.following) this.following.set(r.memberId, r.n);
    for (const r of snap.collaborating) this.collaborating.set(r.memberId, r.n);
    this.recent = new Map(snap.recent.map((r) => [r.id, r.version]));
  }

  /** Once no change from before the snapshot can still arrive. */
  forgetSnapshotVersions(): void {
    this.recent.clear();
  }

  /** Applies one change; returns the member ids whose load moved. */
  apply(e: Pick<ConversationChange, "conversationId" | "version" | "before" | "after">): Set<string> {
    const touched = new Set<string>();
    const known = this.recent.get(e.conversationId);
    if (known !== undefined) {
      if (e.version <= known) return touched; // already in the snapshot
      this.recent.set(e.conversationId, e.version);
    }
    if (e.before) this.add(e.before, -1, touched);
    this.add(e.after, 1, touched);
    return touched;
  }

  private add(side: Side, sign: 1 | -1, touched: Set<string>): void {
    const key = countKey(side.status, side.collaborative);
    this.counts.set(key, (this.counts.get(key) ?? 0) + sign);
    if (side.status === "closed") return; // a load is the open work a member carries
    const bump = (m: Map<string, number>, id: string) => {
      m.set(id, (m.get(id) ?? 0) + sign);
      touched.add(id);
    };
    if (side.followerId) bump(this.following, side.followerId);
    for (const c of side.collaboratorIds) bump(this.collaborating, c);
  }
}

// ---- the room ------------------------------------------------------------------------------------

const TeamJoinOptions = z.object({ workspaceId: z.string().min(1).max(100) });

/** What arrives on the workspace's team topic. Other types are ignored. */
type TeamEvent = ConversationChange | { type: "member"; memberId: string } | OnlineEvent | CsatEvent;

type TeamClient = Client<{ userData: MemberRow; auth: MemberRow }>;

/**
 * The workspace's live dashboard for TEAM_VIEWERS and the admin dashboard: conversation counts,
 * each member's load and presence, and the overdue conversations. Read-only: clients send nothing.
 * Room id = `team-<workspaceId>`. Contract: docs/protocol.md §9.
 *
 * Everything that changes the state runs in one serial lane, in arrival order: the initial load
 * first (queued before the topic's first event can be), then each event, then overdue refreshes.
 */
export class TeamRoom extends Room<{ state: TeamState; client: TeamClient }> {
  /** How often the overdue list is re-evaluated, in ms (time alone makes a conversation overdue). Tests lower it. */
  static overdueIntervalMs = 30_000;

  override state = new TeamState();
  private workspaceId = "";
  private readonly lane = new SerialLane();
  private readonly tally = new TeamTally();
  private readonly online = new Set<string>();
  private readonly csat = new TeamCsat(this.state);
  private overdueQueued = false;

  private readonly onEvent = (e: TeamEvent) => {
    this.lane
      .run(() => this.handle(e))
      .catch((err) => services().log.warn({ err, workspaceId: this.workspaceId }, "team event not applied"));
  };
  private stopRevoked: (() => void) | null = null;
  /**
   * A viewer's rights changed, in any process: deactivated → 4104; a role outside TEAM_VIEWERS →
   * 4105 at once (the row itself is reloaded from the team topic's `member` event).
   */
  private readonly onRevoked = (change: MemberChange) => {
    for (const c of this.clients) {
      if (c.userData?.id !== change.memberId) continue;
      if (change.kind === "revoked") c.leave(CloseCode.deactivated, "deactivated");
      else if (!TEAM_VIEWERS.has(change.role)) c.leave(CloseCode.noLongerParticipant, "view_not_allowed");
      else c.userData = { ...c.userData, role: change.role };
    }
  };

  static override async onAuth(token: string, options: unknown, _context: AuthContext): Promise<MemberRow> {
    const parsed = TeamJoinOptions.safeParse(options ?? {});
    if (!parsed.success) throw joinError(400, ErrorCode.INVALID_PAYLOAD);
    const member = await verifyForJoin(() => services().auth.verifyAccess(token));
    if (member.workspaceId !== parsed.data.workspaceId || !TEAM_VIEWERS.has(member.role)) {
      throw joinError(403, ErrorCode.VIEW_NOT_ALLOWED, member.locale);
    }
    return member;
  }

  override async onCreate(options: unknown): Promise<void> {
    const { workspaceId } = TeamJoinOptions.parse(options);
    this.workspaceId = workspaceId;
    this.roomId = teamRoomId(workspaceId);
    this.state.workspaceId = workspaceId;
    // Subscribe first, load second: the load is the lane's first task and waits for the
    // subscription, so every event published after the snapshot queues behind it.
    let subscribed!: (ok: boolean) => void;
    const ready = new Promise<boolean>((r) => {
      subscribed = r;
    });
    const loading = this.lane.run(async () => {
      if (await ready) await this.load();
    });
    try {
      await this.presence.subscribe(Topic.team(workspaceId), this.onEvent);
      this.stopRevoked = services().revocations.listen(this.onRevoked);
      subscribed(true);
      await loading;
    } catch (err) {
      subscribed(false);
      await this.unsubscribe();
      throw err;
    }
    this.clock.setInterval(() => this.scheduleOverdue(), TeamRoom.overdueIntervalMs);
    // Read-only: every message is refused, with the request id it carried if any.
    this.onMessage("*", (client, _type, payload) => {
      client.send("result", readOnlyRefusal(payload, client.userData?.locale ?? "en"));
    });
  }

  override onJoin(client: TeamClient, _options: unknown, auth: MemberRow): void {
    client.userData = auth;
  }

  override async onDispose(): Promise<void> {
    await this.unsubscribe();
  }

  private shuttingDown = false;

  /** A lost connection keeps its seat for the reconnection window (rooms/reconnect.ts). */
  override onDrop(client: TeamClient, code?: number): void {
    holdSeat(this, client, code, this.shuttingDown);
  }

  /** Back within the window: deactivated meanwhile → 4104; a role outside TEAM_VIEWERS → 4105. */
  override async onReconnect(client: TeamClient): Promise<void> {
    const data = client.userData;
    if (!data) return;
    const row = await activeMember(this.workspaceId, data.id);
    if (!row) return client.leave(CloseCode.deactivated, "deactivated");
    if (!TEAM_VIEWERS.has(row.role)) return client.leave(CloseCode.noLongerParticipant, "view_not_allowed");
    client.userData = { ...data, role: row.role };
  }

  /** Graceful stop: every connection closes with 4106 (rejoin, docs/protocol.md §2.8). */
  override onBeforeShutdown(): void {
    this.shuttingDown = true;
    this.disconnect(CloseCode.restarting).catch((err: unknown) => services().log.warn({ err, workspaceId: this.workspaceId }, "team room not closed at shutdown"));
  }

  private async unsubscribe(): Promise<void> {
    await this.presence.unsubscribe(Topic.team(this.workspaceId), this.onEvent);
    this.stopRevoked?.();
  }

  // ---- load ------------------------------------------------------------------------------------

  /**
   * The snapshot: counts per status and type, open loads per member and the versions of the
   * conversations changed in the last `LATE_CHANGE_MS`, in one repeatable-read transaction (one
   * consistent view); then the members and who is online.
   */
  private async load(): Promise<void> {
    const { db } = services();
    this.tally.load(await readTallySnapshot(db, this.workspaceId, services().now()));
    this.clock.setTimeout(() => this.tally.forgetSnapshotVersions(), LATE_CHANGE_MS * 2);
    for (const id of await onlineMembers(this.presence, this.workspaceId)) this.online.add(id);
    for (const member of await loadTeamMembers(db, this.workspaceId)) this.putMember(member);
    this.syncCounts();
    await this.refreshOverdue();
    this.csat.load(await teamCsat(db, this.workspaceId, CSAT_RECENT));
  }

  // ---- events ----------------------------------------------------------------------------------

  private async handle(e: TeamEvent): Promise<void> {
    switch (e.type) {
      case "conversation":
        return this.onConversation(e);
      case "member":
        return this.reloadMember(e.memberId);
      case "online":
        return this.onOnline(e);
      case "csat":
        return this.csat.apply(e);
      default:
        return; // another publisher's event on the topic: not the dashboard's
    }
  }

  private onConversation(e: ConversationChange): void {
    const touched = this.tally.apply(e);
    this.syncCounts();
    for (const id of touched) this.syncLoad(id);
    // The overdue list depends on status, waiting time and follower; re-read it when one moved.
    const b = e.before;
    const a = e.after;
    if (!b || b.status !== a.status || b.waitingSince !== a.waitingSince || b.followerId !== a.followerId) this.scheduleOverdue();
  }

  private onOnline(e: OnlineEvent): void {
    if (e.online) this.online.add(e.memberId);
    else this.online.delete(e.memberId);
    const row = this.state.members.get(e.memberId);
    if (row) row.online = e.online;
  }

  /** A member changed (name, role, status, created): reload their row; deleted or gone, drop it. */
  private async reloadMember(memberId: string): Promise<void> {
    const m = await loadMember(services().db, memberId);
    if (!m || m.workspaceId !== this.workspaceId || m.status === "deleted") {
      this.state.members.delete(memberId);
    } else {
      this.putMember(m);
    }
    // A member who may no longer see the team view loses their connection to it.
    for (const c of this.clients) {
      if (c.userData?.id !== memberId) continue;
      if (m?.status !== "active") c.leave(CloseCode.deactivated, "deactivated");
      else if (!TEAM_VIEWERS.has(m.role)) c.leave(CloseCode.noLongerParticipant, "view_not_allowed");
    }
  }

  private putMember(m: { id: string; name: string; role: string; status: string }): void {
    let row = this.state.members.get(m.id);
    if (!row) {
      row = new MemberLoad();
      row.id = m.id;
      this.state.members.set(m.id, row);
    }
    row.name = m.name;
    row.role = m.role;
    row.status = m.status;
    row.online = this.online.has(m.id);
    row.following = this.tally.following.get(m.id) ?? 0;
    row.collaborating = this.tally.collaborating.get(m.id) ?? 0;
  }

  private syncLoad(memberId: string): void {
    const row = this.state.members.get(memberId);
    if (!row) return; // not a listed member (deleted): the tally still counts them
    row.following = this.tally.following.get(memberId) ?? 0;
    row.collaborating = this.tally.collaborating.get(memberId) ?? 0;
  }

  private syncCounts(): void {
    for (const [k, n] of this.tally.counts) if (this.state.counts.get(k) !== n) this.state.counts.set(k, n);
  }

  // ---- overdue (R13.3) -------------------------------------------------------------------------

  /** Queues one re-evaluation of the overdue list behind what is queued; repeated calls coalesce. */
  private scheduleOverdue(): void {
    if (this.overdueQueued) return;
    this.overdueQueued = true;
    this.lane
      .run(async () => {
        this.overdueQueued = false;
        await this.refreshOverdue();
      })
      .catch((err) => services().log.warn({ err, workspaceId: this.workspaceId }, "overdue list not refreshed"));
  }

  /**
   * Reads the overdue conversations afresh: open, waiting since at or before now − threshold (as
   * the lists compute `overdue`), oldest first, at most `OVERDUE_LIMIT`, with the total. The
   * threshold is read each time, so a settings change applies at the next refresh.
   */
  private async refreshOverdue(): Promise<void> {
    const { db, now } = services();
    const minutes = await overdueMinutes(db, this.workspaceId);
    const { rows, total } = await loadOverdue(db, this.workspaceId, now(), minutes, OVERDUE_LIMIT);
    this.state.overdueAfterMinutes = minutes;
    this.state.overdueTotal = total;
    const list = this.state.overdue;
    rows.forEach((r, i) => {
      let item = list[i];
      if (!item) {
        item = new OverdueItem();
        list.push(item);
      }
      item.conversationId = r.id;
      item.customerName = r.customerName;
      item.channel = r.channel;
      item.status = r.status;
      item.followerId = r.followerId ?? "";
      item.waitingSince = r.waitingSince?.getTime() ?? 0;
    });
    if (list.length > rows.length) list.splice(rows.length, list.length - rows.length);
  }
}

/** Reads a `TallySnapshot` of the workspace (see `TeamTally`) as of `now`. */
export function readTallySnapshot(db: Db, workspaceId: string, now: Date): Promise<TallySnapshot> {
  return readSnapshot(db, workspaceId, new Date(now.getTime() - LATE_CHANGE_MS));
}
