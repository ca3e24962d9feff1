import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { type ActionAnswer, InboxClient } from "../../client/index.ts";
import { EMAIL, NAME } from "../support/demo.ts";
import { useTestServer } from "../support/server.ts";
import { useChromium } from "../support/browser.ts";

/**
 * The seed's scenarios walked in the console (web/, on the typed client) by several members at
 * once, each in a browser context of their own (Debian's `chromium` driven by playwright-core, as
 * test/browser/console.test.ts, which covers adding collaborators live, a refusal shown, a removal
 * (4101) and a team viewer reopening from the team tab). Here, on `demo-collab-full` (follower Jess,
 * collaborators Amy, Ben, Cathy, Dan, Eve): a plain agent collaborator has no close button and is
 * refused when forcing the close through the page's client; a manager collaborator takes over; the
 * new follower closes and the other open views close with 4103. Then the conversation screen's
 * status log and older messages (`log`, `history` by `beforeSeq`, docs/protocol.md §2.7).
 */

const chrome = useChromium();
const app = useTestServer();

interface Member {
  context: BrowserContext;
  page: Page;
}

/** A member signed in to the console in a context of their own, pages' errors collected. */
async function member(email: string, problems: string[]): Promise<Member> {
  const context = await chrome.browser!.newContext({ locale: "en-US", viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`${email}: ${e.message}`));
  await page.goto(`${app.url}/`);
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill("demo-password");
  await page.locator('input[name="password"]').press("Enter");
  await page.locator("[role=tab][data-status=in_progress]").waitFor();
  return { context, page };
}

/** Opens a conversation by its link (`#/c/<id>/mine`) and waits for its first state. */
async function openChat(page: Page, id: string): Promise<void> {
  await page.goto(`${app.url}/#/c/${id}/mine`);
  await page.locator(".conversation h1").waitFor();
}

