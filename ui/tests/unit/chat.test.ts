import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Chat, type Api } from '../../src/app/chat';
import { ApiError } from '../../src/api/http';
import { memoryOutbox, openIdbOutbox, type Outbox } from '../../src/net/outbox';
import type { Message, Room } from '../../src/wire/types';
import { msg, ready, socketFactory, user } from './fakes';

function room(id: string, lastMessage: Message | null = null): Room {
  return {
    id,
    kind: 'group',
    name: `Room ${id}`,
    unread: 0,
    mentions: 0,
    created_at: '2026-11-20T00:00:00.000Z',
    last_message: lastMessage,
    members: [
      { username: 'ana', name: 'Ana', role: 'owner', read_up_to: 0 },
      { username: 'bo', name: 'Bo', role: 'member', read_up_to: 0 },
    ],
  };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function fakeApi(over: Partial<Api> = {}) {
  const calls: string[] = [];
  const api = {
    me: vi.fn(async () => user('ana', 'Ana')),
    rooms: vi.fn(async () => {
      calls.push('rooms');
      return [room('r1')];
    }),
    room: vi.fn(async (id: string) => room(id)),
    messages: vi.fn(async () => ({ messages: [] as Message[], has_more: false })),
    markRead: vi.fn(async () => {}),
    user: vi.fn(async (u: string) => user(u)),
    ...over,
  } as unknown as Api;
  return { api, calls };
}

async function boot(opts: { api?: Api; outbox?: Outbox } = {}) {
  const f = socketFactory();
  const outbox = opts.outbox ?? memoryOutbox();
  const chat = new Chat({
    api: opts.api ?? fakeApi().api,
    createSocket: f.create,
    openOutbox: async () => outbox,
    wsUrl: () => 'ws://test/ws',
    random: () => 0.5,
    addWindowListeners: false,
  });
  await chat.boot();
  return { chat, f, outbox };
}

beforeEach(() => {
  // Fake only timers we own; IndexedDB (fake-indexeddb) schedules with setImmediate.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
});
afterEach(() => vi.useRealTimers());

describe('Chat controller', () => {
  it('boots: GET /me, socket hello, then a REST snapshot after ready', async () => {
    const { api, calls } = fakeApi();
    const { chat, f } = await boot({ api });
    expect(chat.session.get().status).toBe('authenticated');
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello' });
    f.last.receive(ready(10, 'E1', 'ana', ['bo']));
    await chat.idle();
    expect(calls).toEqual(['rooms']);
    expect(chat.rooms.room('r1')).toBeDefined();
    expect(chat.presence.get().bo!.online).toBe(true);
    expect(chat.connection.get().synced).toBe(true);
  });

  it('keeps an offline send pending, sends it after ready, and shows it once after ack + message', async () => {
    const { chat, f, outbox } = await boot();
    chat.setActiveRoom('r1');
    const id = await chat.send('r1', 'hello  \n');
    expect(id).toBeTruthy();
    expect(chat.messages.pendingFor('r1')).toMatchObject([{ client_msg_id: id, body: 'hello', state: 'pending' }]);
    expect((await outbox.list('ana')).map((e) => e.client_msg_id)).toEqual([id]);
    f.last.open();
    expect(f.last.sentOfType('send')).toEqual([]);
    f.last.receive(ready(10));
    await chat.idle();
    expect(f.last.sentOfType('send')).toEqual([{ type: 'send', room: 'r1', client_msg_id: id, body: 'hello' }]);
    f.last.receive({
      type: 'ack',
      client_msg_id: id,
      id: 5,
      seq: 11,
      room: 'r1',
      created_at: '2026-11-25T10:00:00.000Z',
    });
    await vi.waitFor(async () => expect(await outbox.list('ana')).toEqual([]));
    expect(chat.messages.pendingFor('r1')).toEqual([]);
    f.last.receive({ type: 'message', ...msg(5, 11, 'r1', 'ana', 'hello', id!) });
    f.last.receive({ type: 'message', ...msg(5, 11, 'r1', 'ana', 'hello', id!) }); // duplicate seq
    expect(chat.messages.timeline('r1').messages.map((m) => m.id)).toEqual([5]);
    expect(chat.rooms.room('r1')!.last_message!.id).toBe(5);
  });

  it('resends unacked messages with the same client_msg_id after a reconnect', async () => {
    const { chat, f } = await boot();
    f.last.open();
    f.last.receive(ready(10));
    await chat.idle();
    const id = await chat.send('r1', 'once');
    expect(f.last.sentOfType('send')).toHaveLength(1);
    f.last.serverClose(1006); // lost before the ack
    vi.runOnlyPendingTimers();
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello', since: 10, epoch: 'E1' });
    f.last.receive(ready(12));
    await chat.idle();
    expect(f.last.sentOfType('send')).toEqual([{ type: 'send', room: 'r1', client_msg_id: id, body: 'once' }]);
  });

  it('buffers durable events during the REST snapshot and applies them after it', async () => {
    const d = deferred<Room[]>();
    const { api } = fakeApi({ rooms: vi.fn(() => d.promise) as unknown as Api['rooms'] });
    const { chat, f } = await boot({ api });
    f.last.open();
    f.last.receive(ready(10));
    f.last.receive({ type: 'message', ...msg(7, 11, 'r1', 'bo', 'live') });
    expect(chat.rooms.room('r1')).toBeUndefined();
    d.resolve([room('r1', msg(6, 9, 'r1', 'bo', 'old'))]);
    await chat.idle();
    expect(chat.rooms.room('r1')!.last_message!.body).toBe('live');
    expect(chat.rooms.room('r1')!.unread).toBe(1);
  });

  it('on reset drops caches, reloads over REST, and keeps + resends pending messages', async () => {
    let n = 0;
    const rooms = vi.fn(async () => (++n === 1 ? [room('r1'), room('r2')] : [room('r1')]));
    const { api } = fakeApi({ rooms: rooms as unknown as Api['rooms'] });
    const { chat, f } = await boot({ api });
    f.last.open();
    f.last.receive(ready(10));
    await chat.idle();
    chat.setActiveRoom('r1');
    await chat.loadLatest('r1');
    expect(chat.messages.timeline('r1').loaded).toBe(true);
    f.last.serverClose(1006);
    const id = await chat.send('r1', 'survives');
    vi.runOnlyPendingTimers();
    f.last.open();
    f.last.receive({ type: 'reset', epoch: 'E2', seq: 3 });
    await chat.idle();
    expect(rooms).toHaveBeenCalledTimes(2);
    expect(Object.keys(chat.rooms.get().byId)).toEqual(['r1']);
    expect(chat.messages.pendingFor('r1')).toHaveLength(1);
    f.last.receive(ready(3, 'E2'));
    await chat.idle();
    expect(f.last.sentOfType('send').map((s) => s.client_msg_id)).toContain(id);
  });

  it('a reload keeps the pending message (IndexedDB) and resends it with the same id', async () => {
    const idb = new IDBFactory();
    const first = await boot({ outbox: await openIdbOutbox(idb, 'reload') });
    const id = await first.chat.send('r1', 'across reloads');
    first.chat.sessionExpired(); // tear the first "page" down without acking
    const second = await boot({ outbox: await openIdbOutbox(idb, 'reload') });
    expect(second.chat.messages.pendingFor('r1')).toMatchObject([{ client_msg_id: id, body: 'across reloads' }]);
    second.f.last.open();
    second.f.last.receive(ready(1));
    await second.chat.idle();
    expect(second.f.last.sentOfType('send')).toEqual([
      { type: 'send', room: 'r1', client_msg_id: id, body: 'across reloads' },
    ]);
  });

  it('retries RATE_LIMITED sends with the same id and fails permanently rejected ones', async () => {
    const { chat, f, outbox } = await boot();
    f.last.open();
    f.last.receive(ready(1));
    await chat.idle();
    const a = await chat.send('r1', 'a');
    const b = await chat.send('r1', 'b');
    f.last.receive({ type: 'error', code: 'RATE_LIMITED', message: 'slow', ref: a });
    f.last.receive({ type: 'error', code: 'NOT_FOUND', message: 'no room', ref: b });
    expect(chat.messages.findPending(b!)).toMatchObject({ state: 'failed' });
    await vi.waitFor(async () => expect((await outbox.list('ana')).map((e) => e.client_msg_id)).toEqual([a]));
    vi.advanceTimersByTime(2000);
    expect(f.last.sentOfType('send').filter((s) => s.client_msg_id === a)).toHaveLength(2);
  });

  it('sends read only when the cursor moves forward, and clears unread', async () => {
    const { chat, f } = await boot();
    f.last.open();
    f.last.receive(ready(1));
    await chat.idle();
    f.last.receive({ type: 'message', ...msg(4, 2, 'r1', 'bo', 'x') });
    expect(chat.rooms.room('r1')!.unread).toBe(1);
    chat.markRead('r1', 4);
    chat.markRead('r1', 4);
    chat.markRead('r1', 3);
    expect(f.last.sentOfType('read')).toEqual([{ type: 'read', room: 'r1', up_to: 4 }]);
    expect(chat.rooms.room('r1')!.unread).toBe(0);
  });

  it('sending a message marks the room read up to it on the server, not only locally (issue 15)', async () => {
    const { chat, f } = await boot();
    f.last.open();
    f.last.receive(ready(1));
    await chat.idle();
    f.last.receive({ type: 'message', ...msg(4, 2, 'r1', 'bo', 'unseen') });
    expect(chat.rooms.room('r1')!.unread).toBe(1);
    const id = await chat.send('r1', 'reply');
    f.last.receive({
      type: 'ack',
      client_msg_id: id!,
      id: 5,
      seq: 3,
      room: 'r1',
      created_at: '2026-11-25T10:00:00.000Z',
    });
    f.last.receive({ type: 'message', ...msg(5, 3, 'r1', 'ana', 'reply', id!) });
    expect(f.last.sentOfType('read')).toEqual([{ type: 'read', room: 'r1', up_to: 5 }]);
    expect(chat.rooms.room('r1')!.unread).toBe(0);
  });

  it('throttles typing to one active:true per 3 s and sends active:false once', async () => {
    const { chat, f } = await boot();
    f.last.open();
    f.last.receive(ready(1));
    await chat.idle();
    chat.setTyping('r1', true, 1000);
    chat.setTyping('r1', true, 2000);
    chat.setTyping('r1', true, 4100);
    chat.setTyping('r1', false);
    chat.setTyping('r1', false);
    expect(f.last.sentOfType('typing')).toEqual([
      { type: 'typing', room: 'r1', active: true },
      { type: 'typing', room: 'r1', active: true },
      { type: 'typing', room: 'r1', active: false },
    ]);
  });

  it('remote typing clears itself after 6 s; own typing events are ignored', async () => {
    const { chat, f } = await boot();
    f.last.open();
    f.last.receive(ready(1));
    await chat.idle();
    f.last.receive([
      { type: 'typing', room: 'r1', user: 'bo', active: true },
      { type: 'typing', room: 'r1', user: 'ana', active: true },
    ]);
    expect(chat.typing.get().r1).toEqual(['bo']);
    vi.advanceTimersByTime(6000);
    expect(chat.typing.get().r1).toEqual([]);
  });

  it('shows a room live when we are added, and drops it when removed', async () => {
    const { chat, f } = await boot();
    f.last.open();
    f.last.receive(ready(1));
    await chat.idle();
    f.last.receive({
      type: 'member_added',
      seq: 2,
      room: 'r9',
      username: 'ana',
      role: 'member',
      name: 'Ana',
      room_name: 'Nine',
      kind: 'group',
    });
    await vi.waitFor(() => expect(chat.rooms.room('r9')).toBeDefined());
    chat.setActiveRoom('r9');
    f.last.receive({ type: 'member_removed', seq: 3, room: 'r9', username: 'ana' });
    expect(chat.rooms.room('r9')).toBeUndefined();
    expect(chat.ui.get().activeRoom).toBeNull();
  });

  it('applies member_updated (role change / ownership transfer, a server extension)', async () => {
    const { chat, f } = await boot();
    f.last.open();
    f.last.receive(ready(1));
    await chat.idle();
    f.last.receive([
      { type: 'member_updated', seq: 2, room: 'r1', username: 'ana', role: 'admin' },
      { type: 'member_updated', seq: 3, room: 'r1', username: 'bo', role: 'owner' },
    ]);
    expect(chat.rooms.room('r1')!.members.map((m) => [m.username, m.role])).toEqual([
      ['ana', 'admin'],
      ['bo', 'owner'],
    ]);
  });

  it('close 4001 signs the user out when the cookie no longer works', async () => {
    const { api } = fakeApi();
    const { chat, f } = await boot({ api });
    f.last.open();
    f.last.receive(ready(1));
    await chat.idle();
    (api.me as ReturnType<typeof vi.fn>).mockRejectedValueOnce(new ApiError(401, 'UNAUTHENTICATED', 'no'));
    f.last.serverClose(4001);
    await chat.idle();
    expect(chat.session.get().status).toBe('anonymous');
    expect(chat.session.get().notice).toMatch(/session has ended/);
    expect(f.sockets).toHaveLength(1);
  });

  it('close 4001 with a still-valid cookie (refreshed) resumes the socket from its cursor', async () => {
    const { chat, f } = await boot();
    f.last.open();
    f.last.receive(ready(5));
    await chat.idle();
    f.last.serverClose(4001);
    await chat.idle();
    expect(chat.session.get().status).toBe('authenticated');
    expect(f.sockets).toHaveLength(2);
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello', since: 5, epoch: 'E1' });
  });
});
