import { type AuthContext, type Client, type Presence, Room } from "@colyseus/core";
import { MapSchema, Schema, type } from "@colyseus/schema";
import { z } from "zod";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import { countUnreadNotifications } from "../db/notifications.ts";
import type { MemberRow } from "../db/repository.ts";
import { ErrorCode } from "../domain/errors.ts";
import type { View } from "../domain/sets.ts";
import type { ConversationChange } from "./feed.ts";
import { type ListDelta, LiveLists, type LiveListsHost } from "./liveLists.ts";
import { inboxClosed, inboxOpened } from "./online.ts";
import { joinError, readOnlyRefusal, verifyForJoin } from "./protocol.ts";
import { CloseCode } from "./closeCodes.ts";
import { services } from "./ports.ts";
import type { MemberChange } from "./revocations.ts";
import { Topic } from "./topics.ts";
import { activeMember, holdSeat } from "./reconnect.ts";
import { inboxRoomId } from "./roomIds.ts";

export class InboxState extends Schema {
  @type("string") memberId = "";
  /** Notifications not yet marked read. */
  @type("number") unreadNotices = 0;
  /**
   * Tab counts of the member's lists, keyed `<view>.<status>.<type>` (`mine.in_progress.collaborative`);
   * every key of `mine` always, of `team` while `teamView` (docs/protocol.md §8).
   */
  @type({ map: "number" }) counts = new MapSchema<number>();
  /** The member sees the team view (TEAM_VIEWERS): `team` deltas and counts come too. */
  @type("boolean") teamView = false;
}

const InboxJoinOptions = z.object({ memberId: z.string().min(1).max(100) });

type InboxEvent =
  | { type: "notice"; notice: { id: number } }
  | { type: "read"; unread: number }
  | { type: "list"; change: ConversationChange }
  | { type: "member" }
  | { type: "job"; job: unknown };

/**
 * The size of an inbox room's two encode buffers. Colyseus gives every room two of
 * `Encoder.BUFFER_SIZE` (16 KiB: the schema encoder's shared buffer and the serializer's
 * full-state buffer), sized for game states; an inbox state encodes in under 1 KiB (689 bytes with
 * a count for every key of both views), and a process holds one inbox room per connected member,
 * so 32 KiB each was over half of an idle connection's memory (docs/benchmarks.md, P3). A state
 * that outgrew them would be encoded whole all the same: the encoder grows a buffer it overflows
 * (with a console warning), it never cuts a patch.
 */
export const INBOX_BUFFER_BYTES = 1024;

/** Replaces the room's encode buffers by small ones (`INBOX_BUFFER_BYTES`); leaves a serializer of another shape alone. */
function shrinkEncodeBuffers(room: Room): void {
  const ser = (room as unknown as { _serializer?: { fullEncodeBuffer?: unknown; encoder?: { sharedBuffer?: unknown } } })._serializer;
  const full = ser?.fullEncodeBuffer;
  const shared = ser?.encoder?.sharedBuffer;
  if (!ser?.encoder || !(full instanceof Uint8Array) || !(shared instanceof Uint8Array)) return;
  if (full.byteLength > INBOX_BUFFER_BYTES) {
    const small = new Uint8Array(INBOX_BUFFER_BYTES);
    small[0] = full[0]!; // the message type byte the serializer wrote at reset (ROOM_STATE)
    ser.fullEncodeBuffer = small;
  }
  if (shared.byteLength > INBOX_BUFFER_BYTES) ser.encoder.sharedBuffer = new Uint8Array(INBOX_BUFFER_BYTES);
}

/** How many recent notice ids an inbox room remembers to show each notice once. */
const SEEN_NOTICES = 256;

/**
 * An inbox room's patch tick: only a safety net, every change sends its patch at once
 * (`Inbox.patchSoon`). A process holds one inbox room per connected member: at one tick a second,
 * 10,000 idle members kept about 9 % of a core busy (docs/benchmarks.md, P3).
 */
export const INBOX_IDLE_PATCH_MS = 30_000;

