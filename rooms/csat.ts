import type { SurveyRow } from "../db/surveys.ts";
import type { StoredMessage } from "../db/timeline.ts";
import { TriggeredKind } from "../domain/triggered.ts";
import type { CsatView } from "./state.ts";

/**
 * The satisfaction survey in the rooms (R8.2): the presence topic an answer is announced on, and
 * how the conversation state shows a survey.
 */

/** `csat:<conversationId>`, payload `{ surveyId }`: the survey was answered (committed). */
export function csatTopic(conversationId: string): string {
  return `csat:${conversationId}`;
}

/** True when the survey's link is among `messages` (its automatic message, sender id `csat`). */
export function hasSurveyMessage(messages: readonly Pick<StoredMessage, "sender" | "senderId">[]): boolean {
  return messages.some((m) => m.sender === "auto" && m.senderId === TriggeredKind.csat);
}

/** Writes `survey` (or nothing: all reset) into the state's `csat`. */
export function showSurvey(view: CsatView, survey: SurveyRow | null): void {
  view.surveyId = survey?.id ?? "";
  view.sentAt = survey?.createdAt.getTime() ?? 0;
  view.score = survey?.score ?? 0;
  view.comment = survey?.comment ?? "";
  view.answeredAt = survey?.answeredAt?.getTime() ?? 0;
  view.expiresAt = survey?.expiresAt.getTime() ?? 0;
}
