import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/server.ts";
import { useChromium } from "../support/browser.ts";

/**
 * The console's tokens (web/src/api.ts): kept in the tab's sessionStorage and refreshed through
 * `POST /auth/refresh` (docs/protocol.md §1) before they expire. With 30-second access tokens every
 * call finds its token near expiry, so the console refreshes (a single-use refresh token, rotated
 * each time) and still works, across a reload of the page.
 */

const chrome = useChromium();
const app = useTestServer({ env: { ACCESS_TOKEN_TTL_SECONDS: "30" } });

describe.skipIf(!chrome.executablePath)("the console's session", () => {
  it("refreshes a token near expiry through /auth/refresh, keeps working, and stays signed in across a reload", async () => {
    const context = await chrome.browser!.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    const refreshes: number[] = [];
    let inFlight = 0;
    let settledAt = Date.now();
    const isRefresh = (url: string) => new URL(url).pathname === "/auth/refresh";
    page.on("request", (r) => {
      if (isRefresh(r.url())) inFlight++;
    });
    const finished = (url: string) => {
      if (!isRefresh(url)) return;
      inFlight--;
      settledAt = Date.now();
    };
    page.on("requestfinished", (r) => finished(r.url()));
    page.on("requestfailed", (r) => finished(r.url()));
    page.on("response", (r) => {
      if (new URL(r.url()).pathname === "/auth/refresh") refreshes.push(r.status());
      if (process.env.DEBUG_CONSOLE) console.log("response", r.status(), r.url());
    });
    if (process.env.DEBUG_CONSOLE) page.on("console", (m) => console.log("page:", m.text()));
    await page.goto(`${app.url}/`);
    await page.locator('input[name="email"]').fill("agent2@demo.test");
    await page.locator('input[name="password"]').fill("demo-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    const first = await page.evaluate(() => sessionStorage.getItem("inbox-console:session"));
    await page.getByRole("list", { name: "Mine · In progress" }).locator("li").first().waitFor();
    expect(refreshes.length).toBeGreaterThan(0);
    expect(refreshes.every((s) => s === 200)).toBe(true);
    const stored = JSON.parse((await page.evaluate(() => sessionStorage.getItem("inbox-console:session")))!);
    expect(stored.refreshToken).not.toBe(JSON.parse(first ?? "{}").refreshToken);
    expect(stored.member.name).toBe("Eve");

    // Reload once no refresh has been in flight for a second: a reload that cuts a refresh after the
    // server rotated the token but before the page stored the new one signs the tab out (the refresh
    // token is single use). (`waitForLoadState("networkidle")` does not do this: it resolves at once
    // when the page was idle once before, even with a refresh in flight now.)
    await expect.poll(() => inFlight === 0 && Date.now() - settledAt > 1_000, { timeout: 30_000, interval: 100 }).toBe(true);
    await page.reload();
    await page.getByRole("list", { name: "Mine · In progress" }).locator("li").first().waitFor();
    expect(await page.locator('input[name="password"]').count()).toBe(0);
    expect(refreshes.every((s) => s === 200)).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });
});
