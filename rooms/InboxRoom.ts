import { type AuthContext, type Client, Room } from "@colyseus/core";
import { Schema, type } from "@colyseus/schema";
import { z } from "zod";
import { countUnreadNotifications } from "../db/notifications.ts";
import type { MemberRow } from "../db/repository.ts";
import { ErrorCode } from "../domain/errors.ts";
import { joinError, verifyForJoin } from "./protocol.ts";
import { CloseCode, Topic, services } from "./services.ts";

export class InboxState extends Schema {
  @type("string") memberId = "";
  /** Notifications not yet marked read. */
  @type("number") unreadNotices = 0;
}

const InboxJoinOptions = z.object({ memberId: z.string().min(1).max(100) });

type InboxEvent =
  | { type: "notice"; notice: { id: number } }
  | { type: "read"; unread: number }
  | { type: "list"; change: unknown }
  | { type: "job"; job: unknown };

/**
 * A member's own room: all their devices join it and receive their notices live
 * (`notice` messages) and the count of unread ones (state). Room id = `inbox-<memberId>`.
 */
export class InboxRoom extends Room<{ state: InboxState; client: Client<{ userData: MemberRow; auth: MemberRow }> }> {
  override state = new InboxState();
  private memberId = "";
  private readonly onEvent = (e: InboxEvent) => {
    if (e.type === "notice") {
      this.state.unreadNotices++;
      this.broadcast("notice", e.notice);
    } else if (e.type === "read") {
      this.state.unreadNotices = e.unread;
    } else if (e.type === "job") {
      this.broadcast("job", e.job); // progress of the member's bulk jobs (server/jobs.ts)
    }
  };
  private readonly onRevoked = (data: { memberId: string }) => {
    if (data.memberId === this.memberId) for (const c of this.clients) c.leave(CloseCode.deactivated, "deactivated");
  };

  static override async onAuth(token: string, options: unknown, _context: AuthContext): Promise<MemberRow> {
    const parsed = InboxJoinOptions.safeParse(options ?? {});
    if (!parsed.success) throw joinError(400, ErrorCode.INVALID_PAYLOAD);
    const member = await verifyForJoin(() => services().auth.verifyAccess(token));
    if (member.id !== parsed.data.memberId) throw joinError(403, ErrorCode.VIEW_NOT_ALLOWED, member.locale);
    return member;
  }

  override async onCreate(options: { memberId: string }): Promise<void> {
    this.memberId = options.memberId;
    this.roomId = `inbox-${options.memberId}`;
    this.state.memberId = options.memberId;
    this.state.unreadNotices = await countUnreadNotifications(services().db, options.memberId);
    await this.presence.subscribe(Topic.inbox(options.memberId), this.onEvent);
    await this.presence.subscribe(Topic.revoked, this.onRevoked);
    this.onMessage("*", () => {}); // the inbox takes no actions; HTTP marks notices read
  }

  override onJoin(client: InboxRoom["~client"], _options: unknown, auth: MemberRow): void {
    client.userData = auth;
  }

  override async onDispose(): Promise<void> {
    await this.presence.unsubscribe(Topic.inbox(this.memberId), this.onEvent);
    await this.presence.unsubscribe(Topic.revoked, this.onRevoked);
  }
}