describe.skipIf(!chrome.executablePath)("the seed's scenarios in the console, several members at once", () => {
  it("[R8.1] a plain agent collaborator sees no close button and forcing it through the page's client is refused 協作者無法結束對話; [R6.1][R6.2][R6.3] a manager collaborator takes over; [R8.2] the new follower closes and the collaborators' open views close with 4103", async () => {
    const problems: string[] = [];
    const [dan, ben, jess] = await Promise.all([
      member(EMAIL.agent, problems), // Dan: agent, zh-TW, a collaborator
      member(EMAIL.manager, problems), // Ben: cs_manager (MANAGERS), zh-TW, a collaborator
      member(EMAIL.admin, problems), // Jess: admin, zh-TW, the follower
    ]);
    await Promise.all([
      openChat(dan.page, "demo-collab-full"),
      openChat(ben.page, "demo-collab-full"),
      openChat(jess.page, "demo-collab-full"),
    ]);

    // Dan, a plain agent collaborator: leave, but no close and no take over (R8.1, R6.1).
    await dan.page.locator("[data-action=leave]").waitFor();
    expect(await dan.page.locator("[data-action=close]").count()).toBe(0);
    expect(await dan.page.locator("[data-action=take_over]").count()).toBe(0);
    // Forcing the close through the console's typed client: the server refuses, in Dan's locale, and nothing changes.
    const forced = (await dan.page.evaluate(() =>
      (globalThis as unknown as { inboxConsole: { conversation: { close(): Promise<unknown> } } }).inboxConsole.conversation.close(),
    )) as ActionAnswer;
    expect(forced).toMatchObject({ ok: false, code: "COLLABORATOR_CANNOT_CLOSE", message: "協作者無法結束對話" });
    expect(typeof (forced as { requestId: unknown }).requestId).toBe("string");
    expect(await dan.page.locator("h1 .tag").textContent()).toBe("處理中");
    // The follower has the close button; Ben, a MANAGERS collaborator, may take over (R6.1).
    await jess.page.locator("[data-action=close]").waitFor();
    expect(await ben.page.locator("[data-action=close]").count()).toBe(0);

    // Ben takes over: he becomes the follower, Jess a collaborator, put first (R6.2, R14.5); the
    // system message reaches every open view (R6.3), the status log has its line (R6.3).
    await ben.page.locator("[data-action=take_over]").click();
    await ben.page.locator("[data-action=close]").waitFor();
    expect(await ben.page.locator("[data-action=take_over]").count()).toBe(0);
    for (const m of [dan, jess, ben]) {
      await m.page.locator(".participants", { hasText: `跟進者: ${NAME.manager}` }).waitFor();
      await m.page.locator(".msg.system", { hasText: `${NAME.manager} 跟進了對話` }).waitFor();
    }
    await jess.page.locator("[data-action=leave]").waitFor();
    expect(await jess.page.locator("[data-action=close]").count()).toBe(0);
    expect(await jess.page.locator(".participants li[data-member]").first().getAttribute("data-member")).toBe("demo-admin");
    await ben.page.locator(".status-log summary").click();
    await ben.page.locator(".status-log li[data-kind=took_over]", { hasText: `${NAME.manager} 接手跟進了 ${NAME.admin} 的對話` }).waitFor();

    // Ben, the follower now, closes: Dan's and Jess's open views close with 4103 and its explanation (R8.2, docs/protocol.md §2.6).
    await ben.page.locator("[data-action=close]").click();
    await ben.page.locator("h1 .tag", { hasText: "已結束" }).waitFor();
    for (const m of [dan, jess]) {
      await m.page.getByRole("alert").filter({ hasText: "跟進者已結束這個對話。 (4103 closed" }).waitFor();
      expect(await m.page.getByRole("textbox", { name: "回覆" }).count()).toBe(0);
      expect(await m.page.locator(".actions [data-action]").count()).toBe(0);
    }
    // The status log's line of the close (R8.3) arrives in the open log live.
    await ben.page.locator(".status-log li[data-kind=closed]", { hasText: `${NAME.manager} 結束了對話` }).waitFor();
    expect(problems).toEqual([]);
    await Promise.all([dan, ben, jess].map((m) => m.context.close()));
  });

  it("the conversation screen pages older messages beyond the state's 50 by `history` with `beforeSeq`, each once, in order", async () => {
    // 70 staff replies through the typed client in Node (its RATE_LIMITED retries keep the burst whole).
    const dan = new InboxClient({ url: app.url });
    await dan.login(EMAIL.agent, "demo-password");
    const chat = await dan.openConversation("demo-direct");
    for (let i = 1; i <= 70; i++) expect((await chat.reply(`older test ${i}`)).ok).toBe(true);
    const total = chat.state.lastSeq;
    await chat.disconnect();

    const problems: string[] = [];
    const m = await member(EMAIL.agent, problems);
    await openChat(m.page, "demo-direct");
    const bodies = () => m.page.locator(".timeline .msg.staff .body").allTextContents();
    await m.page.locator(".msg.staff", { hasText: "older test 70" }).waitFor();
    expect(await m.page.locator(".timeline .msg").count()).toBe(50);
    expect((await bodies()).includes("older test 20")).toBe(false);
    await m.page.locator("[data-action=older]").click();
    await m.page.locator(".msg.staff", { hasText: "older test 20" }).waitFor();
    // Every reply once, in order; seqs strictly increasing.
    if (await m.page.locator("[data-action=older]").count()) await m.page.locator("[data-action=older]").click();
    await m.page.locator(".msg.staff", { hasText: "older test 1" }).first().waitFor();
    const shown = (await bodies()).filter((b) => b.startsWith("older test "));
    expect(shown).toEqual(Array.from({ length: 70 }, (_, i) => `older test ${i + 1}`));
    const seqs = (await m.page
      .locator(".timeline .msg")
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-seq"))))) as number[];
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    expect(seqs.at(-1)).toBeLessThanOrEqual(total);
    expect(problems).toEqual([]);
    await m.context.close();
  });
});
