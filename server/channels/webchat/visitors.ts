import { createHmac, randomBytes } from "node:crypto";
import type { Presence } from "@colyseus/core";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { findChannel } from "../../../db/channels.ts";
import type { Db } from "../../../db/client.ts";
import { type VisitorMessageRow, visitorMessages } from "../../../db/webchat.ts";
import { ChannelStatus } from "../../../domain/channels.ts";
import { DomainError, ErrorCode } from "../../../domain/errors.ts";
import type { VisitorIdentity, VisitorMessage, WebchatPort } from "../../../rooms/ports.ts";
import { Topic } from "../../../rooms/topics.ts";
import type { Intake, Processed } from "../intake.ts";
import type { ChannelSender } from "../types.ts";

/**
 * The Webchat visitor side (issue 9, item 6): a website visitor gets a visitor token from the
 * widget endpoint, joins the `webchat` room with it, writes through the room and reads staff
 * replies live. Visitor tokens are JWTs (HS256) under a key derived from the server's JWT secret
 * with their own audience: a visitor token never opens a staff room, nor a staff token a visitor's.
 */

const AUDIENCE = "webchat-visitor";
/** How many of the newest messages a visitor's room sends on join. */
export const VISITOR_HISTORY = 50;

export function newVisitorId(): string {
  return `v_${randomBytes(16).toString("base64url")}`;
}

export class VisitorTokens {
  private readonly key: Uint8Array;

  constructor(
    jwtSecret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = createHmac("sha256", jwtSecret).update("webchat visitor tokens").digest();
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  sign(v: VisitorIdentity): Promise<string> {
    return new SignJWT({ ch: v.channelId, ws: v.workspaceId, name: v.name })
      .setProtectedHeader({ alg: "HS256" })
      .setAudience(AUDIENCE)
      .setSubject(v.visitorId)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** The visitor a token speaks for, or UNAUTHENTICATED / TOKEN_EXPIRED. */
  async verify(token: string | null | undefined): Promise<VisitorIdentity> {
    if (!token) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ["HS256"], audience: AUDIENCE, requiredClaims: ["exp", "sub"] });
      const { sub, ch, ws, name } = payload;
      if (typeof sub !== "string" || typeof ch !== "string" || typeof ws !== "string" || typeof name !== "string")
        throw new DomainError(ErrorCode.UNAUTHENTICATED);
      return { visitorId: sub, channelId: ch, workspaceId: ws, name };
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new DomainError(ErrorCode.TOKEN_EXPIRED);
      throw new DomainError(ErrorCode.UNAUTHENTICATED);
    }
  }
}

function toVisitorMessage(r: VisitorMessageRow): VisitorMessage {
  return {
    conversationId: r.conversationId,
    seq: r.seq,
    from: r.from,
    text: r.text,
    ...(r.parts ? { parts: r.parts } : {}),
    at: r.at.toISOString(),
  };
}

/** What the `webchat` room asks of the server: who a token is, what the visitor said before, and saying something. */
export class WebchatVisitors implements WebchatPort {
  constructor(private readonly deps: { db: Db; intake: Intake; tokens: VisitorTokens; now: () => Date }) {}

  verify(token: string | null | undefined): Promise<VisitorIdentity> {
    return this.deps.tokens.verify(token);
  }

  async history(v: VisitorIdentity): Promise<VisitorMessage[]> {
    return (await visitorMessages(this.deps.db, v.channelId, v.visitorId, VISITOR_HISTORY)).map(toVisitorMessage);
  }

  /**
   * A visitor's message, through the same intake as every channel's (stored once per request id,
   * then applied in the conversation's room). A disabled or deleted channel refuses it: NOT_FOUND.
   */
  async say(v: VisitorIdentity, requestId: string, text: string): Promise<Processed> {
    const channel = await findChannel(this.deps.db, v.channelId, "webchat");
    if (!channel || channel.status === ChannelStatus.disabled || channel.workspaceId !== v.workspaceId)
      throw new DomainError(ErrorCode.NOT_FOUND);
    const account = {
      id: channel.id,
      workspaceId: channel.workspaceId,
      type: channel.type,
      status: channel.status,
      settings: {},
      secrets: {},
    };
    return this.deps.intake.receiveNow(account, {
      kind: "message",
      // Provider event ids are unique per channel: scoped by visitor, so two visitors' request ids never meet.
      providerEventId: `${v.visitorId}:${requestId}`,
      channelUserId: v.visitorId,
      displayName: v.name,
      parts: [{ type: "text", text }],
      sentAt: this.deps.now().toISOString(),
    });
  }
}

/**
 * Webchat's sender: a staff reply goes to the visitor's live room (wherever it lives: a presence
 * topic) and is `sent` once published. A visitor not connected at that moment reads it from the
 * room's history when they next open the widget.
 */
export function webchatSender(presence: () => Presence, now: () => Date = () => new Date()): ChannelSender {
  return {
    async send(account, message) {
      const live: VisitorMessage = {
        conversationId: message.conversationId,
        seq: message.seq,
        from: "staff",
        text: message.text,
        ...(message.parts ? { parts: message.parts } : {}),
        at: now().toISOString(),
      };
      await presence().publish(Topic.visitor(account.id, message.recipient), live);
      return { ok: true };
    },
  };
}
