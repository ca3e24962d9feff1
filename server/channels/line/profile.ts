import { type CustomerProfile, readProfiles } from "../profiles.ts";
import type { ChannelAccount } from "../types.ts";
import { lineClient } from "./client.ts";
import type { LineMessageEvent } from "./inbound.ts";

/**
 * LINE customers' display names and pictures (server/channels/profiles.ts reads and caches them):
 * `GET /v2/bot/profile/{userId}` for a 1-on-1 chat, the group / room member profile for a group or room.
 */

async function readProfile(account: ChannelAccount, source: LineMessageEvent["source"], userId: string): Promise<CustomerProfile> {
  const client = lineClient(account.secrets.channelAccessToken ?? "");
  const p =
    source.type === "group"
      ? await client.getGroupMemberProfile(source.groupId, userId)
      : source.type === "room"
        ? await client.getRoomMemberProfile(source.roomId, userId)
        : await client.getProfile(userId);
  return { displayName: p.displayName, ...(p.pictureUrl ? { pictureUrl: p.pictureUrl } : {}) };
}

/**
 * The profiles of the senders of `events` (one read per distinct sender), by user id; a sender
 * whose profile could not be read is missing from the map.
 */
export async function lineProfiles(
  account: ChannelAccount,
  events: readonly LineMessageEvent[],
  opts: { readonly deadlineMs?: number; readonly now?: number } = {},
): Promise<Map<string, CustomerProfile>> {
  const wanted = new Map<string, LineMessageEvent["source"]>();
  for (const e of events) if (e.source.userId && !wanted.has(e.source.userId)) wanted.set(e.source.userId, e.source);
  if (!account.secrets.channelAccessToken) return new Map();
  return readProfiles(account.id, wanted, (userId, source) => readProfile(account, source, userId), opts);
}
