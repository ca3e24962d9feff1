import { expect } from "vitest";
import { WEBCHAT } from "./demo.ts";
import type { App } from "./server.ts";

/** Authenticated HTTP call to the API, through Hono's `app.request` (the server's own routes, no socket). */
export async function api(app: App, token: string, path: string, init: { method?: string; body?: unknown } = {}) {
  const res = await app.http.request(path, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A job as `GET /api/v2/jobs/{id}` answers it. */
export interface JobItemJson {
  conversationId: string;
  outcome: string | null;
  code?: string;
  message?: string;
}
export interface JobJson {
  id: string;
  kind: string;
  status: string;
  total: number;
  processed: number;
  createdAt: string;
  finishedAt: string | null;
  items: JobItemJson[];
}

/** Polls `GET /api/v2/jobs/{id}` (as the token's member) until the job is no longer running. */
export async function finishedJob(app: App, token: string, jobId: string): Promise<JobJson> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await api(app, token, `/api/v2/jobs/${jobId}`);
    expect(r.status).toBe(200);
    if (r.body.job.status !== "running") return r.body.job as JobJson;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still running`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Posts a customer message through the Webchat channel endpoint (no socket; the room it reaches is real). */
export async function webchat(
  app: App,
  body: { messageId: string; customer: { id: string; name: string }; text: string },
  secret: string = WEBCHAT.secret,
) {
  const res = await app.http.request(`/channels/webchat/${WEBCHAT.channelId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-channel-secret": secret },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

