import { describe, expect, it, vi } from 'vitest';
import { ApiError, type Api } from '../../src/api/http';
import { Loader, PAGE_SIZE } from '../../src/app/loader';
import { MessagesStore } from '../../src/store/messages';
import { RoomsStore } from '../../src/store/rooms';
import { UiStore } from '../../src/store/ui';
import type { Message, MessagesPage } from '../../src/wire/types';
import { deferred, msg, room } from './fakes';

const notFound = () => new ApiError(404, 'NOT_FOUND', 'no');

function setup() {
  const rooms = new RoomsStore();
  const messages = new MessagesStore();
  const ui = new UiStore();
  const api = {
    room: vi.fn<Api['room']>(async (id) => room(id, { name: 'Fresh' })),
    messages: vi.fn<Api['messages']>(async () => ({ messages: [] as Message[], has_more: false })),
  };
  return { rooms, messages, ui, api, loader: new Loader({ api, rooms, messages, ui }) };
}

describe('Loader.fetchRoom', () => {
  it('stores the room and returns it', async () => {
    const { loader, rooms } = setup();
    expect(await loader.fetchRoom('r1')).toMatchObject({ id: 'r1', name: 'Fresh' });
    expect(rooms.room('r1')!.name).toBe('Fresh');
  });

  it('a 404 means we left the room: it is dropped', async () => {
    const { loader, rooms, api } = setup();
    rooms.upsert(room('r1'));
    api.room.mockRejectedValueOnce(notFound());
    expect(await loader.fetchRoom('r1')).toBeNull();
    expect(rooms.room('r1')).toBeUndefined();
  });

  it('any other error keeps what we have', async () => {
    const { loader, rooms, api } = setup();
    rooms.upsert(room('r1'));
    api.room.mockRejectedValueOnce(new ApiError(0, 'NETWORK', 'down'));
    expect(await loader.fetchRoom('r1')).toBeNull();
    expect(rooms.room('r1')).toBeDefined();
  });
});

describe('Loader.loadLatest', () => {
  it('loads the newest page once per snapshot', async () => {
    const { loader, messages, api } = setup();
    api.messages.mockResolvedValueOnce({ messages: [msg(1, 1, 'r1', 'bo', 'a')], has_more: true });
    await loader.loadLatest('r1');
    await loader.loadLatest('r1');
    expect(api.messages).toHaveBeenCalledTimes(1);
    expect(api.messages).toHaveBeenCalledWith('r1', null, PAGE_SIZE);
    expect(messages.timeline('r1')).toMatchObject({ loaded: true, hasMore: true });
    messages.clearTimelines();
    await loader.loadLatest('r1');
    expect(api.messages).toHaveBeenCalledTimes(2);
  });

  it('a 404 drops the room; other errors become an error notice', async () => {
    const { loader, rooms, ui, api } = setup();
    rooms.upsert(room('r1'));
    api.messages.mockRejectedValueOnce(notFound());
    await loader.loadLatest('r1');
    expect(rooms.room('r1')).toBeUndefined();
    api.messages.mockRejectedValueOnce(new ApiError(503, 'UNAVAILABLE', 'busy'));
    await loader.loadLatest('r2');
    expect(ui.get().notice).toMatchObject({ kind: 'error' });
    expect(ui.get().notice!.text).toMatch(/busy or starting up/);
  });
});

describe('Loader.loadOlder', () => {
  it('asks for the page before the oldest loaded message, one request at a time', async () => {
    const { loader, messages, api } = setup();
    messages.setLatestPage('r1', [msg(5, 5, 'r1', 'bo', 'e'), msg(6, 6, 'r1', 'bo', 'f')], true);
    const page = deferred<MessagesPage>();
    api.messages.mockImplementationOnce(() => page.promise);
    const first = loader.loadOlder('r1');
    expect(messages.timeline('r1').loadingOlder).toBe(true);
    await loader.loadOlder('r1'); // already loading: no second request
    expect(api.messages).toHaveBeenCalledTimes(1);
    expect(api.messages).toHaveBeenCalledWith('r1', 5, PAGE_SIZE);
    page.resolve({ messages: [msg(4, 4, 'r1', 'bo', 'd')], has_more: false });
    await first;
    expect(messages.timeline('r1')).toMatchObject({ loadingOlder: false, hasMore: false });
    expect(messages.timeline('r1').messages.map((m) => m.id)).toEqual([4, 5, 6]);
    await loader.loadOlder('r1'); // no more history
    expect(api.messages).toHaveBeenCalledTimes(1);
  });

  it('does nothing before the newest page is loaded', async () => {
    const { loader, api } = setup();
    await loader.loadOlder('r1');
    expect(api.messages).not.toHaveBeenCalled();
  });

  it('an error ends the loading state and shows a notice', async () => {
    const { loader, messages, ui, api } = setup();
    messages.setLatestPage('r1', [msg(5, 5, 'r1', 'bo', 'e')], true);
    api.messages.mockRejectedValueOnce(new ApiError(0, 'NETWORK', 'Cannot reach the server.'));
    await loader.loadOlder('r1');
    expect(messages.timeline('r1').loadingOlder).toBe(false);
    expect(ui.get().notice).toMatchObject({ kind: 'error', text: 'Cannot reach the server.' });
  });
});

describe('Loader.leftRoom', () => {
  it('drops the room and its timeline; if it was open, closes it and says why', () => {
    const { loader, rooms, messages, ui } = setup();
    rooms.upsert(room('r1', { name: 'Plans' }));
    rooms.upsert(room('r2', { name: 'Other' }));
    messages.setLatestPage('r1', [msg(1, 1, 'r1', 'bo', 'a')], false);
    ui.setActiveRoom('r1');
    loader.leftRoom('r1', 'deleted');
    expect(rooms.room('r1')).toBeUndefined();
    expect(messages.timeline('r1').loaded).toBe(false);
    expect(ui.get().activeRoom).toBeNull();
    expect(ui.get().notice).toMatchObject({ kind: 'info', text: '“Plans” was deleted.' });
    ui.setActiveRoom('r2');
    loader.leftRoom('r2', 'removed');
    expect(ui.get().notice!.text).toBe('You are no longer a member of “Other”.');
  });

  it('a room that was not open goes quietly', () => {
    const { loader, rooms, ui } = setup();
    rooms.upsert(room('r1'));
    ui.setActiveRoom('r2');
    loader.leftRoom('r1', 'removed');
    expect(rooms.room('r1')).toBeUndefined();
    expect(ui.get()).toMatchObject({ activeRoom: 'r2', notice: null });
  });
});
