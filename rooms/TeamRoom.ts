import { Room } from "@colyseus/core";
import { Schema, type } from "@colyseus/schema";

export class TeamState extends Schema {
  @type("string") workspaceId = "";
}

/** The workspace's live dashboard (TEAM_VIEWERS). Built in issue 4. */
export class TeamRoom extends Room<{ state: TeamState }> {
  override state = new TeamState();
}
