import type { Page, WebSocket } from "playwright-core";
import { describe, expect, it } from "vitest";
import { api, signIn, useChromium } from "../support/browser.ts";
import { EMAIL, ID } from "../support/demo.ts";
import { login, useTestServer } from "../support/server.ts";

/**
 * The dashboard (web/src/dashboard.tsx, `#/dashboard`): the team room (docs/protocol.md §9) in a
 * real browser, live while an admin deactivates a member in `#/admin` (§7.6, SPEC §14).
 */

const app = useTestServer();
const chrome = useChromium();
const { executablePath } = chrome;

/** A member's load as the dashboard shows it. */
async function load(page: Page, memberId: string): Promise<{ following: number; collaborating: number }> {
  const row = page.locator(`tr[data-member="${memberId}"]`);
  return {
    following: Number(await row.locator("[data-load=following]").textContent()),
    collaborating: Number(await row.locator("[data-load=collaborating]").textContent()),
  };
}
async function count(page: Page, key: string): Promise<number> {
  return Number(await page.locator(`td[data-count="${key}"]`).textContent());
}

describe.skipIf(!executablePath)("the dashboard in chromium", () => {
  it("an admin deactivates a member and the dashboard's loads move live: the member is taken out of every conversation (R14.1), a followed collaborative one goes to the first collaborator (R14.4) and one left without collaborators is 1-on-1 (R14.3), a followed 1-on-1 goes back to pending (R14.4); the member goes offline and is signed out", async () => {
    // Ben (cs_manager) reads English for this test; Amy (supervisor) stays in zh-TW.
    const admin = await login(app, EMAIL.admin);
    expect((await api(app, admin, "PATCH", `/api/v2/members/${ID.manager}`, { locale: "en" })).status).toBe(200);

    const contexts = await Promise.all([
      chrome.browser!.newContext({ locale: "en-US", viewport: { width: 1100, height: 900 } }),
      chrome.browser!.newContext({ locale: "zh-TW", viewport: { width: 390, height: 844 } }),
      chrome.browser!.newContext({ locale: "zh-TW", viewport: { width: 1000, height: 800 } }),
      chrome.browser!.newContext({ locale: "zh-TW", viewport: { width: 1000, height: 800 } }),
    ]);
    const [ben, amy, jess, dan] = (await Promise.all(contexts.map((c) => c.newPage()))) as [Page, Page, Page, Page];
    const problems: string[] = [];
    for (const p of [ben, amy, jess, dan]) p.on("pageerror", (e) => problems.push(e.message));
    const benTeamSockets: WebSocket[] = [];
    ben.on("websocket", (ws) => {
      if (ws.url().includes("team-")) benTeamSockets.push(ws);
    });

    await Promise.all([
      signIn(app, ben, EMAIL.manager),
      signIn(app, amy, EMAIL.supervisor),
      signIn(app, jess, EMAIL.admin),
      signIn(app, dan, EMAIL.agent),
    ]);
    // Dan (agent) has no dashboard link; Ben and Amy (TEAM_VIEWERS) do.
    expect(await dan.getByRole("navigation").getByRole("link").count()).toBe(0);
    await ben.getByRole("link", { name: "Dashboard" }).click();
    await amy.getByRole("link", { name: "儀表板" }).click();
    const danRow = ben.locator(`tr[data-member="${ID.agent}"]`);
    await danRow.waitFor();

    // Dan follows demo-direct (1-on-1) and demo-collab (with Ben), collaborates on demo-collab-full and demo-group; he is online.
    await expect.poll(() => load(ben, ID.agent)).toEqual({ following: 2, collaborating: 2 });
    await expect.poll(() => load(ben, ID.manager)).toEqual({ following: 0, collaborating: 2 });
    await danRow.getByRole("img", { name: "Online" }).waitFor();
    await amy.locator(`tr[data-member="${ID.agent}"]`).getByRole("img", { name: "在線" }).waitFor();
    const before = {
      pending: await count(ben, "pending.regular"),
      regular: await count(ben, "in_progress.regular"),
      collaborative: await count(ben, "in_progress.collaborative"),
    };
    expect(before.collaborative).toBeGreaterThanOrEqual(3);
    await ben.screenshot({ path: `${chrome.screens}/dashboard-en.png`, fullPage: true });
    await amy.screenshot({ path: `${chrome.screens}/dashboard-zh-TW.png`, fullPage: true });

    // Jess deactivates Dan from #/admin, after confirming.
    await jess.getByRole("link", { name: "成員與設定" }).click();
    const row = jess.locator(`li[data-member="${ID.agent}"]`);
    await row.locator("[data-admin=deactivate]").click();
    await row.getByRole("alertdialog").waitFor();
    await row.locator("[data-confirm=yes]").click();
    await row.locator("[data-status=deactivated]").waitFor();
    // The departure job (§7.6) runs to its end on Jess's screen, every conversation done.
    const departure = jess.locator(".job[data-job-status=done]");
    await departure.waitFor();
    expect(await departure.textContent()).toMatch(/停用成員: 進度 (\d+) \/ \1 · 已完成/);
    expect(await departure.locator(".failures li").count()).toBe(0);

    // The dashboards follow live: Dan deactivated, offline, loads to 0; Ben now follows demo-collab and collaborates on demo-collab-full only.
    await danRow.getByText("Deactivated").waitFor();
    await danRow.getByRole("img", { name: "Offline" }).waitFor();
    await expect.poll(() => load(ben, ID.agent)).toEqual({ following: 0, collaborating: 0 });
    await expect.poll(() => load(ben, ID.manager)).toEqual({ following: 1, collaborating: 1 });
    await expect.poll(() => load(amy, ID.agent)).toEqual({ following: 0, collaborating: 0 });
    // demo-direct back to pending; demo-collab and demo-group now without collaborators (regular).
    await expect.poll(() => count(ben, "pending.regular")).toBe(before.pending + 1);
    await expect.poll(() => count(ben, "in_progress.collaborative")).toBe(before.collaborative - 2);
    await expect.poll(() => count(ben, "in_progress.regular")).toBe(before.regular + 1);
    // Dan's console closed with 4104 and signed him out.
    await dan.locator('input[name="email"]').waitFor();

    // Leaving the dashboard leaves the team room.
    expect(benTeamSockets.filter((ws) => !ws.isClosed())).toHaveLength(1);
    await ben.getByRole("link", { name: "Inbox" }).click();
    await expect.poll(() => benTeamSockets.filter((ws) => !ws.isClosed()).length).toBe(0);

    expect(problems).toEqual([]);
    await Promise.all(contexts.map((c) => c.close()));
  }, 180_000); // four browsers and a departure job: room on a shared, loaded machine

  it("an agent opening #/dashboard is told it is for team viewers, and the team room was never joined", async () => {
    const context = await chrome.browser!.newContext({ locale: "en-US", viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const sockets: string[] = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    await signIn(app, page, EMAIL.agent2); // Eve, agent, en
    await page.goto(`${app.url}/#/dashboard`);
    await page.getByRole("alert").filter({ hasText: "Only admins, supervisors and CS managers can see the dashboard." }).waitFor();
    expect(await page.locator("table").count()).toBe(0);
    expect(sockets.some((u) => u.includes("team"))).toBe(false);
    await context.close();
  });
});
