import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { repoRoot } from "./process.js";
import { inject } from "vitest";

/**
 * screenshotDir is where the console's tests keep their screenshots
 * (gitignored; a CI run can keep it as an artifact).
 */
export const screenshotDir = join(repoRoot, "test-results", "console");

/**
 * chromiumArgs are the switches headless Chromium needs in a container:
 * no sandbox (no user namespaces), no GPU, no QUIC (the orchestrator is
 * clear-text HTTP/1.1 and HTTP/2), and none of its background traffic.
 */
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * AxeViolation is one rule axe-core found broken, with the nodes that
 * break it.
 */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/**
 * ConsoleBrowser is one headless Chromium (Debian's, driven by
 * playwright-core) for a test file, with a fresh profile directory
 * (playwright takes it as the persistent context's, and refuses it as an
 * argument). Each `open` is a new tab: sessionStorage, where the console
 * keeps its token, belongs to the tab, so tabs with different tokens do
 * not mix. Watching a session through any orchestrator takes two lines:
 *
 * ```ts
 * const page = await browser.openSession(orchestrator.url, "call-1", { token });
 * await expect.poll(() => replyOf(page, "t1").textContent()).toBe("the reply");
 * ```
 */
export class ConsoleBrowser {
  private constructor(
    private readonly context: BrowserContext,
    private readonly profile: string,
  ) {}

  /**
   * launch starts Chromium: /usr/bin/chromium, which the test setup
   * installs from Debian's packages when it is missing.
   */
  static async launch(executablePath: string = inject("chromium")): Promise<ConsoleBrowser> {
    const profile = mkdtempSync(join(tmpdir(), "switchboard-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath,
      args: chromiumArgs,
      viewport: { width: 1280, height: 900 },
    });
    return new ConsoleBrowser(context, profile);
  }

  /**
   * open loads the console of the orchestrator at `baseUrl`
   * (`http://127.0.0.1:PORT`) at `path` (under /console/) in a new tab,
   * enters `token` in its token field when one is given, and resolves once
   * the view's heading is shown.
   */
  async open(baseUrl: string, opts: { token?: string; path?: string } = {}): Promise<Page> {
    const page = await this.context.newPage();
    await page.goto(new URL(opts.path ?? "/console/", baseUrl).toString());
    if (opts.token !== undefined) {
      await page.getByLabel("Bearer token").fill(opts.token);
      await page.getByRole("button", { name: "Use token" }).click();
      await page.getByText("Token set for this tab.").waitFor();
    }
    await page.getByRole("heading", { level: 2 }).first().waitFor();
    return page;
  }

  /**
   * openSession opens the console's view of one session and resolves once
   * it follows the session's events live (WatchSession is open): from
   * then on, every event of the session reaches the page.
   */
  async openSession(baseUrl: string, sessionId: string, opts: { token?: string } = {}): Promise<Page> {
    const page = await this.open(baseUrl, { ...opts, path: `/console/sessions/${encodeURIComponent(sessionId)}` });
    await page.getByText(liveText).waitFor();
    return page;
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/**
 * liveText is what the session view says while it follows the session.
 */
export const liveText = "Live: following the session's events.";

/**
 * replyOf is the locator of a turn's reply in the session view's
 * transcript; its text is the reply as streamed so far.
 */
export function replyOf(page: Page, turnId: string): Locator {
  return page.locator(`li[data-turn="${turnId}"] [data-testid=reply]`);
}

/**
 * bargeInOf waits for the session view to mark a barge-in in a turn's
 * reply and returns the mark's heard offset (in code points), the part of
 * the reply the user heard and the part they did not.
 */
export async function bargeInOf(page: Page, turnId: string): Promise<{ heardChars: string | null; heard: string | null; unheard: string | null }> {
  const turn = page.locator(`li[data-turn="${turnId}"]`);
  const mark = turn.locator("mark.barge-in");
  await mark.waitFor();
  return { heardChars: await mark.getAttribute("data-heard-chars"), heard: await turn.locator(".heard").textContent(), unheard: await turn.locator(".unheard").textContent() };
}

/**
 * screenshot saves the page as test-results/console/NAME.png.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

const axeSource = readFileSync(join(repoRoot, "node_modules/axe-core/axe.min.js"), "utf8");

/**
 * seriousViolations runs axe-core on the page as it is and returns the
 * violations of impact serious or critical.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    // This function runs in the page, where axe-core defines `axe`.
    const axe = (globalThis as unknown as { axe: { run: () => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, ...(n.failureSummary !== undefined ? { failureSummary: n.failureSummary } : {}) })) }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}
