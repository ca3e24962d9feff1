/** Presence topics: the names processes publish and subscribe on (Redis channels when `REDIS_URL` is set). */
export const Topic = {
  /** A member's notices: `inbox:<memberId>`. */
  inbox: (memberId: string) => `inbox:${memberId}`,
  /** Every change of the workspace's conversations (`ConversationChange`) and members' presence. */
  team: (workspaceId: string) => `team:${workspaceId}`,
  /**
   * A member whose rights changed (`MemberChange`): deactivated or deleted (every connection
   * closes), or a new role (rooms decide the next action with it and close views it no longer opens).
   */
  revoked: "members:revoked",
  /**
   * A staff message's delivery status changed (committed by the delivery worker, any process):
   * `delivery:<conversationId>`, payload `{ seq }`. The conversation's room, wherever it lives,
   * shows the stored status.
   */
  delivery: (conversationId: string) => `delivery:${conversationId}`,
  /**
   * What a Webchat visitor sees, live: a staff reply the delivery worker sent (any process),
   * `visitor:<channelId>:<visitorId>`, payload a `VisitorMessage`. The visitor's `webchat` room,
   * wherever it lives, passes it on to their open widgets.
   */
  visitor: (channelId: string, visitorId: string) => `visitor:${channelId}:${visitorId}`,
} as const;
