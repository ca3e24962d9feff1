import { Channel } from "./sets.ts";

/**
 * The automatic and triggered messages of SPEC R13.1, and on which channels each may go out: the
 * table as a capability matrix that every triggered send consults. Collaborative conversations
 * send them as 1-on-1 and group conversations do (R13.1).
 */
export const TriggeredKind = {
  away: "away", // instant / offline (away) messages
  csat: "csat", // satisfaction survey
  customer_journey: "customer_journey", // omnichannel customer journey
  auto_close_reminder: "auto_close_reminder",
  cart_remarketing: "cart_remarketing", // shopping-cart remarketing card
  line_lon: "line_lon", // LINE LON notification quick message
  omo_live_video: "omo_live_video",
} as const;
export type TriggeredKind = (typeof TriggeredKind)[keyof typeof TriggeredKind];
export const TRIGGERED_KINDS = Object.values(TriggeredKind) as readonly TriggeredKind[];

const ALL: readonly Channel[] = Object.values(Channel);
const { line, facebook, whatsapp, instagram } = Channel;

/** R13.1's table, row by row. */
export const TRIGGERED_CHANNELS: Readonly<Record<TriggeredKind, readonly Channel[]>> = {
  away: ALL,
  csat: ALL,
  customer_journey: [line, facebook, whatsapp, instagram],
  auto_close_reminder: [line, facebook, whatsapp, instagram],
  cart_remarketing: [line, facebook, whatsapp],
  line_lon: [line],
  omo_live_video: [line, whatsapp],
};

/** R13.1: may a message of this kind go out on this channel? */
export function supportsTriggered(kind: TriggeredKind, channel: Channel): boolean {
  return TRIGGERED_CHANNELS[kind].includes(channel);
}
