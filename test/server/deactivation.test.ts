import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { loadItems, loadJob } from "../../db/jobs.ts";
import { loadEvents } from "../../db/repository.ts";
import * as s from "../../db/schema.ts";
import { renderLog } from "../../domain/texts.ts";
import { deactivateMember } from "../../server/members.ts";
import { EMAIL, ID, login, open, sdk, useTestServer, waitFor } from "../support/server.ts";

const app = useTestServer();

async function row(id: string) {
  return (await app.database.db.select().from(s.conversations).where(eq(s.conversations.id, id)))[0]!;
}

describe("deactivating a member", () => {
  it("[R14.1] [R14.2] [R14.3] [R14.4] closes their connections, revokes their token and reshapes their conversations", async () => {
    const danToken = await login(app, EMAIL.agent);
    const dan = await open(app, danToken, "demo-collab-full");
    const inbox = await sdk(app, danToken).joinOrCreate("inbox", { memberId: ID.agent });
    let inboxClosed = 0;
    inbox.onLeave((code: number) => {
      inboxClosed = code;
    });
    const ben = await open(app, await login(app, EMAIL.manager), "demo-collab");

    const { job } = await deactivateMember(
      { db: app.database.db, presence: app.presence, now: () => new Date(), kickJobs: () => app.jobs.kick() },
      { actorId: ID.admin, memberId: ID.agent, status: "deactivated" },
    );
    // The departures run as a job (server/jobs.ts); every conversation of Dan's is an item.
    expect(job.total).toBe(5);
    for (let i = 0; (await loadJob(app.database.db, job.id))?.status !== "done"; i++) {
      if (i > 300) throw new Error("the departure job did not finish");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await loadItems(app.database.db, job.id)).map((i) => i.outcome)).toEqual(["ok", "ok", "ok", "ok", "ok"]);

    // Open connections close with the deactivation code; the token stops working.
    await waitFor(() => dan.closed !== null && inboxClosed !== 0);
    expect(dan.closed?.code).toBe(4104);
    expect(inboxClosed).toBe(4104);
    const me = await fetch(`${app.url}/api/v2/me`, { headers: { authorization: `Bearer ${danToken}` } });
    expect(me.status).toBe(403);
    expect(((await me.json()) as { code: string }).code).toBe("MEMBER_INACTIVE");

    // R14.1: removed from the collaborative conversation; R14.2: the status log line.
    const full = await row("demo-collab-full");
    expect(full.collaboratorIds).not.toContain(ID.agent);
    expect(full.collaboratorIds).toHaveLength(4);
    const events = await loadEvents(app.database.db, "demo-collab-full", 10);
    const names = new Map<string, string>([
      [ID.admin, "Jess"],
      [ID.agent, "Dan"],
    ]);
    const line = renderLog(events.at(-1)!, "zh-TW", (id) => names.get(id ?? "") ?? "?");
    expect(line).toBe("Jess (停用者) 將 Dan 退出協作對話");

    // R14.4: Dan followed demo-collab with Ben as its only collaborator → Ben follows, 1-on-1.
    const collab = await row("demo-collab");
    expect(collab.followerId).toBe(ID.manager);
    expect(collab.collaboratorIds).toEqual([]);
    await waitFor(() => ben.state.follower?.id === ID.manager && ben.state.collaborative === false);

    // R14.3: the group conversation's last collaborator leaves → 1-on-1.
    const group = await row("demo-group");
    expect(group.followerId).toBe(ID.supervisor);
    expect(group.collaboratorIds).toEqual([]);

    // A 1-on-1 conversation whose follower departs goes back to pending without a follower.
    const direct = await row("demo-direct");
    expect(direct.followerId).toBeNull();
    expect(direct.status).toBe("pending");
    await ben.leave();
  });
});
