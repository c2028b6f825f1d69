/**
 * Two people in two browser contexts against a real server: accounts and
 * their errors, rooms and membership rules, messaging both ways, typing,
 * read receipts (only when visible and focused), presence and last seen,
 * offline delivery exactly once, pending messages across reloads, history
 * paging that keeps the reader's place, keyboard-only use, and that message
 * text is never HTML. Tests run in order and share the two users.
 */
import { expect, test, type Page } from '@playwright/test';
import {
  bodies,
  holdOlderPages,
  loadedRows,
  messageRow,
  newPerson,
  openRoom,
  PASSWORD,
  profileButton,
  roomLink,
  send,
  shot,
  signUp,
  type Person,
} from './helpers';

test.describe.configure({ mode: 'serial' });

let ana: Person;
let bo: Person;
const group = `Launch ${Date.now().toString(36).slice(-4)}`;
let groupId = '';

/** Uncaught exceptions and CSP refusals seen in either page during the run. */
const problems: string[] = [];
function watch(page: Page, who: string) {
  page.on('pageerror', (e) => problems.push(`${who}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text()))
      problems.push(`${who}: ${m.text()}`);
  });
}

test.beforeAll(async ({ browser }) => {
  ana = await newPerson(browser, 'ana', 'Ana Lima');
  bo = await newPerson(browser, 'bo', 'Bo Chen');
  watch(ana.page, 'ana');
  watch(bo.page, 'bo');
});

test.afterAll(async () => {
  await ana?.context.close();
  await bo?.context.close();
});

test('sign-up, log-in errors, and the session survives a reload', async () => {
  const { page } = ana;
  await page.goto('/');
  await expect(page.getByRole('tab', { name: 'Log in' })).toHaveAttribute('aria-selected', 'true');
  await shot(page, '01-login');
  await page.getByLabel('Username').fill(ana.username);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');

  // The sign-up screen at phone width in the dark theme, for the record.
  const phone = await page
    .context()
    .browser()!
    .newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true });
  const pp = await phone.newPage();
  await pp.goto('/');
  await pp.getByRole('tab', { name: 'Sign up' }).click();
  await expect(pp.getByLabel('Display name')).toBeVisible();
  await shot(pp, '01b-signup-phone-dark');
  await phone.close();

  await signUp(ana);
  await signUp(bo);
  await page.reload();
  await expect(profileButton(page, ana.name)).toBeVisible();

  // A taken username gets a clear message (409 CONFLICT).
  const other = await page.context().browser()!.newContext();
  const p2 = await other.newPage();
  await p2.goto('/');
  await p2.getByRole('tab', { name: 'Sign up' }).click();
  await p2.getByLabel('Username').fill(ana.username);
  await p2.getByLabel('Display name').fill('Impostor');
  await p2.getByLabel('Password').fill(PASSWORD);
  await p2.getByRole('button', { name: 'Create account' }).click();
  await expect(p2.getByRole('alert')).toHaveText('That username is taken. Try another one.');
  await other.close();
});

test('create a group with a member; it appears live for the member; messages flow both ways', async () => {
  const a = ana.page;
  const b = bo.page;
  await a.getByRole('button', { name: '+ New group' }).click();
  const dlg = a.getByRole('dialog', { name: 'New group' });
  await dlg.getByLabel('Group name').fill(group);
  await dlg.getByLabel('Add members').fill(bo.username.slice(0, 6));
  await dlg.getByRole('button', { name: new RegExp(bo.name) }).click();
  await expect(dlg.getByRole('list', { name: 'Selected members' })).toContainText(bo.name);
  await dlg.getByRole('button', { name: 'Create group' }).click();
  await expect(a.getByTestId('room-title')).toHaveText(group);

  // member_added reaches Bo's open socket: the room shows up without a reload.
  await expect(roomLink(b, group)).toBeVisible();

  await send(a, 'Hello Bo, welcome aboard');
  await expect(roomLink(b, group)).toContainText('Hello Bo, welcome aboard');
  // Screen readers hear it through the polite live region.
  await expect(b.getByTestId('live-region')).toHaveText(`${ana.name} in ${group}: Hello Bo, welcome aboard`);
  await expect(roomLink(b, group).getByTestId('unread-badge')).toHaveText('1 unread');
  await openRoom(b, group);
  await expect(bodies(b, 'Hello Bo, welcome aboard')).toHaveCount(1);
  await expect(roomLink(b, group).getByTestId('unread-badge')).toHaveCount(0);

  await send(b, 'Thanks Ana!\nGlad to be here.');
  await expect(bodies(a, 'Thanks Ana!\nGlad to be here.')).toHaveCount(1);
  await expect(messageRow(a, 'Thanks Ana!\nGlad to be here.')).toHaveAttribute('data-sender', bo.username);
});

test('typing indicator appears for the other person and clears on send', async () => {
  const a = ana.page;
  const b = bo.page;
  await b.getByTestId('composer').pressSequentially('I am typ', { delay: 20 });
  await expect(a.getByTestId('typing-indicator')).toHaveText(`${bo.name} is typing…`);
  await expect(roomLink(a, group)).toContainText('Bo is typing…');
  await shot(a, '03-typing');
  await b.getByTestId('composer').press('Control+a');
  await b.getByTestId('composer').pressSequentially('Typing done');
  await b.getByTestId('composer').press('Enter');
  await expect(bodies(a, 'Typing done')).toHaveCount(1);
  await expect(a.getByTestId('typing-indicator')).toHaveText('');
});

test('read receipts: sent, then read by the member who has the room open and focused', async () => {
  const a = ana.page;
  const b = bo.page;
  await send(a, 'Did you read this?');
  const row = messageRow(a, 'Did you read this?');
  await expect(row).toHaveAttribute('data-state', 'sent');
  await expect(row.getByTestId('receipt')).toHaveAttribute('data-receipt', 'read');
  await expect(row.getByTestId('receipt')).toHaveAttribute('aria-label', `Read by ${bo.name}`);
  await row.getByTestId('receipt').hover();
  await expect(row.getByRole('tooltip')).toHaveText(`Read by ${bo.name}`);
  await shot(a, '02-chat-light');

  // Not read while Bo's window is in the background, read once it is back.
  await b.evaluate(() => {
    document.hasFocus = () => false;
    window.dispatchEvent(new Event('blur'));
  });
  await send(a, 'While you were away');
  await expect(bodies(b, 'While you were away')).toBeVisible();
  await expect(roomLink(b, group).getByTestId('unread-badge')).toHaveText('1 unread');
  await expect(messageRow(a, 'While you were away').getByTestId('receipt')).toHaveAttribute('data-receipt', 'sent');
  await b.evaluate(() => {
    delete (document as { hasFocus?: unknown }).hasFocus; // back to Document.prototype.hasFocus
    window.dispatchEvent(new Event('focus'));
  });
  await expect(roomLink(b, group).getByTestId('unread-badge')).toHaveCount(0);
  await expect(messageRow(a, 'While you were away').getByTestId('receipt')).toHaveAttribute('data-receipt', 'read');
});

test('message text is never HTML', async () => {
  const a = ana.page;
  const b = bo.page;
  const dialogs: string[] = [];
  a.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  b.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const evil = '<img src=x onerror=alert(1)>';
  await send(a, evil);
  await expect(bodies(b, evil)).toHaveCount(1);
  await expect(bodies(a, evil)).toHaveCount(1);
  await expect(b.getByTestId('message-list').locator('img')).toHaveCount(0);
  await send(a, 'docs at https://example.com/guide and javascript:alert(2)');
  const link = messageRow(b, 'docs at https://example.com/guide and javascript:alert(2)').getByRole('link');
  await expect(link).toHaveCount(1);
  await expect(link).toHaveAttribute('href', 'https://example.com/guide');
  await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
  await expect(link).toHaveAttribute('target', '_blank');
  expect(dialogs).toEqual([]);
});

async function countBodies(page: Page, text: string) {
  return bodies(page, text).count();
}

test('offline: a message sent while offline is delivered exactly once after reconnecting', async () => {
  const a = ana.page;
  const b = bo.page;
  await bo.context.setOffline(true);
  await expect(b.getByTestId('connection-banner')).toHaveAttribute('data-state', 'offline');
  await expect(b.getByTestId('connection-banner')).toContainText('You are offline');
  await send(b, 'Sent while offline');
  await expect(messageRow(b, 'Sent while offline')).toHaveAttribute('data-state', 'pending');
  await shot(b, '04-offline-pending');
  await bo.context.setOffline(false);
  await expect(messageRow(b, 'Sent while offline')).toHaveAttribute('data-state', 'sent');
  await expect(b.getByTestId('connection-banner')).toHaveAttribute('data-state', 'open');
  await expect(bodies(a, 'Sent while offline')).toHaveCount(1);
  await expect(bodies(b, 'Sent while offline')).toHaveCount(1);
  // Also exactly once in the server's history, as seen after a reload.
  await a.reload();
  await expect(bodies(a, 'Typing done')).toHaveCount(1);
  expect(await countBodies(a, 'Sent while offline')).toBe(1);
});

test('a reload keeps the pending message, which is sent once the socket is back', async () => {
  const a = ana.page;
  const b = bo.page;
  // Keep Bo's socket from reaching the server (HTTP still works, so the page reloads).
  // (Playwright has no unrouteWebSocket: the route proxies to the server once unblocked.)
  let blocked = true;
  await b.routeWebSocket(/\/ws$/, (ws) => {
    if (blocked) void ws.close({ code: 1011, reason: 'test: blocked' });
    else ws.connectToServer();
  });
  await b.reload();
  await expect(b.getByTestId('connection-banner')).toHaveAttribute('data-state', /backoff|connecting|handshaking/);
  await openRoom(b, group);
  await send(b, 'Survives a reload');
  await expect(messageRow(b, 'Survives a reload')).toHaveAttribute('data-state', 'pending');
  await b.reload();
  await expect(messageRow(b, 'Survives a reload')).toHaveAttribute('data-state', 'pending');
  await shot(b, '05-pending-after-reload');
  blocked = false;
  // Retry as a user would; the button vanishes whenever an automatic attempt starts.
  const banner = b.getByTestId('connection-banner');
  await expect(async () => {
    const retry = b.getByRole('button', { name: 'Retry now' });
    if (await retry.isVisible()) await retry.click({ timeout: 500 }).catch(() => {});
    await expect(banner).toHaveAttribute('data-state', 'open', { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(messageRow(b, 'Survives a reload')).toHaveAttribute('data-state', 'sent');
  await expect(bodies(a, 'Survives a reload')).toHaveCount(1);
  await expect(bodies(b, 'Survives a reload')).toHaveCount(1);
});

test('room settings: owner renames, member sees it live and only the controls allowed', async () => {
  const a = ana.page;
  const b = bo.page;
  await a.getByRole('button', { name: 'Room settings' }).click();
  const dlg = a.getByRole('dialog', { name: 'Room settings' });
  await expect(dlg.getByTestId('member-list')).toContainText(bo.name);
  await expect(dlg.getByRole('button', { name: 'Delete room' })).toBeVisible();
  await expect(dlg.getByRole('combobox', { name: `Role of ${bo.name}` })).toBeVisible();
  await shot(a, '06-room-settings-owner');
  await dlg.getByLabel('Room name').fill(`${group} HQ`);
  await dlg.getByRole('button', { name: 'Rename' }).click();
  await expect(dlg.getByRole('status')).toHaveText('Renamed.');
  await dlg.getByRole('button', { name: 'Close' }).click();
  await expect(b.getByTestId('room-title')).toHaveText(`${group} HQ`);

  await b.getByRole('button', { name: 'Room settings' }).click();
  const bd = b.getByRole('dialog', { name: 'Room settings' });
  await expect(bd.getByRole('button', { name: 'Leave room' })).toBeVisible();
  await expect(bd.getByRole('button', { name: 'Delete room' })).toHaveCount(0);
  await expect(bd.getByLabel('Room name')).toHaveCount(0);
  await expect(bd.getByRole('button', { name: /^Remove/ })).toHaveCount(0);
  await bd.getByRole('button', { name: 'Close' }).click();
});

test('membership: add a member, promote to admin (live controls), leave, and delete', async () => {
  const a = ana.page;
  const b = bo.page;
  const temp = `Temp ${Date.now().toString(36).slice(-4)}`;
  await a.getByRole('button', { name: '+ New group' }).click();
  const nd = a.getByRole('dialog', { name: 'New group' });
  await nd.getByLabel('Group name').fill(temp);
  await nd.getByRole('button', { name: 'Create group' }).click();
  await expect(a.getByTestId('room-title')).toHaveText(temp);

  await a.getByRole('button', { name: 'Room settings' }).click();
  const dlg = a.getByRole('dialog', { name: 'Room settings' });
  await dlg.getByLabel('Add a member').fill(bo.username);
  await dlg.getByRole('button', { name: new RegExp(bo.name) }).click();
  await expect(dlg.getByRole('status')).toHaveText(`${bo.name} was added.`);
  await expect(roomLink(b, temp)).toBeVisible();

  await openRoom(b, temp);
  await b.getByRole('button', { name: 'Room settings' }).click();
  const bd = b.getByRole('dialog', { name: 'Room settings' });
  await expect(bd.getByLabel('Room name')).toHaveCount(0);
  await dlg.getByRole('combobox', { name: `Role of ${bo.name}` }).selectOption('admin');
  await expect(dlg.getByRole('status')).toHaveText('Role changed.');
  // Bo's open dialog gains the admin controls live.
  await expect(bd.getByLabel('Room name')).toBeVisible();
  await expect(bd.getByLabel('Add a member')).toBeVisible();
  await expect(bd.getByRole('button', { name: 'Delete room' })).toHaveCount(0);

  await bd.getByRole('button', { name: 'Leave room' }).click();
  await expect(roomLink(b, temp)).toHaveCount(0);
  await expect(dlg.getByTestId('member-list').getByRole('listitem')).toHaveCount(1);

  await dlg.getByRole('button', { name: 'Delete room' }).click();
  await dlg.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(roomLink(a, temp)).toHaveCount(0);
  await expect(a.getByRole('heading', { name: 'Pick a conversation' })).toBeVisible();
  await openRoom(a, `${group} HQ`);
  await openRoom(b, `${group} HQ`);
});

test('history: pages in older messages on scroll-up without moving the view; new messages show a pill', async () => {
  const a = ana.page;
  const b = bo.page;
  const roomId = decodeURIComponent(new URL(a.url()).pathname.split('/').pop()!);
  groupId = roomId;
  // A backlog longer than one page (50), posted over REST with idempotency keys.
  for (let i = 1; i <= 70; i++) {
    const r = await ana.context.request.post(`/api/rooms/${encodeURIComponent(roomId)}/messages`, {
      data: { client_msg_id: `backlog-${i}`, body: `Backlog ${i}` },
    });
    expect(r.status(), await r.text()).toBe(201);
  }
  // Bo has the room open at the bottom, so he reads them live; wait until the
  // server has his read cursor (Ana sees the receipt), then reload.
  await expect(messageRow(a, 'Backlog 70').getByTestId('receipt')).toHaveAttribute('data-receipt', 'read');
  await b.reload();
  const list = b.getByTestId('message-list');
  await expect(bodies(b, 'Backlog 70')).toBeInViewport();
  // One page (50) is loaded; the virtual list has only the rows near the viewport in the DOM.
  await expect.poll(() => loadedRows(b)).toBe(50);
  // The oldest loaded message: Backlog 21. Older pages are held back until it has been measured.
  const held = await holdOlderPages(b);
  await list.evaluate((el) => {
    el.scrollTop = 0;
  });
  const anchored = bodies(b, 'Backlog 21');
  await expect(anchored).toBeInViewport();
  await held.requested;
  const y0 = (await anchored.boundingBox())!.y;
  held.release();
  // Older messages arrive above; the message that was on top stays where it was.
  await expect.poll(() => loadedRows(b)).toBeGreaterThan(50);
  await expect.poll(async () => Math.abs((await anchored.boundingBox())!.y - y0)).toBeLessThanOrEqual(2);
  await expect(list.getByText('Loading earlier messages…')).toHaveCount(0);
  await shot(b, '11-history-paged');

  // While Bo reads history, a new message does not yank the view down.
  await send(a, 'Fresh while you read');
  const pill = b.getByTestId('new-messages-pill');
  await expect(pill).toHaveText(/1 new message/);
  await expect(bodies(b, 'Fresh while you read')).not.toBeInViewport();
  await expect(anchored).toBeInViewport();
  await pill.click();
  await expect(bodies(b, 'Fresh while you read')).toBeInViewport();
  await expect(pill).toHaveCount(0);
});

test('direct messages show presence; going away shows last seen', async ({ browser }) => {
  const a = ana.page;
  await a.getByRole('button', { name: 'New message' }).first().click();
  const dlg = a.getByRole('dialog', { name: 'New message' });
  await dlg.getByLabel('To').fill(bo.username);
  await dlg.getByRole('button', { name: new RegExp(bo.name) }).click();
  await expect(a.getByTestId('room-title')).toHaveText(bo.name);
  await expect(a.getByTestId('presence-text')).toHaveText('online');
  await expect(roomLink(a, bo.name)).toHaveAccessibleName(new RegExp(`^${bo.name} ?, online`));
  // The sidebar filter narrows the list by title.
  await a.getByLabel('Search conversations').fill('Bo C');
  await expect(roomLink(a, `${group} HQ`)).toHaveCount(0);
  await expect(roomLink(a, bo.name)).toBeVisible();
  await a.getByLabel('Search conversations').fill('');
  await expect(roomLink(a, `${group} HQ`)).toBeVisible();
  await send(a, 'Ping in private');
  await expect(roomLink(bo.page, ana.name)).toContainText('Ping in private');

  // Unread messages arriving elsewhere: a badge; opening the room starts at
  // the first unread one, and only what is on screen is marked read.
  const b = bo.page;
  await openRoom(b, ana.name);
  await expect(bodies(b, 'Ping in private')).toBeVisible();
  for (let i = 1; i <= 30; i++) {
    const r = await ana.context.request.post(`/api/rooms/${encodeURIComponent(groupId)}/messages`, {
      data: { client_msg_id: `unread-${i}`, body: `Unread ${i}` },
    });
    expect(r.status()).toBe(201);
  }
  await expect(roomLink(b, `${group} HQ`).getByTestId('unread-badge')).toHaveText('30 unread');
  await openRoom(b, `${group} HQ`);
  await expect(b.getByTestId('unread-divider')).toBeInViewport();
  await expect(bodies(b, 'Unread 1')).toBeInViewport();
  await expect(bodies(b, 'Unread 30')).not.toBeInViewport();
  await expect(roomLink(b, `${group} HQ`).getByTestId('unread-badge')).toHaveText(/^\d+ unread$/);
  await shot(b, '12-first-unread');
  await b.getByTestId('message-list').evaluate((el) => {
    el.scrollTop = el.scrollHeight;
  });
  await expect(roomLink(b, `${group} HQ`).getByTestId('unread-badge')).toHaveCount(0);

  // Screens for the record: dark theme and phone width.
  const dark = await browser.newContext({
    colorScheme: 'dark',
    viewport: { width: 1280, height: 800 },
    storageState: await ana.context.storageState(),
  });
  const dp = await dark.newPage();
  await dp.goto('/');
  await openRoom(dp, group + ' HQ');
  await expect(bodies(dp, 'Unread 30')).toBeInViewport();
  // The theme follows prefers-color-scheme.
  expect(await dp.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(17, 18, 24)');
  expect(await a.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(244, 245, 248)');
  await shot(dp, '07-chat-dark');
  await dark.close();
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    storageState: await bo.context.storageState(),
  });
  const pp = await phone.newPage();
  await pp.goto('/');
  await expect(roomLink(pp, group + ' HQ')).toBeVisible();
  await shot(pp, '08-phone-rooms');
  await openRoom(pp, group + ' HQ');
  await expect(pp.getByRole('navigation', { name: 'Conversations' })).toBeHidden();
  await shot(pp, '09-phone-chat');
  await phone.close();

  // Bo leaves entirely; after the server's grace period Ana sees "last seen".
  await bo.context.close();
  await expect(a.getByTestId('presence-text')).toHaveText(/^last seen/, { timeout: 25_000 });
  await expect(roomLink(a, bo.name)).toHaveAccessibleName(new RegExp(`^${bo.name} ?, offline`));
  await shot(a, '10-dm-last-seen');
});

test('profile: change display name and password; log out and back in', async () => {
  const a = ana.page;
  await profileButton(a, ana.name).click();
  const dlg = a.getByRole('dialog', { name: 'Your profile' });
  await dlg.getByLabel('Display name').fill('Ana L.');
  await dlg.getByRole('button', { name: 'Save name' }).click();
  await expect(dlg.getByRole('status')).toHaveText('Saved.');
  await dlg.getByLabel('Current password').fill('not my password');
  await dlg.getByLabel('New password', { exact: true }).fill('another good one');
  await dlg.getByLabel('Repeat new password').fill('another good one');
  await dlg.getByRole('button', { name: 'Change password' }).click();
  await expect(dlg.getByRole('alert')).toHaveText('Your current password is not correct.');
  await dlg.getByLabel('Current password').fill(PASSWORD);
  await dlg.getByRole('button', { name: 'Change password' }).click();
  await expect(dlg.getByRole('status').filter({ hasText: 'Password changed' })).toBeVisible();
  // This tab stays signed in and live: a message still goes through.
  await dlg.getByRole('button', { name: 'Close' }).click();
  await send(a, 'After the password change');
  await expect(messageRow(a, 'After the password change')).toHaveAttribute('data-state', 'sent');
  await profileButton(a, 'Ana L.').click();
  await a.getByRole('dialog', { name: 'Your profile' }).getByRole('button', { name: 'Log out' }).click();
  await expect(a.getByRole('tab', { name: 'Log in' })).toBeVisible();
  await a.getByLabel('Username').fill(ana.username);
  await a.getByLabel('Password').fill('another good one');
  await a.getByRole('button', { name: 'Log in' }).click();
  await expect(profileButton(a, 'Ana L.')).toBeVisible();
});

test('keyboard only: reach a room, send with Enter, newline with Shift+Enter, open and Escape a dialog', async () => {
  const a = ana.page;
  const target = roomLink(a, `${group} HQ`);
  await a.locator('body').click({ position: { x: 1, y: 1 } });
  for (let i = 0; i < 20 && !(await target.evaluate((el) => el === document.activeElement)); i++)
    await a.keyboard.press('Tab');
  await expect(target).toBeFocused();
  await a.keyboard.press('Enter');
  await expect(a.getByTestId('room-title')).toHaveText(`${group} HQ`);
  await expect(a.getByTestId('composer')).toBeFocused();
  await a.keyboard.type('Line one');
  await a.keyboard.press('Shift+Enter');
  await a.keyboard.type('Line two');
  await a.keyboard.press('Enter');
  await expect(bodies(a, 'Line one\nLine two')).toHaveCount(1);
  const settings = a.getByRole('button', { name: 'Room settings' });
  for (let i = 0; i < 80 && !(await settings.evaluate((el) => el === document.activeElement)); i++)
    await a.keyboard.press('Shift+Tab');
  await expect(settings).toBeFocused();
  await a.keyboard.press('Enter');
  await expect(a.getByRole('dialog', { name: 'Room settings' })).toBeVisible();
  await a.keyboard.press('Escape');
  await expect(a.getByRole('dialog', { name: 'Room settings' })).toHaveCount(0);
  await expect(settings).toBeFocused();
});

test('no uncaught errors and no CSP refusals in either page during the whole run', () => {
  expect(problems).toEqual([]);
});

test("PROTOCOL §3: changing the password logs out only the *other* sessions, not this tab's socket", async () => {
  // The server refreshes this session's cookie and keeps its socket open
  // (the session id in the token carries over); other sessions get 4001.
  const a = ana.page;
  await a.reload();
  await expect(a.getByTestId('connection-banner')).toHaveAttribute('data-state', 'open');
  await profileButton(a, 'Ana L.').click();
  const dlg = a.getByRole('dialog', { name: 'Your profile' });
  await dlg.getByLabel('Current password').fill('another good one');
  await dlg.getByLabel('New password', { exact: true }).fill(PASSWORD);
  await dlg.getByLabel('Repeat new password').fill(PASSWORD);
  await dlg.getByRole('button', { name: 'Change password' }).click();
  await expect(dlg.getByRole('status').filter({ hasText: 'Password changed' })).toBeVisible();
  await dlg.getByRole('button', { name: 'Close' }).click();
  await send(a, 'Still connected?');
  await expect(messageRow(a, 'Still connected?')).toHaveAttribute('data-state', 'sent');
  const lastClose = await a.getByTestId('connection-banner').getAttribute('data-last-close');
  // The server keeps the caller's own session (PROTOCOL §3: only other sessions are logged out).
  expect(lastClose, "this tab's socket was closed with 4001 by its own password change").not.toBe('4001');
});
