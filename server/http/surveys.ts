import { readFileSync } from "node:fs";
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { z } from "zod";
import { answeredSurvey, answerSurvey, type SurveyRow, surveyByToken } from "../../db/surveys.ts";
import { SURVEY_COMMENT_MAX, SURVEY_LIFETIME_MS, SurveyAnswer, SurveyState, surveyState } from "../../domain/csat.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { csatTopic } from "../../rooms/csat.ts";
import { Topic } from "../../rooms/topics.ts";
import { LimitName } from "../rateLimit.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { RateLimited } from "./errors.ts";
import { ErrorBody, errors, json, jsonBody, router } from "./openapi.ts";

/**
 * The satisfaction survey's public half (R8.2, R13.1; docs/protocol.md §7.18): the page the link
 * opens (`GET /survey/{token}`, plain HTML), its state (`GET /surveys/{token}`) and the answer
 * (`POST /surveys/{token}`). No member token: the survey's token is the credential. Stored once;
 * a second answer is 409 SURVEY_ANSWERED, an unknown token 404, an expired survey 410.
 */

const TAG = "surveys";
const Token = z.object({ token: z.string().min(1).max(200).describe("The survey's token, from its link") });

const SurveyView = z
  .object({
    state: z.enum([SurveyState.open, SurveyState.answered, SurveyState.expired]),
    score: z.number().int().nullable().describe("1–5 once answered"),
    comment: z.string().nullable(),
    answeredAt: z.string().nullable().describe("ISO 8601"),
    expiresAt: z.string().describe(`ISO 8601: the link works until then (${SURVEY_LIFETIME_MS / 86_400_000} days after it was sent)`),
  })
  .meta({ id: "Survey" });

const gone = { description: "The survey has expired (SURVEY_EXPIRED)", content: { "application/json": { schema: ErrorBody } } };

const getSurvey = createRoute({
  method: "get",
  path: "/surveys/{token}",
  tags: [TAG],
  operationId: "getSurvey",
  summary: "A satisfaction survey's state (R8.2)",
  description:
    "What the survey page shows: open, answered (with the answer) or expired. No member token: the survey's token is the credential.",
  request: { params: Token },
  responses: { 200: json(SurveyView, "The survey"), ...errors(404, 429) },
});

const postAnswer = createRoute({
  method: "post",
  path: "/surveys/{token}",
  tags: [TAG],
  operationId: "answerSurvey",
  summary: "Answer a satisfaction survey, once (R8.2, R13.1)",
  description:
    `A score 1–5 and an optional comment (at most ${SURVEY_COMMENT_MAX} characters, trimmed). Stored once: a second answer is 409 \`SURVEY_ANSWERED\` ` +
    "and changes nothing; an unknown token is 404 `NOT_FOUND`; an expired survey 410 `SURVEY_EXPIRED`. " +
    "The score shows at once in the conversation room's `csat` and the team room's `csat*` fields.",
  request: { params: Token, body: jsonBody(SurveyAnswer) },
  responses: { 200: json(SurveyView, "Stored"), ...errors(404, 409, 429), 410: gone },
});

function viewOf(s: SurveyRow, now: Date): z.infer<typeof SurveyView> {
  return {
    state: surveyState(s, now),
    score: s.score,
    comment: s.comment,
    answeredAt: s.answeredAt?.toISOString() ?? null,
    expiresAt: s.expiresAt.toISOString(),
  };
}

/**
 * Survey requests per client address (per token for in-process calls, which have no address),
 * counted in the public routes' limit (`RATE_LIMIT_WEBHOOKS`, keyed apart from the channels).
 */
async function limit(deps: AppDeps, c: Context<AppEnv>, token: string): Promise<void> {
  const key = `survey:${c.get("address") ?? token}`;
  const verdict = await deps.limits.take(LimitName.webhook, key);
  if (verdict.ok) return;
  deps.metrics.limited(LimitName.webhook);
  c.get("log")?.warn({ limit: LimitName.webhook, key }, "survey rate limited");
  throw new RateLimited(LimitName.webhook, verdict.retryAfterMs);
}

export function surveyRoutes(deps: AppDeps) {
  const app = router();
  const db = deps.database.db;
  app.openapi(getSurvey, async (c) => {
    const { token } = c.req.valid("param");
    await limit(deps, c, token);
    const survey = await surveyByToken(db, token);
    if (!survey) throw new DomainError(ErrorCode.NOT_FOUND);
    return c.json(viewOf(survey, deps.now()), 200);
  });
  app.openapi(postAnswer, async (c) => {
    const { token } = c.req.valid("param");
    await limit(deps, c, token);
    const body = c.req.valid("json");
    const now = deps.now();
    const stored = await answerSurvey(db, token, { score: body.score, comment: body.comment ? body.comment : null }, now);
    if (!stored) {
      // Not stored: say why (read after the refused write, so a concurrent answer shows as answered).
      const survey = await surveyByToken(db, token);
      if (!survey) throw new DomainError(ErrorCode.NOT_FOUND);
      throw new DomainError(surveyState(survey, now) === SurveyState.answered ? ErrorCode.SURVEY_ANSWERED : ErrorCode.SURVEY_EXPIRED);
    }
    await announce(deps, stored);
    return c.json(viewOf(stored, now), 200);
  });
  return app;
}

/** After the commit: the conversation's room and the workspace's team room show the answer (best effort: their next load reads it). */
async function announce(deps: AppDeps, s: SurveyRow): Promise<void> {
  try {
    await deps.presence.publish(csatTopic(s.conversationId), { surveyId: s.id });
    const item = await answeredSurvey(deps.database.db, s.id);
    if (item) await deps.presence.publish(Topic.team(s.workspaceId), { type: "csat", ...item, answeredAt: item.answeredAt.getTime() });
  } catch (err) {
    deps.log.warn({ err, surveyId: s.id }, "survey answer not announced to the rooms");
  }
}

let page: string | null = null;

/** `GET /survey/{token}`: the survey page (plain HTML and a small script, zh-TW or English by the browser, no CDN). */
export function mountSurveyPage(app: OpenAPIHono<AppEnv>): void {
  app.get("/survey/:token", (c) => {
    page ??= readFileSync(new URL("../survey/survey.html", import.meta.url), "utf8");
    return c.html(page, 200, { "cache-control": "no-cache", "referrer-policy": "no-referrer", "x-robots-tag": "noindex" });
  });
}
