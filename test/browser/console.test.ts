import { readdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { ID } from "../support/demo.ts";
import { connect } from "../support/rooms.ts";
import { useTestServer, waitFor } from "../support/server.ts";
import { root, useChromium } from "../support/browser.ts";

/**
 * The web console (web/, served at `/` by server/http/console.ts; issue 12, item 2): how the server
 * serves it next to its own routes, then the console itself in a real browser (Debian's `chromium`
 * driven by playwright-core, as test/browser/widget.test.ts): sign in as a demo member, see the inbox
 * with its live counts, and see a conversation and a notice arrive live after another member acts.
 * The console is built once here when web/dist is missing or older than web/ (web/build.mjs).
 */

const chrome = useChromium();
const app = useTestServer();

const html = { accept: "text/html,application/xhtml+xml" };

describe("the console's files next to the server's own routes", () => {
  it("serves index.html at / and the hashed bundles with a long cache", async () => {
    const res = await app.http.request("/", { headers: html });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const page = await res.text();
    expect(page).toContain('<div id="app"></div>');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page)?.[1];
    expect(script).toBeDefined();
    const js = await app.http.request(script!);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect(js.headers.get("cache-control")).toContain("immutable");
    const assets = readdirSync(`${root}/web/dist/assets`);
    expect(assets.some((f) => f.endsWith(".css"))).toBe(true);
  });

  it("answers a console page asked for as HTML (a deep link, a reload) with index.html, anything else unknown with the JSON 404", async () => {
    const deep = await app.http.request("/inbox/mine", { headers: html });
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('<div id="app"></div>');

    const script = await app.http.request("/nothing-here.js", { headers: { accept: "*/*" } });
    expect(script.status).toBe(404);
    expect(((await script.json()) as { code: string }).code).toBe("NOT_FOUND");
    const post = await app.http.request("/", { method: "POST", headers: html });
    expect(post.status).toBe(404);
    const traversal = await app.http.request("/assets/..%2f..%2fpackage.json", { headers: { accept: "*/*" } });
    expect(traversal.status).toBe(404);
  });

  it("never shadows the server's routes, even for a browser asking for HTML", async () => {
    const api = await app.http.request("/api/v2/conversations", { headers: html });
    expect(api.status).toBe(401);
    expect(((await api.json()) as { code: string }).code).toBe("UNAUTHENTICATED");
    const unknownApi = await app.http.request("/api/v2/no-such-route", { headers: html });
    expect(unknownApi.headers.get("content-type")).toMatch(/json/);
    for (const path of ["/auth/nope", "/channels/nope", "/webhooks/nope", "/monitor-x/../monitor/x"]) {
      const res = await app.http.request(path, { headers: html });
      expect(res.headers.get("content-type"), path).not.toMatch(/text\/html/);
    }
    expect(((await (await app.http.request("/healthz", { headers: html })).json()) as { ok: boolean }).ok).toBe(true);
    expect((await app.http.request("/openapi.json", { headers: html })).headers.get("content-type")).toMatch(/json/);
    const docs = await (await app.http.request("/docs", { headers: html })).text();
    expect(docs).toContain("swagger");
    const widget = await (await app.http.request("/widget?channel=demo-webchat", { headers: html })).text();
    expect(widget).not.toContain('<div id="app"></div>');
    // The survey page (§7.18) is its own page, for any token.
    const survey = await (await app.http.request("/survey/x", { headers: html })).text();
    expect(survey).not.toContain('<div id="app"></div>');
  });
});

async function signIn(page: Page, email: string): Promise<void> {
  await page.goto(`${app.url}/`);
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill("demo-password");
  await page.locator('input[name="password"]').press("Enter");
}

/** The status tab's count as shown, e.g. "In progress 2" → 2. */
async function tabCount(page: Page, status: string): Promise<number> {
  return Number(await page.locator(`[role=tab][data-status=${status}] .count`).textContent());
}

