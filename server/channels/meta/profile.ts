import { z } from "zod";
import { type CustomerProfile, PROFILE_DEADLINE_MS, readProfiles } from "../profiles.ts";
import type { ChannelAccount, InboundEvent } from "../types.ts";
import { graphGet } from "./client.ts";

/**
 * Messenger and Instagram customers' names and pictures (server/channels/profiles.ts reads and
 * caches them), from Meta's profile APIs with the Page access token:
 * - Messenger, User Profile API: `GET /{PSID}?fields=name,first_name,last_name,profile_pic`;
 * - Instagram Messaging, user profile: `GET /{IGSID}?fields=name,username,profile_pic`.
 * The display name is `name` (Messenger: else first and last name; Instagram: else `username`).
 */

const Text = z.string().trim().max(500);
const MessengerProfile = z.looseObject({
  name: Text.optional(),
  first_name: Text.optional(),
  last_name: Text.optional(),
  profile_pic: z.string().max(4000).optional(),
});
const InstagramProfile = z.looseObject({ name: Text.optional(), username: Text.optional(), profile_pic: z.string().max(4000).optional() });

async function readProfile(account: ChannelAccount, userId: string, kind: "messenger" | "instagram"): Promise<CustomerProfile | undefined> {
  const fields = kind === "messenger" ? "name,first_name,last_name,profile_pic" : "name,username,profile_pic";
  const answer = await graphGet(
    encodeURIComponent(userId),
    account.secrets.pageAccessToken ?? "",
    { fields },
    { timeoutMs: PROFILE_DEADLINE_MS },
  );
  if (answer.status !== 200) return undefined;
  if (kind === "messenger") {
    const p = MessengerProfile.safeParse(answer.body);
    if (!p.success) return undefined;
    const name = p.data.name || [p.data.first_name, p.data.last_name].filter(Boolean).join(" ");
    return { displayName: name, ...(p.data.profile_pic ? { pictureUrl: p.data.profile_pic } : {}) };
  }
  const p = InstagramProfile.safeParse(answer.body);
  if (!p.success) return undefined;
  return { displayName: p.data.name || p.data.username || "", ...(p.data.profile_pic ? { pictureUrl: p.data.profile_pic } : {}) };
}

/** The events with their senders' names and pictures where Meta gave them (one read per distinct sender, cached). */
export async function withMetaProfiles(
  account: ChannelAccount,
  kind: "messenger" | "instagram",
  events: readonly InboundEvent[],
): Promise<InboundEvent[]> {
  const senders = new Map<string, null>();
  for (const e of events) if (e.kind === "message") senders.set(e.channelUserId, null);
  if (senders.size === 0 || !account.secrets.pageAccessToken) return [...events];
  const profiles = await readProfiles(account.id, senders, (userId) => readProfile(account, userId, kind));
  return events.map((e) => {
    const p = e.kind === "message" ? profiles.get(e.channelUserId) : undefined;
    return p ? { ...e, displayName: p.displayName, ...(p.pictureUrl ? { pictureUrl: p.pictureUrl } : {}) } : e;
  });
}
