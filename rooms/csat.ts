import type { ShownSurvey } from "../db/snapshot.ts";
import type { teamCsat } from "../db/surveys.ts";
import type { StoredMessage } from "../db/timeline.ts";
import { TriggeredKind } from "../domain/triggered.ts";
import { CsatItem, type CsatView } from "./state.ts";
import type { TeamState } from "./TeamRoom.ts";

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
export function showSurvey(view: CsatView, survey: ShownSurvey | null): void {
  view.surveyId = survey?.id ?? "";
  view.sentAt = survey?.createdAt.getTime() ?? 0;
  view.score = survey?.score ?? 0;
  view.comment = survey?.comment ?? "";
  view.answeredAt = survey?.answeredAt?.getTime() ?? 0;
  view.expiresAt = survey?.expiresAt.getTime() ?? 0;
}

/** How many of the newest answers the team room lists. */
export const CSAT_RECENT = 20;

/** A survey answer as published on the team topic (`{ type: "csat", … }`, by `POST /surveys/{token}`). */
export interface CsatEvent {
  readonly type: "csat";
  readonly surveyId: string;
  readonly conversationId: string;
  readonly customerName: string;
  readonly followerId: string | null;
  readonly score: number;
  readonly comment: string | null;
  /** Milliseconds since the epoch. */
  readonly answeredAt: number;
}

/**
 * The team room's survey figures (R8.2): answers counted, their average, the newest ones. Loaded
 * from storage, then each answer event applied once (an answer already listed — read by the load
 * and delivered after it — is not counted twice).
 */
export class TeamCsat {
  private sum = 0;

  constructor(private readonly state: TeamState) {}

  load(data: Awaited<ReturnType<typeof teamCsat>>): void {
    this.sum = data.scoreSum;
    this.state.csatAnswered = data.answered;
    this.state.csatRecent.clear();
    for (const r of data.recent) this.state.csatRecent.push(itemOf({ ...r, type: "csat", answeredAt: r.answeredAt.getTime() }));
    this.syncAverage();
  }

  apply(e: CsatEvent): void {
    if (this.state.csatRecent.some((i) => i.surveyId === e.surveyId)) return;
    this.sum += e.score;
    this.state.csatAnswered += 1;
    this.state.csatRecent.unshift(itemOf(e));
    while (this.state.csatRecent.length > CSAT_RECENT) this.state.csatRecent.pop();
    this.syncAverage();
  }

  private syncAverage(): void {
    const n = this.state.csatAnswered;
    this.state.csatAverage = n ? Math.round((this.sum / n) * 100) / 100 : 0;
  }
}

function itemOf(e: CsatEvent): CsatItem {
  const item = new CsatItem();
  item.surveyId = e.surveyId;
  item.conversationId = e.conversationId;
  item.customerName = e.customerName;
  item.followerId = e.followerId ?? "";
  item.score = e.score;
  item.comment = e.comment ?? "";
  item.answeredAt = e.answeredAt;
  return item;
}
