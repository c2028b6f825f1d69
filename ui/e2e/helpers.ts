import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SHOTS = path.resolve(here, '..', 'test-results', 'screenshots');

/** Usernames unique per run: ^[a-z0-9_]{3,32}$ */
const run = `${Date.now().toString(36).slice(-5)}${Math.floor(Math.random() * 1296).toString(36)}`;
export const uniq = (prefix: string) => `${prefix}_${run}`;

export const PASSWORD = 'correct horse battery';

export interface Person {
  username: string;
  name: string;
  context: BrowserContext;
  page: Page;
}

export async function newPerson(
  browser: Browser,
  prefix: string,
  name: string,
  opts: Parameters<Browser['newContext']>[0] = {},
): Promise<Person> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  return { username: uniq(prefix), name, context, page };
}

const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The sidebar's own-profile button (its name starts with the display name). */
export function profileButton(page: Page, name: string) {
  return page.getByRole('button', { name: new RegExp(`^${escape(name)}.*profile and settings$`) });
}

export async function signUp(p: Person): Promise<void> {
  const { page } = p;
  await page.goto('/');
  await page.getByRole('tab', { name: 'Sign up' }).click();
  await page.getByLabel('Username').fill(p.username);
  await page.getByLabel('Display name').fill(p.name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
  await expect(profileButton(page, p.name)).toBeVisible();
}

export function roomLink(page: Page, title: string) {
  return page
    .getByTestId('room-list')
    .getByRole('link', { name: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) });
}

export async function openRoom(page: Page, title: string): Promise<void> {
  await roomLink(page, title).click();
  await expect(page.getByTestId('room-title')).toHaveText(title);
}

export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer');
  await box.fill(text);
  await box.press('Enter');
  await expect(box).toHaveValue('');
}

const exact = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Message bodies with exactly this text. */
export function bodies(page: Page, text: string) {
  return page
    .getByTestId('message-list')
    .getByTestId('message-body')
    .filter({ hasText: exact(text) });
}

/** The message rows (with state and receipt) whose body is exactly this text. */
export function messageRow(page: Page, text: string) {
  return page
    .getByTestId('message-list')
    .getByTestId('message')
    .filter({ has: page.getByTestId('message-body').filter({ hasText: exact(text) }) });
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** How many rows the open room's timeline holds (the virtual list renders only some of them). */
export async function loadedRows(page: Page): Promise<number> {
  const item = page.getByTestId('message-list').locator('.tl-item').first();
  if ((await item.count()) === 0) return 0;
  return Number(await item.getAttribute('aria-setsize'));
}

/**
 * Hold back the next request for an older page of history (`before=`) until
 * `release()`, so a test can measure the view before it lands. `requested`
 * settles when it is asked for.
 */
export async function holdOlderPages(page: Page): Promise<{ requested: Promise<void>; release: () => void }> {
  let gate!: () => void;
  const open = new Promise<void>((r) => (gate = r));
  let asked!: () => void;
  const requested = new Promise<void>((r) => (asked = r));
  const pattern = /\/api\/rooms\/[^/]+\/messages\?(.*&)?before=/;
  await page.route(
    pattern,
    async (route) => {
      asked();
      await open;
      await route.continue();
    },
    { times: 1 },
  );
  return { requested, release: () => gate() };
}
