import { type AuthContext, type Client, Room } from "@colyseus/core";
import { isStorageUnavailable } from "../db/errors.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import type { Locale } from "../domain/sets.ts";
import { renderError } from "../domain/texts.ts";
import { type VisitorIdentity, type VisitorMessage, services } from "./ports.ts";
import { type Answer, WebchatJoinOptions, joinError, joinFailure, parseSay, requestIdOf, verifyForJoin } from "./protocol.ts";
import { Topic } from "./topics.ts";
import { webchatRoomId } from "./roomIds.ts";

interface VisitorData {
  visitor: VisitorIdentity;
  locale: Locale;
}

/**
 * One Webchat visitor's live room (issue 9, item 6): room id `webchat_<visitorId>`, one per
 * visitor cluster-wide, shared by all their open widgets. It holds no synchronized state: on join
 * the visitor gets `history`, then `message` for every new message (theirs from any tab, staff
 * replies from the delivery worker of any process through `Topic.visitor`), and writes with `say`,
 * answered exactly once on `result`. The conversation itself lives in its `conversation` room.
 */
export class WebchatRoom extends Room<{ client: Client<{ userData: VisitorData; auth: VisitorData }> }> {
  private topic = "";
  private readonly onPublished = (message: VisitorMessage) => {
    this.broadcast("message", message);
  };

  static override async onAuth(token: string, rawOptions: unknown, _context: AuthContext): Promise<VisitorData> {
    const options = WebchatJoinOptions.safeParse(rawOptions ?? {});
    if (!options.success) throw joinError(400, ErrorCode.INVALID_PAYLOAD);
    const visitor = await verifyForJoin(() => services().webchat.verify(token));
    // A token opens its own visitor's room only.
    if (visitor.visitorId !== options.data.visitorId) throw joinError(403, ErrorCode.VIEW_NOT_ALLOWED, options.data.locale);
    return { visitor, locale: options.data.locale };
  }

  override async onCreate(options: { visitorId: string }): Promise<void> {
    // Room ids are [A-Za-z0-9_-] (the WebSocket transport matches them so): visitor ids are base64url.
    this.roomId = webchatRoomId(options.visitorId);
    this.onMessage("*", (client, type, payload) => {
      void this.onVisitorMessage(client as WebchatRoom["~client"], type, payload);
    });
  }

  override async onJoin(client: WebchatRoom["~client"], _options: unknown, auth: VisitorData): Promise<void> {
    client.userData = auth;
    if (!this.topic) {
      // Subscribed before the history is read: a reply sent in between arrives (perhaps twice; clients keep one per conversation and seq).
      this.topic = Topic.visitor(auth.visitor.channelId, auth.visitor.visitorId);
      await this.presence.subscribe(this.topic, this.onPublished);
    }
    let messages: VisitorMessage[];
    try {
      messages = await services().webchat.history(auth.visitor);
    } catch (e) {
      services().log.error({ err: e, visitorId: auth.visitor.visitorId }, "webchat join: history not loaded");
      throw joinFailure(e, auth.locale);
    }
    client.send("history", { messages });
  }

  override async onDispose(): Promise<void> {
    if (this.topic) await this.presence.unsubscribe(this.topic, this.onPublished);
  }

  /** Every message is answered exactly once on `result`. */
  private async onVisitorMessage(client: WebchatRoom["~client"], type: string | number, payload: unknown): Promise<void> {
    const data = client.userData;
    const locale = data?.locale ?? "zh-TW";
    const refuse = (requestId: string | null, code: ErrorCode, issues?: string[]): Answer => ({
      requestId,
      ok: false,
      code,
      message: renderError(code, locale),
      ...(issues ? { issues } : {}),
    });
    let answer: Answer;
    try {
      if (!data) throw new Error("message from a client without join data");
      if (type !== "say") {
        answer = refuse(requestIdOf(payload), ErrorCode.UNKNOWN_ACTION);
      } else {
        const parsed = parseSay(payload);
        if (!parsed.ok) {
          answer = refuse(parsed.requestId, parsed.code, parsed.issues);
        } else {
          const { requestId, text } = parsed.say;
          const done = await services().webchat.say(data.visitor, requestId, text);
          answer = { requestId, ok: true, conversationId: done.conversationId, seq: done.seq ?? undefined, duplicate: done.duplicate };
          if (!done.duplicate && done.seq !== null) {
            const own: VisitorMessage = { conversationId: done.conversationId, seq: done.seq, from: "customer", text, at: services().now().toISOString() };
            this.broadcast("message", own);
          }
        }
      }
    } catch (e) {
      const requestId = requestIdOf(payload);
      if (e instanceof DomainError) answer = refuse(requestId, e.code);
      else {
        const code = isStorageUnavailable(e) ? ErrorCode.STORAGE_UNAVAILABLE : ErrorCode.INTERNAL;
        services().log.error({ err: e, visitorId: data?.visitor.visitorId, requestId, code }, "webchat message failed");
        answer = refuse(requestId, code);
      }
    }
    try {
      client.send("result", answer);
    } catch (e) {
      services().log.warn({ err: e, visitorId: data?.visitor.visitorId }, "answer not sent");
    }
  }
}
