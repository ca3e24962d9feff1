import { z } from "zod";

/**
 * The satisfaction survey's rules (R8.2, R13.1), pure: how long a link works, what an answer is,
 * and what state a survey is in at a given time.
 */

/** How long a survey link works after it is sent: 7 days. */
export const SURVEY_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** The longest comment, in characters (code points: a 4-byte character counts once, as zod counts). */
export const SURVEY_COMMENT_MAX = 1000;

export const SurveyAnswer = z
  .object({
    score: z.number().int().min(1).max(5).describe("1 (very dissatisfied) to 5 (very satisfied)"),
    comment: z.string().trim().max(SURVEY_COMMENT_MAX).optional().describe(`Optional, at most ${SURVEY_COMMENT_MAX} characters (trimmed; empty is none)`),
  })
  .strict()
  .meta({ id: "SurveyAnswer" });
export type SurveyAnswer = z.infer<typeof SurveyAnswer>;

export const SurveyState = { open: "open", answered: "answered", expired: "expired" } as const;
export type SurveyState = (typeof SurveyState)[keyof typeof SurveyState];

/** Answered wins over expired: an answer given in time stays visible. */
export function surveyState(s: { readonly answeredAt: Date | null; readonly expiresAt: Date }, now: Date): SurveyState {
  if (s.answeredAt) return SurveyState.answered;
  return now.getTime() >= s.expiresAt.getTime() ? SurveyState.expired : SurveyState.open;
}

/** The key naming one close of a conversation: the conversation and its last seq when the close committed. */
export function closeKeyOf(conversationId: string, seq: number): string {
  return `${conversationId}:${seq}`;
}
