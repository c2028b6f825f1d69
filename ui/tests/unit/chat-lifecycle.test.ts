/** Sign-ins that end while the live part is still starting must leave nothing running. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Chat, type Api } from '../../src/app/chat';
import { memoryOutbox, type Outbox, type OutboxEntry } from '../../src/net/outbox';
import { deferred, room, socketFactory, user } from './fakes';

function fakeApi(): Api {
  return {
    me: vi.fn(async () => user('ana', 'Ana')),
    rooms: vi.fn(async () => [room('r1')]),
    logout: vi.fn(async () => {}),
  } as unknown as Api;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
});
afterEach(() => vi.useRealTimers());

describe('Chat: a sign-in that ends while starting', () => {
  it('a logout while the outbox is being read starts no socket', async () => {
    const f = socketFactory();
    const listing = deferred<OutboxEntry[]>();
    const outbox: Outbox = { ...memoryOutbox(), list: () => listing.promise };
    const chat = new Chat({
      api: fakeApi(),
      createSocket: f.create,
      openOutbox: async () => outbox,
      wsUrl: () => 'ws://test/ws',
      addWindowListeners: false,
    });
    const booting = chat.boot();
    await vi.waitFor(() => expect(chat.session.get().status).toBe('authenticated'));
    await chat.logout();
    listing.resolve([]);
    await booting;
    vi.runOnlyPendingTimers();
    expect(f.sockets).toHaveLength(0);
    expect(chat.connection.get().state).toBe('idle');
  });

  it('an outbox that finishes opening after the sign-in ended is closed, not kept', async () => {
    const opening = deferred<Outbox>();
    const late = { ...memoryOutbox(), close: vi.fn() };
    const chat = new Chat({
      api: fakeApi(),
      createSocket: socketFactory().create,
      openOutbox: () => opening.promise,
      wsUrl: () => 'ws://test/ws',
      addWindowListeners: false,
    });
    const booting = chat.boot();
    await vi.waitFor(() => expect(chat.session.get().status).toBe('authenticated'));
    await chat.logout();
    opening.resolve(late);
    await booting;
    expect(late.close).toHaveBeenCalledTimes(1);
  });
});
