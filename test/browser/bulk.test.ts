import type { Page, Route } from "playwright-core";
import { describe, expect, it } from "vitest";
import { signIn, useChromium } from "../support/browser.ts";
import { EMAIL, ID } from "../support/demo.ts";
import { useTestServer } from "../support/server.ts";

/**
 * Bulk actions from the console's inbox (web/src/bulk.tsx; docs/protocol.md §7.5): a selection, a
 * job per submission with its own `Idempotency-Key`, progress from the inbox room's `job` messages
 * and each item's outcome from `GET /api/v2/jobs/{id}`.
 */

const app = useTestServer();
const chrome = useChromium();
const { executablePath } = chrome;

async function tabCount(page: Page, status: string): Promise<number> {
  return Number(await page.locator(`[role=tab][data-status=${status}] .count`).textContent());
}

describe.skipIf(!executablePath)("bulk actions in chromium", () => {
  it("a plain agent selects every loaded conversation: a transfer is refused whole because some are collaborative (R7.5), a close runs as a job to done with the items where he is only a collaborator refused with R8.5's 協作者無法結束對話, the others closed live", async () => {
    const context = await chrome.browser!.newContext({ locale: "zh-TW", viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    const keys: string[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/api/v2/bulk/")) keys.push(r.headers()["idempotency-key"] ?? "");
    });
    await signIn(app, page, EMAIL.agent); // Dan, agent, zh-TW: follows demo-direct and demo-collab, collaborates on demo-collab-full and demo-group
    const list = page.getByRole("list", { name: "我的 · 處理中" });
    await list.locator("li[data-id=demo-group]").waitFor();
    expect(await list.locator("li").count()).toBe(4);

    await page.getByRole("checkbox", { name: "全選已載入的對話" }).check();
    await page.locator(".selected-count", { hasText: "已選取 4 個" }).waitFor();

    // Transfer: the member picker (candidates of the first selected conversation), then a whole refusal (409).
    await page.locator("[data-bulk=transfer]").click();
    await page.locator(`.picker [data-member="${ID.agent3}"]`).click();
    await page.getByRole("alert").filter({ hasText: "協作對話、群組對話無法批量移轉" }).waitFor();
    expect(await list.locator("li").count()).toBe(4);

    // Close: the job's progress reaches done; two items refused with R8.5's text, two closed. The
    // job's reads are held until "done" shows: the progress came from the inbox room's `job` messages.
    const held: Route[] = [];
    let holding = true;
    await page.route("**/api/v2/jobs/**", (route) => (holding ? held.push(route) : route.continue()));
    await page.locator("[data-bulk=close]").click();
    const job = page.locator(".job[data-job-status=done]");
    await job.waitFor();
    holding = false;
    for (const route of held.splice(0)) await route.continue();
    expect(await job.textContent()).toContain("進度 4 / 4");
    const failures = job.getByRole("list", { name: "未完成的項目" });
    await failures.locator("li").nth(1).waitFor();
    expect((await failures.locator("li").allTextContents()).sort()).toEqual(["Maria: 協作者無法結束對話", "VIP 群組: 協作者無法結束對話"]);
    await expect.poll(() => list.locator("li").count()).toBe(2);
    expect(await list.locator("li[data-id=demo-direct]").count()).toBe(0);
    expect(await list.locator("li[data-id=demo-collab]").count()).toBe(0);
    await expect.poll(() => tabCount(page, "in_progress")).toBe(2);
    await page.screenshot({ path: `${chrome.screens}/bulk-zh-TW.png`, fullPage: true });

    // One Idempotency-Key per submission.
    expect(keys).toHaveLength(2);
    expect(keys.every((k) => k.length > 0)).toBe(true);
    expect(new Set(keys).size).toBe(2);

    // Reopen from the closed tab: the selection there is its own.
    await page.locator("[role=tab][data-status=closed]").click();
    const closed = page.getByRole("list", { name: "我的 · 已結束" });
    await closed.locator("li[data-id=demo-direct]").waitFor();
    expect(await page.locator(".selected-count").count()).toBe(0);
    await closed.getByRole("checkbox", { name: "選取 王小明" }).check();
    await page.locator("[data-bulk=reopen]").click();
    await page.locator(".job[data-job-status=done]", { hasText: "進度 1 / 1" }).waitFor();
    await expect.poll(() => closed.locator("li[data-id=demo-direct]").count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();

    // The same bar in English (Eve, locale en): her selection, its count and the three actions.
    const en = await chrome.browser!.newContext({ locale: "en-US", viewport: { width: 390, height: 844 } });
    const eve = await en.newPage();
    await signIn(app, eve, EMAIL.agent2);
    await eve.getByRole("list", { name: "Mine · In progress" }).locator("li").first().waitFor();
    await eve.getByRole("checkbox", { name: "Select all loaded" }).check();
    await eve.locator(".selected-count", { hasText: /selected/i }).waitFor();
    expect(await eve.locator("[data-bulk]").count()).toBeGreaterThan(0);
    await eve.screenshot({ path: `${chrome.screens}/bulk-en.png`, fullPage: true });
    await en.close();
  }, 120_000); // a long walk through the console on a shared machine
});
