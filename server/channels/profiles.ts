import { raceDeadline } from "../../db/deadline.ts";

/**
 * Customers' display names and pictures read from a provider's profile API (LINE's profile
 * endpoints, Meta's User Profile API for Messenger and Instagram). Read before a webhook is
 * answered, so bounded: one read per distinct sender of the webhook, a short deadline, failures
 * tolerated (the message goes on without a name: a known customer keeps theirs, and a later message
 * asks again), and answers kept a while per account and user.
 */

/** A profile as we keep it on the customer. */
export interface CustomerProfile {
  readonly displayName: string;
  readonly pictureUrl?: string;
}

/** How long one profile read may take before the webhook goes on without it. */
export const PROFILE_DEADLINE_MS = 1500;
/** How long a read profile is reused. */
const PROFILE_TTL_MS = 10 * 60_000;
const MAX_CACHED = 10_000;

const cache = new Map<string, { readonly at: number; readonly profile: CustomerProfile }>();

function remember(key: string, profile: CustomerProfile, now: number): void {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string); // oldest first
  cache.set(key, { at: now, profile });
}

/** Forgets every cached profile (tests). */
export function forgetProfiles(): void {
  cache.clear();
}

/** A profile read that did not answer within its deadline. */
class ProfileTimeout extends Error {}

/**
 * The profiles of `senders` (user id → what the read needs to know of the sender) of one account,
 * by user id: cached ones as they are, the others read with `read` at once; a sender whose profile
 * could not be read (an error, no answer within the deadline, no display name) is missing from the map.
 */
export async function readProfiles<S>(
  accountId: string,
  senders: ReadonlyMap<string, S>,
  read: (userId: string, sender: S) => Promise<CustomerProfile | undefined>,
  opts: { readonly deadlineMs?: number; readonly now?: number } = {},
): Promise<Map<string, CustomerProfile>> {
  const now = opts.now ?? Date.now();
  const found = new Map<string, CustomerProfile>();
  await Promise.all(
    [...senders].map(async ([userId, sender]) => {
      const key = `${accountId}\u0000${userId}`;
      const hit = cache.get(key);
      if (hit && now - hit.at < PROFILE_TTL_MS) {
        found.set(userId, hit.profile);
        return;
      }
      try {
        const ms = opts.deadlineMs ?? PROFILE_DEADLINE_MS;
        const profile = await raceDeadline(read(userId, sender), ms, () => new ProfileTimeout(`no profile within ${ms} ms`));
        if (!profile || profile.displayName.trim().length === 0) return;
        remember(key, profile, now);
        found.set(userId, profile);
      } catch {
        // tolerated: the customer keeps a fallback name until a later message reads the profile
      }
    }),
  );
  return found;
}
