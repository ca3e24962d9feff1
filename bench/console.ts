/**
 * The web console in a real browser (issue 12): (a) the time from the login form's submit to the
 * inbox's first page rendered, over `BENCH_LOGINS` sign-ins, each in a fresh browser context; (b)
 * the time from a customer message (`POST /channels/webchat/{channelId}/messages`, §7.2) to it
 * showing in a conversation open in the console, over `BENCH_MESSAGES` messages, next to the same
 * messages reaching, in the same run, a raw `@colyseus/sdk` room (the state patch) and the typed
 * client's `ConversationView` (its `timeline` event) in this Node process. The figure to read is
 * the console's against the raw SDK's.
 *
 *   npm run bench:console           # PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
 *   BENCH_LOGINS=20 BENCH_MESSAGES=200 (defaults)
 *
 * The server is `server/main.ts` in a child process (bench/support/childServer.ts) serving the built
 * console (web/dist, built here when stale); the browser is Debian's `chromium` via playwright-core.
 * Times are wall-clock instants of one machine (`performance.timeOrigin + performance.now()` in the
 * page and here), the messages one at a time (each waits until all three observers saw the last).
 * Writes the table into docs/bench-console.md.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Client as SdkClient } from "@colyseus/sdk";
import { chromium } from "playwright-core";
import { InboxClient } from "../client/index.ts";
import { int, machine, pct, signIn, startBenchServer } from "./support/childServer.ts";

const LOGINS = int("BENCH_LOGINS", 20);
const MESSAGES = int("BENCH_MESSAGES", 200);
const root = fileURLToPath(new URL("..", import.meta.url));
const CHANNEL = { id: "demo-webchat", secret: "demo-webchat-secret" };
const now = () => performance.timeOrigin + performance.now();

function chromiumPath(): string {
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const path = execFileSync("which", [name], { encoding: "utf8" }).trim();
      if (path) return path;
    } catch {
      // not this one
    }
  }
  throw new Error("bench:console needs chromium (apt-get install chromium)");
}

async function customerMessage(url: string, messageId: string, text: string): Promise<{ conversationId: string; seq: number }> {
  const res = await fetch(`${url}/channels/webchat/${CHANNEL.id}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-channel-secret": CHANNEL.secret },
    body: JSON.stringify({ messageId, customer: { id: "bench-console-customer", name: "Bench Customer" }, text }),
  });
  if (res.status !== 202) throw new Error(`webchat message: ${res.status} ${await res.text()}`);
  return (await res.json()) as { conversationId: string; seq: number };
}

async function main() {
  execFileSync(process.execPath, ["web/build.mjs"], { cwd: root, stdio: "inherit" });
  const bench = await startBenchServer({});
  const url = bench.server.url;
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox"], headless: true });
  try {
    // (a) login submit → the inbox's first page (the list's first row) rendered.
    const login: number[] = [];
    for (let i = 0; i < LOGINS + 1; i++) {
      const context = await browser.newContext({ locale: "en-US" });
      const page = await context.newPage();
      await page.goto(`${url}/`);
      await page.locator('input[name="email"]').fill("agent@demo.test");
      await page.locator('input[name="password"]').fill("demo-password");
      await page.evaluate(() => {
        const w = window as unknown as { benchLogin: Promise<number> };
        w.benchLogin = new Promise((resolve) => {
          let submitted = 0;
          document.addEventListener("submit", () => (submitted = performance.now()), true);
          const observer = new MutationObserver(() => {
            if (submitted && document.querySelector("ul.list li")) {
              observer.disconnect();
              resolve(performance.now() - submitted);
            }
          });
          observer.observe(document.body, { childList: true, subtree: true });
        });
      });
      await page.locator('input[name="password"]').press("Enter");
      const ms = await page.evaluate(() => (window as unknown as { benchLogin: Promise<number> }).benchLogin);
      if (i > 0) login.push(ms); // the first warms the server's caches and the browser's
      await context.close();
    }

    // (a, baseline) the same two HTTP calls from Node: sign-in, then the first page of the same list.
    const loginHttp: number[] = [];
    for (let i = 0; i < LOGINS + 1; i++) {
      const t0 = performance.now();
      const token = await signIn(url, "agent@demo.test");
      const res = await fetch(`${url}/api/v2/conversations?view=mine&status=in_progress`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (res.status !== 200) throw new Error(`list: ${res.status}`);
      await res.json();
      if (i > 0) loginHttp.push(performance.now() - t0);
    }

    // (b) customer message → shown in an open conversation: the console, the raw SDK, the typed client.
    const first = await customerMessage(url, "bench-console-0", "bench warm-up");
    const conversationId = first.conversationId;
    // A team viewer (Ben, cs_manager) watches the pending conversation from `team`.
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1000, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.locator('input[name="email"]').fill("manager@demo.test");
    await page.locator('input[name="password"]').fill("demo-password");
    await page.locator('input[name="password"]').press("Enter");
    await page.locator("[role=tab][data-status=in_progress]").waitFor();
    await page.goto(`${url}/#/c/${encodeURIComponent(conversationId)}/team`);
    await page.locator(".msg.customer", { hasText: "bench warm-up" }).waitFor();
    // As a string: tsx would wrap a named function in the page with its `__name` helper, missing there.
    await page.evaluate(`(() => {
      window.benchSeen = {};
      new MutationObserver(() => {
        for (const el of document.querySelectorAll(".timeline .msg.customer .body")) {
          const m = /^bench (\\d+)$/.exec(el.textContent ?? "");
          if (m && window.benchSeen[m[1]] === undefined) window.benchSeen[m[1]] = performance.timeOrigin + performance.now();
        }
      }).observe(document.querySelector("main") ?? document.body, { childList: true, subtree: true, characterData: true });
      // The same messages as the console's own typed client gets them (its \`timeline\` event), before rendering.
      window.benchClient = {};
      window.inboxConsole.conversation.on("timeline", (messages) => {
        const t = performance.timeOrigin + performance.now();
        for (const msg of messages) {
          const m = /^bench (\\d+)$/.exec(msg.body);
          if (m && window.benchClient[m[1]] === undefined) window.benchClient[m[1]] = t;
        }
      });
    })()`);

    const sdk = new SdkClient(url);
    sdk.auth.token = await signIn(url, "manager@demo.test");
    const raw = await sdk.joinOrCreate("conversation", { conversationId, view: "team" });
    raw.onMessage("result", () => {});
    const rawSeen = new Map<number, number>();
    raw.onStateChange((state: { messages: { body: string }[] }) => {
      const t = now();
      for (const m of state.messages) {
        const n = /^bench (\d+)$/.exec(m.body);
        if (n && !rawSeen.has(Number(n[1]))) rawSeen.set(Number(n[1]), t);
      }
    });

    const typed = new InboxClient({ url });
    await typed.login("manager@demo.test", "demo-password");
    const view = await typed.openConversation(conversationId, "team");
    const typedSeen = new Map<number, number>();
    view.on("timeline", (messages) => {
      const t = now();
      for (const m of messages) {
        const n = /^bench (\d+)$/.exec(m.body);
        if (n && !typedSeen.has(Number(n[1]))) typedSeen.set(Number(n[1]), t);
      }
    });

    const sent = new Map<number, number>();
    for (let i = 1; i <= MESSAGES; i++) {
      sent.set(i, now());
      await customerMessage(url, `bench-console-${i}`, `bench ${i}`);
      await page.waitForFunction(
        (n) => (window as unknown as { benchSeen: Record<string, number> }).benchSeen[n] !== undefined,
        String(i),
        {
          polling: "raf",
        },
      );
      const deadline = Date.now() + 10_000;
      while (!(rawSeen.has(i) && typedSeen.has(i))) {
        if (Date.now() > deadline) throw new Error(`message ${i} not seen in Node`);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const browserSeen = await page.evaluate(() => (window as unknown as { benchSeen: Record<string, number> }).benchSeen);
    const browserClient = await page.evaluate(() => (window as unknown as { benchClient: Record<string, number> }).benchClient);
    const delays = (seen: (i: number) => number | undefined) =>
      [...sent].map(([i, t]) => {
        const at = seen(i);
        if (at === undefined) throw new Error(`message ${i} not seen`);
        return at - t;
      });
    const consoleMs = delays((i) => browserSeen[String(i)]);
    const pageClientMs = delays((i) => browserClient[String(i)]);
    const rawMs = delays((i) => rawSeen.get(i));
    const typedMs = delays((i) => typedSeen.get(i));
    await view.disconnect();
    await raw.leave();
    await context.close();

    const f = (x: number) => x.toFixed(1);
    const rawP50 = pct(rawMs, 50);
    const rawP99 = pct(rawMs, 99);
    const rows = [
      `| console (chromium): login submit → inbox first page | ${LOGINS} | ${f(pct(login, 50))} | ${f(pct(login, 99))} | ${f(pct(login, 50) / pct(loginHttp, 50))}× / ${f(pct(login, 99) / pct(loginHttp, 99))}× the HTTP floor |`,
      `| HTTP floor (Node \`fetch\`): \`POST /auth/login\` then the first page of the same list | ${LOGINS} | ${f(pct(loginHttp, 50))} | ${f(pct(loginHttp, 99))} | |`,
      `| console (chromium): customer message → shown in the open conversation | ${MESSAGES} | ${f(pct(consoleMs, 50))} | ${f(pct(consoleMs, 99))} | ${f(pct(consoleMs, 50) / rawP50)}× / ${f(pct(consoleMs, 99) / rawP99)}× |`,
      `| … of which: the console's own typed client in the page → its \`timeline\` event (before rendering) | ${MESSAGES} | ${f(pct(pageClientMs, 50))} | ${f(pct(pageClientMs, 99))} | ${f(pct(pageClientMs, 50) / rawP50)}× / ${f(pct(pageClientMs, 99) / rawP99)}× |`,
      `| typed client \`ConversationView\` (Node): same messages → \`timeline\` event | ${MESSAGES} | ${f(pct(typedMs, 50))} | ${f(pct(typedMs, 99))} | ${f(pct(typedMs, 50) / rawP50)}× / ${f(pct(typedMs, 99) / rawP99)}× |`,
      `| raw \`@colyseus/sdk\` room (Node): same messages → state patch (baseline) | ${MESSAGES} | ${f(rawP50)} | ${f(rawP99)} | 1× |`,
    ];
    const table = ["| what | n | p50 ms | p99 ms | ratio (p50 / p99) |", "|---|---:|---:|---:|---|", ...rows].join("\n");
    const when = new Date().toISOString();
    console.log(`bench:console, ${when}, ${machine()}\n\n${table}`);
    writeFileSync(
      `${root}/docs/bench-console.md`,
      `# The console in a browser: login and live messages

Measured by \`npm run bench:console\` (bench/console.ts): \`server/main.ts\` in a child process on
PostgreSQL (presence in-process), the built console (web/dist) in Debian's chromium driven by
playwright-core, on one machine. A customer message is \`POST /channels/webchat/demo-webchat/messages\`
(docs/protocol.md §7.2), timed from just before the request to the moment the message is in the
console's DOM (a MutationObserver), in a raw \`@colyseus/sdk\` room's state, and in the typed
client's timeline, all three watching the same conversation from \`team\` as a cs_manager, one
message at a time; the ratio is to the raw SDK's. A login is timed in the page from the form's
submit to the list's first row in the DOM, in a fresh browser context each time, next to the same two
HTTP calls (sign-in, first page) made from Node. The first login (warm-up) is not counted. Read the ratios, not the absolute
figures: the machine is shared.

${when}, ${machine()}

${table}
`,
    );
  } finally {
    await browser.close();
    await bench.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
