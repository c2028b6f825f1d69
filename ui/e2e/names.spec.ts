import { expect, test } from '@playwright/test';
import { newPerson, openRoom, signUp } from './helpers';

interface RoomJson {
  id: string;
  name: string;
  members: { name: string }[];
}

/**
 * Issue #13 item 10: a name with a right-to-left override (U+202E) showed
 * "evil" as "live" and turned the text after it around. The server now
 * refuses such names, so this test gives the UI one the way an older
 * database could: it rewrites the server's room list on its way to the page.
 * Every place a name is shown must isolate it (<bdi>, unicode-bidi: isolate).
 */
const RLO = '\u202e';
const SPOOF = `${RLO}evil`;

test('names with bidi overrides are isolated wherever they are shown', async ({ browser }) => {
  const p = await newPerson(browser, 'bidi', 'Bidi Tester');
  await signUp(p);
  const created = await p.page.request.post('/api/rooms', { data: { name: 'Plain room' } });
  expect(created.status()).toBe(201);
  const roomId = ((await created.json()) as RoomJson).id;

  // The server itself refuses the name (400), whatever the UI does.
  const refused = await p.page.request.patch(`/api/rooms/${roomId}`, { data: { name: SPOOF } });
  expect(refused.status()).toBe(400);

  await p.page.route('**/api/rooms', async (route) => {
    const response = await route.fetch();
    const body = (await response.json()) as { rooms: RoomJson[] };
    for (const room of body.rooms) {
      if (room.id === roomId) {
        room.name = SPOOF;
        for (const m of room.members) m.name = `${SPOOF} member`;
      }
    }
    await route.fulfill({ response, json: body });
  });
  await p.page.route(`**/api/rooms/${roomId}`, async (route) => {
    const response = await route.fetch();
    const room = (await response.json()) as RoomJson;
    room.name = SPOOF;
    for (const m of room.members) m.name = `${SPOOF} member`;
    await route.fulfill({ response, json: room });
  });
  await p.page.reload();
  await openRoom(p.page, SPOOF);

  const isolated = async (selector: string) => {
    const el = p.page.locator(selector).filter({ hasText: 'evil' }).first();
    await expect(el).toBeVisible();
    return el.evaluate((e) => ({ tag: e.tagName, bidi: getComputedStyle(e).unicodeBidi }));
  };
  expect(await isolated('[data-testid="room-list"] .room-name bdi')).toEqual({ tag: 'BDI', bidi: 'isolate' });
  expect(await isolated('[data-testid="room-title"] bdi')).toEqual({ tag: 'BDI', bidi: 'isolate' });
  await p.page.getByRole('button', { name: 'Room settings' }).click();
  expect(await isolated('.member-name bdi')).toEqual({ tag: 'BDI', bidi: 'isolate' });
  // What follows a name stays in reading order: " (you)" is outside the isolated name.
  await expect(p.page.locator('.member-name').first()).toHaveText(`${SPOOF} member (you)`);
  await p.context.close();
});
