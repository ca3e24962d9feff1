import { and, asc, eq, inArray } from "drizzle-orm";
import * as s from "../../db/schema.ts";
import type { Channel } from "../../domain/sets.ts";
import type { App } from "./server.ts";

/** What a provider's webhook left in storage, read for the channel tests: events, customers, conversations, messages. */
export function channelRows(app: App) {
  const db = () => app.database.db;
  const rows = {
    /** The inbound events stored for a channel account, in arrival order. */
    storedEvents(channelId: string) {
      return db().select().from(s.inboundEvents).where(eq(s.inboundEvents.channelId, channelId)).orderBy(asc(s.inboundEvents.id));
    },
    async customerOf(channel: Channel, userId: string) {
      const found = await db()
        .select()
        .from(s.customers)
        .where(and(eq(s.customers.channel, channel), eq(s.customers.channelUserId, userId)));
      return found[0];
    },
    async conversationsOf(customerIds: string[]) {
      if (customerIds.length === 0) return [];
      return db().select().from(s.conversations).where(inArray(s.conversations.customerId, customerIds));
    },
    messagesOf(conversationId: string) {
      return db().select().from(s.messages).where(eq(s.messages.conversationId, conversationId)).orderBy(asc(s.messages.seq));
    },
    /** The customer, their conversations and the customer messages of the first one, once intake is idle. */
    async customerMessages(channel: Channel, userId: string) {
      await app.intake.idle();
      const customer = await rows.customerOf(channel, userId);
      if (!customer) return { customer, conversations: [], messages: [] };
      const conversations = await rows.conversationsOf([customer.id]);
      const messages = conversations[0] ? (await rows.messagesOf(conversations[0].id)).filter((m) => m.sender === "customer") : [];
      return { customer, conversations, messages };
    },
  };
  return rows;
}
