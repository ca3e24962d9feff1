import type { Room } from "@colyseus/sdk";
import { ServerMessage } from "../domain/wire.ts";
import type { ClosedError } from "./errors.ts";
import { type Joiner, RoomLink } from "./link.ts";
import type { AnyAnswer, TeamState } from "./types.ts";

/**
 * The workspace's `team` room (docs/protocol.md §9): counts, member loads and presence, overdue
 * conversations, live. Read-only; after a rejoin the state comes whole again.
 */
export class TeamView extends RoomLink<TeamState> {
  constructor(
    joiner: Joiner,
    readonly workspaceId: string,
  ) {
    super(joiner, "team", { workspaceId });
  }

  protected ready(state: TeamState): boolean {
    return state.workspaceId === this.workspaceId;
  }

  protected attach(room: Room<any, TeamState>): void {
    room.onMessage(ServerMessage.result, (_: AnyAnswer) => {});
  }

  protected async resume(): Promise<void> {}

  protected finish(_error: ClosedError): void {}
}
