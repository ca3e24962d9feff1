import { isOpenAt, openBetween } from "./hours.ts";
import {
  type Conversation,
  type DecideContext,
  type KeywordRule,
  type MemberInfo,
  type WorkspaceSettings,
  isCollaborative,
} from "./model.ts";
import { MemberStatus, Status } from "./sets.ts";
import { TriggeredKind, supportsTriggered } from "./triggered.ts";

/**
 * Automatic messages and assignment on a customer message (SPEC R13.1, R13.2), as pure rules:
 *
 * - away (R13.1, every channel, collaborative conversations too): outside business hours, once per
 *   closed period;
 * - welcome (R13.2, 1-on-1 only): on the first customer message of a new conversation;
 * - keyword auto-assignment (R13.2, 1-on-1 only): a pending conversation without follower goes to
 *   the member of the first rule whose keyword the message contains;
 * - OMO binding success / additional messages (R13.2, never on a collaborative conversation).
 *
 * "1-on-1" here is a direct conversation without collaborators. WhatsApp group conversations are
 * neither welcomed nor keyword-assigned (the message of any group member would trigger them); an
 * OMO binding message is sent explicitly, so it goes to any conversation that is not collaborative.
 */

/** The `senderId` of each automatic message (`sender: "auto"`) this file sends. */
export const AutoSender = {
  away: TriggeredKind.away,
  welcome: "welcome",
  omo_binding_success: "omo_binding_success",
  omo_binding_additional: "omo_binding_additional",
} as const;
export type AutoSender = (typeof AutoSender)[keyof typeof AutoSender];

/** R13.2's features: not supported for collaborative conversations. */
export const OneOnOneFeature = {
  keyword_assignment: "keyword_assignment",
  welcome: "welcome",
  omo_binding: "omo_binding",
} as const;
export type OneOnOneFeature = (typeof OneOnOneFeature)[keyof typeof OneOnOneFeature];

export const OMO_BINDING_KINDS = ["success", "additional"] as const;
export type OmoBindingKind = (typeof OMO_BINDING_KINDS)[number];

/** R13.2: may this feature act on this conversation (as it is after the customer message)? */
export function allowsOneOnOneFeature(feature: OneOnOneFeature, c: Pick<Conversation, "kind" | "collaboratorIds">): boolean {
  if (isCollaborative(c)) return false;
  return feature === OneOnOneFeature.omo_binding || c.kind === "direct";
}

export interface AutoMessage {
  readonly senderId: AutoSender;
  readonly text: string;
}

/**
 * R13.1: true when a customer message at `now` on this channel may need the away message, i.e.
 * the workspace is closed and the message is on: the room then reads when the last one went out.
 */
export function awayMayBeDue(settings: WorkspaceSettings, c: Pick<Conversation, "channel">, now: Date): boolean {
  return settings.awayText.trim() !== "" && supportsTriggered(TriggeredKind.away, c.channel) && !isOpenAt(settings.businessHours, now);
}

/**
 * R13.1: the away message, when the customer writes outside business hours and none went out in
 * this closed period (the last one was sent before the business last opened). Any conversation,
 * collaborative or not.
 */
export function awayMessage(
  c: Pick<Conversation, "channel">,
  ctx: Pick<DecideContext, "settings" | "now" | "timeline">,
): AutoMessage | null {
  if (!awayMayBeDue(ctx.settings, c, ctx.now)) return null;
  const last = ctx.timeline?.lastAwayAt ?? null;
  if (last && !openBetween(ctx.settings.businessHours, last, ctx.now)) return null; // this period had one
  return { senderId: AutoSender.away, text: ctx.settings.awayText.trim() };
}

/**
 * R13.2: the welcome message, on the first customer message of a new conversation — one whose
 * timeline is empty, i.e. created for this message (a closed conversation the customer writes to
 * again is not new: no welcome) — and only on a 1-on-1 conversation.
 */
export function welcomeMessage(
  c: Pick<Conversation, "kind" | "collaboratorIds">,
  ctx: Pick<DecideContext, "settings" | "timeline">,
): AutoMessage | null {
  const text = ctx.settings.welcomeText.trim();
  if (!text || !ctx.timeline?.empty) return null;
  if (!allowsOneOnOneFeature(OneOnOneFeature.welcome, c)) return null;
  return { senderId: AutoSender.welcome, text };
}

/** How keywords and texts are compared: Unicode-normalized (NFKC: full-width letters match) and lower-cased. */
export function foldCase(text: string): string {
  return text.normalize("NFKC").toLowerCase();
}

/** The rules whose keyword `text` contains, in the workspace's order. */
export function matchingRules(rules: readonly KeywordRule[], text: string): KeywordRule[] {
  const folded = foldCase(text);
  return rules.filter((r) => {
    const k = foldCase(r.keyword.trim());
    return k !== "" && folded.includes(k);
  });
}

/** R13.2: may keyword assignment act on this conversation (as it is after the customer message)? */
export function assignable(c: Pick<Conversation, "kind" | "collaboratorIds" | "status" | "followerId">): boolean {
  return c.status === Status.pending && c.followerId === null && allowsOneOnOneFeature(OneOnOneFeature.keyword_assignment, c);
}

/**
 * The members keyword assignment may pick for this message, for the room to read their rows
 * (DecideContext.members) before deciding. Empty when the conversation cannot be assigned.
 */
export function keywordCandidates(c: Conversation, text: string, settings: WorkspaceSettings): string[] {
  if (settings.keywordRules.length === 0) return [];
  const after = c.status === Status.closed && !isCollaborative(c) ? { ...c, status: Status.pending, followerId: null } : c;
  if (!assignable(after)) return [];
  return [...new Set(matchingRules(settings.keywordRules, text).map((r) => r.memberId))];
}

/**
 * R13.2: the member a customer message assigns the conversation to: the first rule (in the
 * workspace's order) whose keyword the text contains and whose member is active now; a rule
 * naming a member unknown or no longer active is skipped. Null when none, or when the
 * conversation is not a pending 1-on-1 without follower.
 */
export function keywordAssignee(
  c: Pick<Conversation, "kind" | "collaboratorIds" | "status" | "followerId">,
  text: string,
  settings: WorkspaceSettings,
  members: ReadonlyMap<string, MemberInfo>,
): string | null {
  if (!assignable(c)) return null;
  for (const rule of matchingRules(settings.keywordRules, text)) {
    if (members.get(rule.memberId)?.status === MemberStatus.active) return rule.memberId;
  }
  return null;
}
