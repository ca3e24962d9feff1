/** What every provider's sender does to a reply before it leaves: helpers shared by server/channels/<provider>/outbound.ts. */

/** `text` cut to a provider's limit of `maxUnits` UTF-16 code units, never splitting a surrogate pair. */
export function cutText(text: string, maxUnits: number): string {
  if (text.length <= maxUnits) return text;
  let cut = maxUnits;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return text.slice(0, cut);
}

/** A `Retry-After` header (seconds, or an HTTP date) in milliseconds from `now`, or undefined. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
