import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import type { App } from "./server.ts";

/** What the browser tests of the dashboard, bulk actions and administration share (the pattern of test/browser/console.test.ts). */

export const root = fileURLToPath(new URL("../..", import.meta.url));

/** Debian's chromium (or chromium-browser), or null: the browser tests are skipped without one. */
export function chromiumPath(): string | null {
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("which", [name], { encoding: "utf8" }).trim() || null;
    } catch {
      // not this one
    }
  }
  return null;
}

/** Builds web/dist when it is missing or older than web/ (web/build.mjs). */
export function buildConsole(): void {
  execFileSync(process.execPath, ["web/build.mjs"], { cwd: root, stdio: "inherit" });
}

/** docs/screens with CONSOLE_SCREENSHOTS=1 (committed pictures), else a temporary folder (a test run leaves the tree clean). */
export function screensDir(): string {
  const dir = process.env.CONSOLE_SCREENSHOTS === "1" ? join(root, "docs", "screens") : mkdtempSync(join(tmpdir(), "console-screens-"));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function signIn(app: App, page: Page, email: string, password = "demo-password"): Promise<void> {
  await page.goto(`${app.url}/`);
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('input[name="password"]').press("Enter");
  await page.locator("header.top").waitFor();
}

/** An authenticated JSON call as a member (the test's own setup, outside the browser). */
export async function api<T>(app: App, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
  const res = await app.http.request(path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, data: (await res.json()) as T };
}

/**
 * The console built, chromium launched before the file's tests (when installed) and closed after,
 * and the screenshot folder: what every browser test file sets up.
 */
export function useChromium(): { readonly executablePath: string | null; browser: Browser | undefined; screens: string } {
  const state = { executablePath: chromiumPath(), browser: undefined as Browser | undefined, screens: "" };
  beforeAll(async () => {
    buildConsole();
    state.screens = screensDir();
    if (state.executablePath)
      state.browser = await chromium.launch({ executablePath: state.executablePath, args: ["--no-sandbox"], headless: true });
  });
  afterAll(async () => {
    await state.browser?.close();
  });
  return state;
}
