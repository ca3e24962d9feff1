import { describe, expect, it } from "vitest";
import { api, signIn, useChromium } from "../support/browser.ts";
import { EMAIL, ID } from "../support/demo.ts";
import { login, useTestServer } from "../support/server.ts";

/**
 * `#/admin` (web/src/admin.tsx): member administration (docs/protocol.md §7.6) and workspace
 * settings (§7.7) in a real browser; refusals shown by the server's message; nothing for non-admins.
 */

const app = useTestServer();
const chrome = useChromium();
const { executablePath } = chrome;

describe.skipIf(!executablePath)("member administration and settings in chromium", () => {
  it("non-admins see no admin link and #/admin shows a refusal without asking the server; a team viewer sees the dashboard link, an agent no link at all", async () => {
    const context = await chrome.browser!.newContext({ locale: "zh-TW", viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const asked: string[] = [];
    page.on("request", (r) => {
      if (/\/api\/v2\/(members|workspace)/.test(r.url())) asked.push(r.url());
    });
    await signIn(app, page, EMAIL.manager); // Ben, cs_manager
    const nav = page.getByRole("navigation", { name: "畫面" });
    await nav.getByRole("link", { name: "儀表板" }).waitFor();
    expect(await nav.getByRole("link", { name: "成員與設定" }).count()).toBe(0);
    await page.goto(`${app.url}/#/admin`);
    await page.getByRole("alert").filter({ hasText: "只有管理員可以管理成員與設定。" }).waitFor();
    expect(await page.locator("form.settings, ul.members").count()).toBe(0);
    await page.getByRole("button", { name: "登出" }).click();

    await signIn(app, page, EMAIL.marketing); // Cathy, marketing_cs
    await page.locator("[role=tab][data-status=in_progress]").waitFor();
    expect(await nav.getByRole("link").count()).toBe(0);
    await page.goto(`${app.url}/#/admin`);
    await page.getByRole("alert").filter({ hasText: "只有管理員可以管理成員與設定。" }).waitFor();
    expect(asked).toEqual([]);
    await context.close();
  });

  it("an admin creates a member, sees a taken email and a short password refused by their messages, edits and deletes the member, and saves settings after a refusal that names the field", async () => {
    const jess = await login(app, EMAIL.admin);
    const olive = { name: "Olive", email: "olive@demo.test", role: "admin", locale: "en", password: "olive-password" };
    expect((await api(app, jess, "POST", "/api/v2/members", olive)).status).toBe(201);

    const context = await chrome.browser!.newContext({ locale: "en-US", viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await signIn(app, page, olive.email, olive.password);
    await page.getByRole("navigation", { name: "Screens" }).getByRole("link", { name: "Members and settings" }).click();
    const members = page.getByRole("list", { name: "Members" });
    await members.locator(`li[data-member="${ID.agent}"]`).waitFor();
    // Her own row: no deactivate or delete (CANNOT_CHANGE_SELF); another admin's: both.
    const self = members.locator("li", { hasText: olive.email });
    expect(await self.locator("[data-admin=deactivate], [data-admin=delete]").count()).toBe(0);
    expect(await members.locator(`li[data-member="${ID.admin}"] [data-admin=deactivate]`).count()).toBe(1);

    // Create.
    const form = page.getByRole("form", { name: "Add a member" });
    await page.locator("summary", { hasText: "Add a member" }).click();
    const fill = async (email: string, password: string) => {
      await form.getByLabel("Email").fill(email);
      await form.getByLabel("Name").fill("Gina");
      await form.getByLabel("Role").selectOption("marketing_cs");
      await form.getByLabel("Language").selectOption("en");
      await form.getByLabel("Password").fill(password);
      await form.getByRole("button", { name: "Create" }).click();
    };
    await fill("gina@demo.test", "short");
    await page.getByRole("alert").filter({ hasText: "The request is malformed" }).filter({ hasText: "password" }).waitFor();
    await fill("gina@demo.test", "gina-password");
    await page.getByRole("status").filter({ hasText: "Gina was added." }).waitFor();
    const gina = members.locator("li", { hasText: "gina@demo.test" });
    await gina.getByText("Marketing CS").waitFor();
    await fill("GINA@demo.test", "gina-password");
    await page.getByRole("alert").filter({ hasText: "That email is already in use" }).waitFor();

    // Edit her name and role.
    await gina.locator("[data-admin=edit]").click();
    const edit = gina.getByRole("form");
    await edit.getByLabel("Name").fill("Gina Lin");
    await edit.getByLabel("Role").selectOption("agent");
    await edit.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Gina Lin was saved." }).waitFor();
    await gina.getByText("Agent", { exact: true }).waitFor();

    // Delete, confirmed.
    await gina.locator("[data-admin=delete]").click();
    await gina.getByRole("alertdialog", { name: /Delete Gina Lin for good\?/ }).waitFor();
    await gina.locator("[data-confirm=no]").click();
    expect(await gina.locator("[data-status=active]").count()).toBe(1);
    await gina.locator("[data-admin=delete]").click();
    await gina.locator("[data-confirm=yes]").click();
    await gina.locator("[data-status=deleted]").waitFor();

    // Settings: a refusal names the field (nothing saved), then a save.
    const settings = page.getByRole("form", { name: "Workspace settings" });
    await settings.getByLabel("Overdue after (minutes)").fill("0");
    await settings.getByRole("button", { name: "Save" }).click();
    await settings.getByRole("alert").filter({ hasText: "overdueAfterMinutes" }).waitFor();
    const unchanged = await api<{ settings: { overdueAfterMinutes: number } }>(app, jess, "GET", "/api/v2/workspace");
    expect(unchanged.data.settings.overdueAfterMinutes).toBe(30);
    await settings.getByLabel("Overdue after (minutes)").fill("45");
    await settings.getByLabel("Time zone").fill("Mars/Olympus");
    await settings.getByRole("button", { name: "Save" }).click();
    await settings.getByRole("alert").filter({ hasText: "not an IANA time zone" }).waitFor();
    await settings.getByLabel("Time zone").fill("Asia/Taipei");
    await settings.getByRole("button", { name: "Add opening hours" }).click();
    await settings.getByLabel("Welcome message").fill("Welcome! 歡迎");
    await settings.getByRole("button", { name: "Save" }).click();
    await settings.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const saved = await api<{ settings: { overdueAfterMinutes: number; welcomeText: string; businessHours: unknown } }>(
      app,
      jess,
      "GET",
      "/api/v2/workspace",
    );
    expect(saved.data.settings).toMatchObject({
      overdueAfterMinutes: 45,
      welcomeText: "Welcome! 歡迎",
      businessHours: { timeZone: "Asia/Taipei", open: [{ day: "mon", start: "09:00", end: "18:00" }] },
    });
    await page.locator("summary", { hasText: "Add a member" }).click(); // folded for the picture
    await page.screenshot({ path: `${chrome.screens}/admin-en.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();

    // The same screen in zh-TW (Jess, admin, locale zh-TW).
    const zh = await chrome.browser!.newContext({ locale: "zh-TW", viewport: { width: 1000, height: 900 } });
    const jessPage = await zh.newPage();
    await signIn(app, jessPage, EMAIL.admin);
    await jessPage.getByRole("navigation", { name: "畫面" }).getByRole("link", { name: "成員與設定" }).click();
    await jessPage.getByRole("list", { name: "成員" }).locator(`li[data-member="${ID.agent}"]`).waitFor();
    await jessPage.getByRole("form", { name: "工作區設定" }).waitFor();
    await jessPage.screenshot({ path: `${chrome.screens}/admin-zh-TW.png`, fullPage: true });
    await zh.close();
  }, 120_000); // a long walk through the console on a shared machine
});
