import { describe, expect, it } from "vitest";
import { connect } from "../support/rooms.ts";
import { useTestServer, waitFor } from "../support/server.ts";
import { useChromium } from "../support/browser.ts";

/**
 * The Webchat widget page in a real browser (Debian's `chromium`, driven by playwright-core): a
 * visitor opens `/widget?channel=demo-webchat`, writes, and sees a staff member's reply arrive live
 * (issue 9, item 6). CI installs chromium (.ci/run); without it this file is skipped.
 */

const chrome = useChromium();
const app = useTestServer();

describe.skipIf(!chrome.executablePath)("the Webchat widget page in chromium", () => {
  it("a visitor writes from the page, the message lands in a pending conversation, and a staff reply appears on the page live; a reload shows both", async () => {
    const context = await chrome.browser!.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`${app.url}/widget?channel=demo-webchat&name=Browser%20visitor`);
    await page.getByRole("status").filter({ hasText: "connected" }).waitFor();
    await page.locator("#text").fill("Hello from the browser 你好");
    await page.locator("#text").press("Enter");
    await page.locator(".msg.customer", { hasText: "Hello from the browser 你好" }).waitFor();

    // The message is a customer message of a new pending Webchat conversation, under the visitor's name.
    const visitorId = await page.evaluate(() => JSON.parse(localStorage.getItem("inbox-widget:demo-webchat") ?? "{}").visitorId as string);
    expect(visitorId).toMatch(/^v_/);
    const key = await page.locator(".msg.customer").first().getAttribute("data-key");
    const conversationId = key!.split(":")[0]!;
    const staff = await connect(app, "admin", conversationId, "team");
    await waitFor(
      () =>
        staff.state.status === "pending" && staff.state.messages.some((m: { body: string }) => m.body === "Hello from the browser 你好"),
    );
    expect(staff.state.messages.find((m: { body: string }) => m.body === "Hello from the browser 你好").senderName).toBe("Browser visitor");

    const reply = await staff.act("reply", { text: "A staff reply, live 即時" });
    expect(reply.ok).toBe(true);
    await page.locator(".msg.staff", { hasText: "A staff reply, live 即時" }).waitFor();

    // A reload keeps the visitor (the token in localStorage) and shows the conversation from history.
    await page.reload();
    await page.getByRole("status").filter({ hasText: "connected" }).waitFor();
    await page.locator(".msg.staff", { hasText: "A staff reply, live 即時" }).waitFor();
    expect(await page.locator(".msg").allTextContents()).toHaveLength(2);
    expect(problems).toEqual([]);
    await context.close();
  });
});
