/**
 * The fixed room ids: one room per conversation, per member's inbox, per workspace's team view and
 * per Webchat visitor, cluster-wide. The rooms set their id from these in `onCreate`, and the
 * matchmaker's drivers (server/roomDrivers.ts) use them to find a room by its id (one hash lookup)
 * instead of scanning every room listing on each join.
 */
export const conversationRoomId = (conversationId: string): string => conversationId;
export const inboxRoomId = (memberId: string): string => `inbox-${memberId}`;
export const teamRoomId = (workspaceId: string): string => `team-${workspaceId}`;
/** Room ids are [A-Za-z0-9_-] (the WebSocket transport matches them so): visitor ids are base64url. */
export const webchatRoomId = (visitorId: string): string => `webchat_${visitorId}`;

/** Each room type's filter option (`filterBy`) and the id it gives. */
const BY_NAME: Readonly<Record<string, readonly [option: string, id: (value: string) => string]>> = {
  conversation: ["conversationId", conversationRoomId],
  inbox: ["memberId", inboxRoomId],
  team: ["workspaceId", teamRoomId],
  webchat: ["visitorId", webchatRoomId],
};

/**
 * The id of the one room that matchmaking conditions can match (`{ roomId }`, or a room type's
 * name with its filter option), or undefined when the conditions do not name one.
 */
export function roomIdOf(conditions: Readonly<Record<string, unknown>>): string | undefined {
  if (typeof conditions.roomId === "string") return conditions.roomId;
  const entry = typeof conditions.name === "string" ? BY_NAME[conditions.name] : undefined;
  if (!entry) return undefined;
  const value = conditions[entry[0]];
  return typeof value === "string" ? entry[1](value) : undefined;
}