describe.skipIf(!chrome.executablePath)("the web console in chromium", () => {
  it("an English-speaking agent signs in, sees the inbox with its counts, then a conversation and a notice arrive live when a follower adds her (R2.7); a refusal shows its message; her removal closes the view with 4101 and takes the item off her list (R3.2)", async () => {
    const context = await chrome.browser!.newContext({ locale: "en-US", viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`${app.url}/`);
    await page.locator('input[name="email"]').waitFor();
    await page.screenshot({ path: `${chrome.screens}/login-en.png` });
    await signIn(page, "agent2@demo.test"); // Eve, locale en: collaborator in demo-collab-full, follows demo-closed

    const list = page.getByRole("list", { name: "Mine · In progress" });
    await list.locator("li[data-id=demo-collab-full]").waitFor();
    await expect.poll(() => tabCount(page, "in_progress")).toBe(1);
    await expect.poll(() => tabCount(page, "closed")).toBe(1);
    expect(await page.getByRole("tab", { name: /Team/ }).count()).toBe(0); // an agent has no team view
    expect(await list.locator("li").count()).toBe(1);

    // Amy (supervisor) follows demo-group and adds Eve: the item, the count and the notice arrive live.
    const amy = await connect(app, "supervisor", "demo-group");
    expect((await amy.act("add_collaborators", { memberIds: [ID.agent2] })).ok).toBe(true);
    await list.locator("li[data-id=demo-group]").waitFor();
    await expect.poll(() => tabCount(page, "in_progress")).toBe(2);
    const toast = page.locator(".toast", { hasText: "Amy (Supervisor) added you to" });
    await toast.waitFor();
    expect(await toast.textContent()).toContain("collaborative conversation");
    await page.screenshot({ path: `${chrome.screens}/inbox-en-phone.png` });
    await page.locator(".bell").click();
    await page.getByRole("region", { name: "Notices" }).locator("li", { hasText: "Amy (Supervisor) added you to" }).waitFor();
    await page.screenshot({ path: `${chrome.screens}/notices-en-phone.png` });

    // The conversation: the system line of her joining, no close button for a collaborator (R8.1), and a reply that reaches Amy.
    await list.locator("li[data-id=demo-group] a").click();
    await page.locator(".msg.system", { hasText: "Eve" }).first().waitFor();
    await page.locator("[data-action=leave]").waitFor();
    expect(await page.locator("[data-action=close]").count()).toBe(0);
    await page.getByRole("textbox", { name: "Reply" }).fill("Hello from the console 你好");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".msg.staff", { hasText: "Hello from the console 你好" }).waitFor();
    await waitFor(() => amy.state.messages.some((m: { body: string }) => m.body === "Hello from the console 你好"));
    await page.screenshot({ path: `${chrome.screens}/conversation-en-phone.png`, fullPage: true });

    // A refused action is shown with the server's message, and nothing was added (§2.3).
    await page.getByRole("textbox", { name: "Reply" }).fill("x".repeat(4001));
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByRole("alert").filter({ hasText: "The text is too long" }).waitFor();
    expect(await page.locator(".msg.staff").count()).toBe(1);

    // Amy removes Eve: her view closes with the reason of 4101 (R3.2), the item leaves her list.
    expect((await amy.act("remove_collaborators", { memberIds: [ID.agent2] })).ok).toBe(true);
    await page.getByRole("alert").filter({ hasText: "You were removed from this collaborative conversation. (4101" }).waitFor();
    expect(await page.getByRole("textbox", { name: "Reply" }).count()).toBe(0);
    await page.getByRole("link", { name: "Back to the inbox" }).click();
    await list.locator("li[data-id=demo-collab-full]").waitFor();
    expect(await list.locator("li[data-id=demo-group]").count()).toBe(0);
    await expect.poll(() => tabCount(page, "in_progress")).toBe(1);

    expect(problems).toEqual([]);
    await context.close();
  });

  it("a zh-TW agent sees the console in Chinese with the pinned conversation first in mine (R12.2), and a team viewer gets the team tab, sees no join on a pending conversation (R4.2) and reopens a closed one from it (R9.3)", async () => {
    const context = await chrome.browser!.newContext({ locale: "en-US", viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    // The login page reads the browser's language (zh-TW here) before anyone signs in.
    const zh = await chrome.browser!.newContext({ locale: "zh-TW", viewport: { width: 1100, height: 760 } });
    const zhLogin = await zh.newPage();
    await zhLogin.goto(`${app.url}/`);
    await zhLogin.getByRole("button", { name: "登入" }).waitFor();
    await zhLogin.screenshot({ path: `${chrome.screens}/login-zh-TW.png` });
    await zh.close();
    await signIn(page, "agent@demo.test"); // Dan, locale zh-TW, demo-direct pinned
    const list = page.getByRole("list", { name: "我的 · 處理中" });
    await list.locator("li").first().waitFor();
    expect(await list.locator("li").first().getAttribute("data-id")).toBe("demo-direct");
    await list.locator("li").first().locator(".pin").waitFor();
    await expect.poll(() => tabCount(page, "in_progress")).toBe(await list.locator("li").count());
    await page.screenshot({ path: `${chrome.screens}/inbox-zh-TW.png` });
    await page.locator(".bell").click();
    await page.getByRole("region", { name: "通知" }).waitFor();
    await page.screenshot({ path: `${chrome.screens}/notices-zh-TW.png` });
    await page.locator(".bell").click();
    await page.getByRole("region", { name: "通知" }).waitFor({ state: "detached" });
    // Search (a message's text) and the overdue sort are the HTTP list's (§7.3).
    await page.getByRole("searchbox", { name: "搜尋客戶與訊息" }).fill("A1234");
    await expect.poll(() => list.locator("li").count()).toBe(1);
    expect(await list.locator("li").first().getAttribute("data-id")).toBe("demo-direct");
    await page.getByRole("searchbox", { name: "搜尋客戶與訊息" }).fill("");
    await page.getByRole("combobox", { name: "排序" }).selectOption("overdue");
    await expect.poll(() => list.locator("li").count()).toBe(4);
    expect(await page.getByRole("alert").count()).toBe(0);
    expect(await page.getByRole("button", { name: "登出" }).count()).toBe(1);
    await page.getByRole("button", { name: "登出" }).click();

    await signIn(page, "manager@demo.test"); // Ben, cs_manager: a team viewer
    await page.getByRole("tab", { name: "團隊" }).click();
    const team = page.getByRole("list", { name: "團隊 · 處理中" });
    await team.locator("li[data-id=demo-collab-full]").waitFor();
    await page.locator("[role=tab][data-status=pending]").click();
    await page.getByRole("list", { name: "團隊 · 待處理" }).locator("li[data-id=demo-pending]").waitFor();
    await page.screenshot({ path: `${chrome.screens}/team-pending-zh-TW.png` });
    await page.getByRole("list", { name: "團隊 · 待處理" }).locator("li[data-id=demo-pending] a").click();
    await page.locator(".msg.customer").first().waitFor();
    await page.screenshot({ path: `${chrome.screens}/conversation-zh-TW.png` });
    // Pending and not 1-on-1 followed: no join (R4.2); a team viewer assigns it through the search instead.
    expect(await page.locator("[data-action=join]").count()).toBe(0);
    expect(await page.locator(".candidates summary", { hasText: "指派或移轉" }).count()).toBe(1);

    // A team viewer who is not a participant reopens a closed 1-on-1 from the team tab (R9.3): it leaves the closed tab live.
    await page.getByRole("link", { name: "回到收件匣" }).click();
    await page.getByRole("tab", { name: "團隊" }).click();
    await page.locator("[role=tab][data-status=closed]").click();
    const closedTab = page.getByRole("list", { name: "團隊 · 已結束" });
    await closedTab.locator("li[data-id=demo-closed] a").click();
    expect(await page.locator("[data-action=join]").count()).toBe(0); // closed: no join
    await page.locator("[data-action=reopen]").click();
    await page.locator("h1 .tag", { hasText: "處理中" }).waitFor();
    await page.getByRole("link", { name: "回到收件匣" }).click();
    await page.getByRole("tab", { name: "團隊" }).click();
    await page.locator("[role=tab][data-status=closed]").click();
    await closedTab.locator("li").first().waitFor();
    // The tab may first show the page it had (the reopen's list delta is on its way through the
    // member's inbox room): the item leaves it live, without a reload.
    await expect.poll(() => closedTab.locator("li[data-id=demo-closed]").count(), { timeout: 10_000 }).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("a follower adds two collaborators from the console's candidate search and both see the conversation appear live (R2.1, R2.3, R2.7)", async () => {
    const contexts = await Promise.all(
      [0, 1, 2].map(() => chrome.browser!.newContext({ locale: "en-US", viewport: { width: 1000, height: 760 } })),
    );
    const [dan, eve, finn] = await Promise.all(contexts.map((c) => c.newPage()));
    const problems: string[] = [];
    for (const p of [dan!, eve!, finn!]) p.on("pageerror", (e) => problems.push(e.message));
    await Promise.all([signIn(dan!, "agent@demo.test"), signIn(eve!, "agent2@demo.test"), signIn(finn!, "agent3@demo.test")]);
    const eveList = eve!.getByRole("list", { name: "Mine · In progress" });
    await eveList.locator("li").first().waitFor();
    await finn!.locator("[role=tab][data-status=in_progress]").waitFor();

    // Dan (follower of the 1-on-1 demo-direct) opens it: no collaborator yet, so no transfer to one; a 1-on-1 transfer goes through the search.
    await dan!.getByRole("list", { name: "我的 · 處理中" }).locator("li[data-id=demo-direct] a").click();
    await dan!.locator("[data-action=close]").waitFor();
    expect(await dan!.locator("[data-action=leave]").count()).toBe(0); // the follower cannot leave (R5.1)
    await dan!.locator(".candidates summary").click();
    for (const name of ["Eve", "Finn"]) {
      await dan!.getByRole("searchbox", { name: "搜尋成員" }).fill(name);
      const row = dan!.locator(".candidates li", { hasText: name });
      await row.waitFor();
      await row.locator("[data-action=add]").click();
      await dan!.locator(".participants li[data-member]", { hasText: name }).waitFor();
    }
    await dan!.locator(".msg.system", { hasText: "Eve" }).first().waitFor();

    // Both see it appear live, with the notice of R2.7.
    await eveList.locator("li[data-id=demo-direct]").waitFor();
    await eve!.locator(".toast", { hasText: "Dan (Agent) added you to" }).waitFor();
    await finn!.getByRole("list", { name: "Mine · In progress" }).locator("li[data-id=demo-direct]").waitFor();
    await finn!.locator(".toast", { hasText: "Dan (Agent) added you to" }).waitFor();
    // Now collaborative: Dan may transfer to either collaborator (R7.1).
    expect(await dan!.locator(".participants li[data-member] [data-action=transfer]").count()).toBe(2);
    await dan!.screenshot({ path: `${chrome.screens}/conversation-follower-zh-TW.png`, fullPage: true });
    expect(problems).toEqual([]);
    await Promise.all(contexts.map((c) => c.close()));
  });
});
