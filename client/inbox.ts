import type { Room } from "@colyseus/sdk";
import { ServerMessage } from "../domain/wire.ts";
import type { ClosedError } from "./errors.ts";
import { type Joiner, type LinkEvents, RoomLink } from "./link.ts";
import type { AnyAnswer, InboxState, Job, ListDelta, ListReset, Notice } from "./types.ts";

export interface InboxEvents extends LinkEvents {
  /** A notice (docs/protocol.md §3), once per id even if delivered twice. */
  notice: (notice: Notice) => void;
  /** A live list delta (docs/protocol.md §8.3): apply it with `applyListDelta`. */
  list: (delta: ListDelta) => void;
  /**
   * Reload the pages of these views: the server could not read some items (`list_reset`), or the
   * connection was lost and deltas sent meanwhile are gone (after `reconnected`, §8.7).
   */
  listReset: (reset: ListReset) => void;
  /** Progress of the member's bulk jobs (docs/protocol.md §7.5). */
  job: (job: Job) => void;
}

/**
 * The member's inbox room (docs/protocol.md §3, §8): notices, list deltas, job progress and the
 * live tab counts in `state.counts`. A handler is registered for every message type the room
 * sends (`notice`, `list`, `list_reset`, `job`, `result`), so the SDK never warns about one.
 */
export class InboxView extends RoomLink<InboxState, InboxEvents> {
  private readonly seenNotices = new Set<number>();

  constructor(
    joiner: Joiner,
    readonly memberId: string,
  ) {
    super(joiner, "inbox", { memberId });
  }

  protected ready(state: InboxState): boolean {
    return state.memberId === this.memberId;
  }

  protected attach(room: Room<any, InboxState>): void {
    room.onMessage(ServerMessage.notice, (n: Notice) => {
      if (this.seenNotices.has(n.id)) return;
      this.seenNotices.add(n.id);
      this.emit("notice", n);
    });
    room.onMessage(ServerMessage.list, (d: ListDelta) => this.emit("list", d));
    room.onMessage(ServerMessage.listReset, (r: ListReset) => this.emit("listReset", r));
    room.onMessage(ServerMessage.job, (j: Job) => this.emit("job", j));
    // The inbox room takes no actions: anything sent is answered UNKNOWN_ACTION (§3).
    room.onMessage(ServerMessage.result, (_: AnyAnswer) => {});
  }

  protected async resume(): Promise<void> {
    // Deltas sent while away are lost (§8.4): every view shown must be reloaded.
    this.emit("listReset", { views: this.state.teamView ? ["mine", "team"] : ["mine"] });
  }

  protected finish(_error: ClosedError): void {}

  /** The live tab counts: `<view>.<status>.<type>` → number (docs/protocol.md §8.2). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    this.state.counts.forEach((v, k) => {
      out[k] = v;
    });
    return out;
  }
}