/** Sends an inbox room's patch queued by `Inbox.patchSoon` (a function of the module, not a closure per room). */
function flushPatch(inbox: Inbox): void {
  inbox.patchQueued = false;
  inbox.room.broadcastPatch();
}

/**
 * What an inbox room keeps of its own, in one object held by the room. A process holds one inbox
 * room per connected member, and a room object is in V8's dictionary mode (Colyseus redefines
 * some of its fields as accessors): every field of its own grows that room's property table, and
 * every callback made per room as an arrow function is a closure with its own property table
 * (tsx names each one with `Object.defineProperty`). So the room has one field (this), the
 * callbacks are this object's methods (the lists' host is this object; the presence listeners are
 * bound methods), and recent notice ids are kept only once a notice came (docs/benchmarks.md, P3).
 */
class Inbox implements LiveListsHost {
  readonly db: Db;
  readonly log: Logger;
  readonly now: () => Date;
  readonly presence: Presence;
  readonly counts: InboxState["counts"];
  readonly lists: LiveLists;
  /** The inbox topic's listener (`event`, bound). */
  readonly listener: (e: InboxEvent) => void;
  /** The revocation hub's listener (`revoked`, bound). */
  readonly onRevoked: (change: MemberChange) => void;
  stopRevoked: (() => void) | null = null;
  patchQueued = false;
  shuttingDown = false;
  /**
   * The ids of the last notices shown (oldest first, at most SEEN_NOTICES): a notice can arrive
   * twice, from its room's fast path and from the outbox (server/outbox.ts), and is shown once.
   * Made at the first notice: an idle member's room holds none.
   */
  private seen: Set<number> | null = null;

  constructor(
    readonly room: InboxRoom,
    readonly memberId: string,
  ) {
    const { db, log, now } = services();
    this.db = db;
    this.log = log;
    this.now = now;
    this.presence = room.presence;
    this.counts = room.state.counts;
    this.lists = new LiveLists(this);
    this.listener = this.event.bind(this);
    this.onRevoked = this.revoked.bind(this);
  }

  /**
   * Sends the state's patch at the next turn of the event loop. An inbox room's state changes
   * seldom (a notice, a count), and a process holds one per connected member: instead of Colyseus's
   * default patch tick (every 50 ms per room, which made an idle process with thousands of inbox
   * rooms busy), the tick is slow (INBOX_IDLE_PATCH_MS, a safety net) and each change sends its patch.
   */
  patchSoon(): void {
    if (this.patchQueued) return;
    this.patchQueued = true;
    setImmediate(flushPatch, this);
  }

  // LiveListsHost
  countsChanged(): void {
    this.patchSoon();
  }
  send(delta: ListDelta): void {
    this.room.broadcast("list", delta);
  }
  setTeamView(visible: boolean): void {
    this.room.state.teamView = visible;
    this.patchSoon();
  }
  reset(views: View[]): void {
    this.room.broadcast("list_reset", { views });
  }

  private firstShowing(id: unknown): boolean {
    if (typeof id !== "number") return true;
    this.seen ??= new Set();
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > SEEN_NOTICES) this.seen.delete(this.seen.values().next().value as number);
    return true;
  }

  private event(e: InboxEvent): void {
    if (e.type === "notice") {
      if (!this.firstShowing(e.notice?.id)) return;
      this.room.state.unreadNotices++;
      this.patchSoon();
      this.room.broadcast("notice", e.notice);
    } else if (e.type === "read") {
      this.room.state.unreadNotices = e.unread;
      this.patchSoon();
    } else if (e.type === "job") {
      this.room.broadcast("job", e.job); // progress of the member's bulk jobs (server/jobs.ts)
    } else if (e.type === "list") {
      this.lists.inboxChange(e.change); // queued: the handler never waits
    } else if (e.type === "member") {
      this.lists.memberChanged(); // a role change may show or hide the team view
    }
  }

  /** Deactivated: every device's inbox closes. A role change arrives as a `member` event instead (team tab shown or hidden). */
  private revoked(change: MemberChange): void {
    if (change.kind === "revoked" && change.memberId === this.memberId) for (const c of this.room.clients) c.leave(CloseCode.deactivated, "deactivated");
  }
}

