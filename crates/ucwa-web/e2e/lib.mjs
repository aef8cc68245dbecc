// Shared helpers of the browser suite: the browser, the server under test (BASE_URL, set by
// crates/ucwa-server/tests/browser.rs), screenshots and the accessibility check.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:8080';
export const SHOTS = process.env.SCREENSHOT_DIR ?? join(process.cwd(), 'screenshots');
export const ORGANIZER = { uri: process.env.ORGANIZER_URI ?? 'sip:alice@example.com', password: process.env.ORGANIZER_PASSWORD ?? 'alice-demo-password' };
export const MEMBER = { uri: process.env.MEMBER_URI ?? 'sip:bob@example.com', password: process.env.MEMBER_PASSWORD ?? 'bob-demo-password' };
/** How long to wait for something the server pushes (events are released at once; the test
 * server's long polls last a second). */
export const PUSH = { timeout: 10_000 };

mkdirSync(SHOTS, { recursive: true });

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Playwright adds --headless and a fresh temporary --user-data-dir of its own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** A new person: their own context (cookies, sessionStorage) and page. */
export async function person(browser, viewport = { width: 1200, height: 860 }) {
  const context = await browser.newContext({ viewport, baseURL: BASE_URL });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw new Error(`page error: ${e.message}`); });
  return { context, page };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** No serious or critical accessibility violations (axe-core, WCAG 2 A/AA rules). */
export async function accessible(page, what) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `${what}: accessibility`);
}

/** Signs in to the console. */
export async function consoleSignIn(page, who = ORGANIZER) {
  await page.goto('/console');
  await page.getByLabel('SIP address').fill(who.uri);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'My meetings' }).waitFor();
}

/** Creates a meeting in the console; returns its join URL. */
export async function createMeeting(page, subject, access) {
  await page.getByRole('button', { name: 'New meeting' }).click();
  await page.getByLabel('Subject').fill(subject);
  await page.getByLabel('Who gets in without waiting').selectOption(access);
  await page.getByRole('button', { name: 'Create meeting' }).click();
  const item = page.locator('.meeting-item', { has: page.getByRole('heading', { name: subject }) });
  await item.waitFor();
  return item.getByLabel('Join link', { exact: true }).inputValue();
}

/** Opens `joinUrl` and joins as a guest called `name`. */
export async function joinAsGuest(page, joinUrl, name) {
  await page.goto(joinUrl);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join as guest' }).click();
}

export async function waitingInLobby(page) {
  await page.getByRole('heading', { name: 'Waiting for someone to let you in' }).waitFor(PUSH);
}
