import type { ChannelAccount } from "../types.ts";
import { lineClient, withDeadline } from "./client.ts";
import type { LineMessageEvent, LineProfileInfo } from "./inbound.ts";

/**
 * Customers' display names and pictures, from LINE's profile endpoints: `GET /v2/bot/profile/{userId}`
 * for a 1-on-1 chat, the group / room member profile for a group or room. Read before the webhook
 * is answered, so bounded: a short deadline, failures tolerated (the message goes on without a
 * name: a known customer keeps theirs, and the next message asks again), and answers kept a while per account and user.
 */

/** How long one profile read may take before the webhook goes on without it. */
export const PROFILE_DEADLINE_MS = 1500;
/** How long a read profile is reused. */
const PROFILE_TTL_MS = 10 * 60_000;
const MAX_CACHED = 10_000;

const cache = new Map<string, { readonly at: number; readonly profile: LineProfileInfo }>();

function remember(key: string, profile: LineProfileInfo, now: number): void {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string); // oldest first
  cache.set(key, { at: now, profile });
}

/** Forgets every cached profile (tests). */
export function forgetLineProfiles(): void {
  cache.clear();
}

async function readProfile(account: ChannelAccount, source: LineMessageEvent["source"], userId: string): Promise<LineProfileInfo> {
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
): Promise<Map<string, LineProfileInfo>> {
  const now = opts.now ?? Date.now();
  const found = new Map<string, LineProfileInfo>();
  const wanted = new Map<string, LineMessageEvent["source"]>();
  for (const e of events) if (e.source.userId && !wanted.has(e.source.userId)) wanted.set(e.source.userId, e.source);
  if (!account.secrets.channelAccessToken) return found;
  await Promise.all(
    [...wanted].map(async ([userId, source]) => {
      const key = `${account.id}\u0000${userId}`;
      const hit = cache.get(key);
      if (hit && now - hit.at < PROFILE_TTL_MS) {
        found.set(userId, hit.profile);
        return;
      }
      try {
        const profile = await withDeadline(readProfile(account, source, userId), opts.deadlineMs ?? PROFILE_DEADLINE_MS);
        remember(key, profile, now);
        found.set(userId, profile);
      } catch {
        // tolerated: the customer keeps a fallback name until a later message reads the profile
      }
    }),
  );
  return found;
}
