import type { Presence } from "@colyseus/core";
import type { Db } from "../../db/client.ts";
import type { ChannelType } from "../../domain/channels.ts";
import { lineSender } from "./line/outbound.ts";
import { metaMessagingSender } from "./meta/outbound.ts";
import type { ChannelSender } from "./types.ts";
import { webchatSender } from "./webchat/visitors.ts";
import { wechatSender } from "./wechat/outbound.ts";
import { whatsAppSender } from "./whatsapp/outbound.ts";

/**
 * Which sender delivers to each type of channel account: the delivery worker asks here. A type
 * with no sender registered fails its messages with `DELIVERY_CHANNEL_UNSUPPORTED`.
 */

export class SenderRegistry {
  private readonly byType = new Map<ChannelType, ChannelSender>();

  constructor(initial: Partial<Record<ChannelType, ChannelSender>> = {}) {
    for (const [type, sender] of Object.entries(initial) as [ChannelType, ChannelSender][]) this.byType.set(type, sender);
  }

  get(type: ChannelType): ChannelSender | undefined {
    return this.byType.get(type);
  }

  /** Sets the sender of `type`; returns a function that puts the previous one back. */
  register(type: ChannelType, sender: ChannelSender): () => void {
    const previous = this.byType.get(type);
    this.byType.set(type, sender);
    return () => {
      if (previous) this.byType.set(type, previous);
      else this.byType.delete(type);
    };
  }
}

/**
 * The senders this server ships with: one per channel type. Webchat's publishes to the visitor's
 * live room through `presence` (server/channels/webchat/visitors.ts); WeChat's shares its access
 * token with the other processes through `db`.
 */
export function defaultSenders(presence: () => Presence, db: Db): SenderRegistry {
  return new SenderRegistry({
    webchat: webchatSender(presence),
    line: lineSender,
    messenger: metaMessagingSender,
    instagram: metaMessagingSender,
    whatsapp: whatsAppSender,
    wechat: wechatSender(db),
  });
}