/**
 * A member's own room: all their devices join it and receive their notices live
 * (`notice` messages) and the count of unread ones (state), and keep their lists current: `list`
 * deltas and tab counts (`rooms/liveLists.ts`). Room id = `inbox-<memberId>`.
 */
export class InboxRoom extends Room<{ state: InboxState; client: Client<{ userData: MemberRow; auth: MemberRow }> }> {
  override state = new InboxState();
  /** Everything else the room keeps (one field: see `Inbox`). */
  private inbox: Inbox | null = null;

  static override async onAuth(token: string, options: unknown, _context: AuthContext): Promise<MemberRow> {
    const parsed = InboxJoinOptions.safeParse(options ?? {});
    if (!parsed.success) throw joinError(400, ErrorCode.INVALID_PAYLOAD);
    const member = await verifyForJoin(() => services().auth.verifyAccess(token));
    if (member.id !== parsed.data.memberId) throw joinError(403, ErrorCode.VIEW_NOT_ALLOWED, member.locale);
    return member;
  }

  override async onCreate(options: { memberId: string }): Promise<void> {
    this.roomId = inboxRoomId(options.memberId);
    this.patchRate = INBOX_IDLE_PATCH_MS;
    shrinkEncodeBuffers(this);
    this.state.memberId = options.memberId;
    const inbox = new Inbox(this, options.memberId);
    this.inbox = inbox;
    // Subscribe before counting: changes queue in the lists until their counts are loaded.
    await this.presence.subscribe(Topic.inbox(options.memberId), inbox.listener);
    inbox.stopRevoked = services().revocations.listen(inbox.onRevoked);
    this.state.unreadNotices = await countUnreadNotifications(inbox.db, options.memberId);
    inbox.patchSoon();
    await inbox.lists.start();
    // The inbox takes no actions (HTTP marks notices read): any message is answered UNKNOWN_ACTION.
    this.onMessage("*", refuseAction);
  }

  override onJoin(client: InboxRoom["~client"], _options: unknown, auth: MemberRow): void {
    client.userData = auth;
    void inboxOpened(this.presence, auth); // the team room's online flag (rooms/online.ts)
  }

  /** A lost connection keeps its seat (and the member online) for the reconnection window (rooms/reconnect.ts). */
  override onDrop(client: InboxRoom["~client"], code?: number): void {
    holdSeat(this, client, code, this.inbox?.shuttingDown ?? false);
  }

  /** Back within the window: a member deactivated meanwhile is closed with 4104. */
  override async onReconnect(client: InboxRoom["~client"]): Promise<void> {
    const data = client.userData;
    if (data && !(await activeMember(data.workspaceId, data.id))) client.leave(CloseCode.deactivated, "deactivated");
  }

  /** Graceful stop: every connection closes with 4106 (rejoin); onLeave counts them offline here. */
  override onBeforeShutdown(): void {
    if (this.inbox) this.inbox.shuttingDown = true;
    this.disconnect(CloseCode.restarting).catch((err: unknown) => services().log.warn({ err, memberId: this.inbox?.memberId }, "inbox not closed at shutdown"));
  }

  override onLeave(client: InboxRoom["~client"]): void {
    if (client.userData) void inboxClosed(this.presence, client.userData);
  }

  override async onDispose(): Promise<void> {
    const inbox = this.inbox;
    if (!inbox) return;
    await inbox.lists.dispose();
    await this.presence.unsubscribe(Topic.inbox(inbox.memberId), inbox.listener);
    inbox.stopRevoked?.();
  }
}

/** Any message to an inbox room: it takes no actions. */
function refuseAction(client: Client, _type: unknown, payload: unknown): void {
  client.send("result", readOnlyRefusal(payload, (client as InboxRoom["~client"]).userData?.locale ?? "en"));
}
