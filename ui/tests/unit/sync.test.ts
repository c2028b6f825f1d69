import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type Api } from '../../src/api/http';
import { Lifetime } from '../../src/app/lifetime';
import { REST_FALLBACK_MS, Sync } from '../../src/app/sync';
import { MessagesStore } from '../../src/store/messages';
import { PresenceStore } from '../../src/store/presence';
import { RoomsStore } from '../../src/store/rooms';
import { SessionStore } from '../../src/store/session';
import { TypingStore } from '../../src/store/typing';
import { UiStore } from '../../src/store/ui';
import type { ReadyEvent, Room, ServerEvent } from '../../src/wire/types';
import { deferred, msg, ready, room, user } from './fakes';

function setup() {
  const log: string[] = [];
  const lifetime = new Lifetime();
  lifetime.begin();
  const session = new SessionStore();
  session.signedIn(user('ana'));
  const d = {
    api: { rooms: vi.fn<Api['rooms']>(async () => (log.push('rooms'), [room('r1')])) },
    session,
    rooms: new RoomsStore(),
    messages: new MessagesStore(),
    typing: new TypingStore(),
    presence: new PresenceStore(),
    ui: new UiStore(),
    lifetime,
    loader: { loadLatest: vi.fn(async (id: string) => void log.push(`latest ${id}`)) },
    apply: vi.fn((ev: ServerEvent) => void log.push(`apply ${ev.type}${'seq' in ev ? ` ${ev.seq}` : ''}`)),
    connected: vi.fn(() => void log.push('connected')),
    markSynced: vi.fn(() => void log.push('synced')),
    cursorLost: vi.fn(() => void log.push('cursorLost')),
    flushOutbox: vi.fn(async () => void log.push('flush')),
    sessionExpired: vi.fn(),
  };
  return { d, log, sync: new Sync(d) };
}

const readyEv = (seq = 1) => ready(seq, 'E1', 'ana', ['bo']) as ReadyEvent;
const message = (id: number, seq: number): ServerEvent => ({ type: 'message', ...msg(id, seq, 'r1', 'bo', 'x') });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => vi.useRealTimers());

describe('Sync.onReady', () => {
  it('a fresh ready: who we are, who is online, then the snapshot, synced, and the outbox flush', async () => {
    const { d, log, sync } = setup();
    await sync.onReady(readyEv(), false);
    expect(log).toEqual(['connected', 'rooms', 'synced', 'flush']);
    expect(d.session.get().me!.name).toBe('ANA');
    expect(d.presence.get().bo!.online).toBe(true);
    expect(d.rooms.room('r1')).toBeDefined();
  });

  it('a resumed ready after a snapshot needs no REST; before any snapshot it still loads one', async () => {
    const { log, sync } = setup();
    await sync.onReady(readyEv(), true);
    expect(log).toEqual(['connected', 'rooms', 'synced', 'flush']);
    log.length = 0;
    await sync.onReady(readyEv(2), true);
    expect(log).toEqual(['connected', 'synced', 'flush']);
  });
});

describe('Sync.onReset', () => {
  it('drops typing, read marks and timelines, reloads, then flushes the outbox', async () => {
    const { d, log, sync } = setup();
    d.typing.set_('r1', 'bo', true);
    d.messages.setLatestPage('r1', [msg(1, 1, 'r1', 'bo', 'a')], false);
    await sync.onReset();
    expect(log).toEqual(['cursorLost', 'rooms', 'flush']);
    expect(d.typing.get()).toEqual({});
    expect(d.messages.timeline('r1').loaded).toBe(false);
  });
});

describe('Sync: events during a reload', () => {
  it('durable events wait for the snapshot and are applied after it, in order; others go straight through', async () => {
    const { d, log, sync } = setup();
    const rooms = deferred<Room[]>();
    d.api.rooms.mockImplementationOnce(() => rooms.promise);
    const reload = sync.resync();
    sync.onEvent(message(7, 11));
    sync.onEvent({ type: 'typing', room: 'r1', user: 'bo', active: true });
    sync.onEvent(message(8, 12));
    expect(log).toEqual(['apply typing']);
    rooms.resolve([room('r1')]);
    await reload;
    expect(log).toEqual(['apply typing', 'apply message 11', 'apply message 12']);
    sync.onEvent(message(9, 13));
    expect(log.at(-1)).toBe('apply message 13');
  });

  it('with two reloads in flight, events wait for the last one', async () => {
    const { d, log, sync } = setup();
    const first = deferred<Room[]>();
    const second = deferred<Room[]>();
    d.api.rooms.mockImplementationOnce(() => first.promise).mockImplementationOnce(() => second.promise);
    const a = sync.resync();
    const b = sync.resync();
    sync.onEvent(message(7, 11));
    first.resolve([room('r1')]);
    await a;
    expect(log).toEqual([]);
    second.resolve([room('r1')]);
    await b;
    expect(log).toEqual(['apply message 11']);
  });

  it('a failed reload still releases the buffered events', async () => {
    const { d, log, sync } = setup();
    const rooms = deferred<Room[]>();
    d.api.rooms.mockImplementationOnce(() => rooms.promise);
    const reload = sync.resync();
    sync.onEvent(message(7, 11));
    rooms.reject(new ApiError(503, 'UNAVAILABLE', 'busy'));
    await reload;
    expect(log).toEqual(['apply message 11']);
    expect(d.ui.get().notice).toMatchObject({ kind: 'error' });
  });

  it('a reload that ends after a sign-out writes nothing and applies nothing', async () => {
    const { d, log, sync } = setup();
    const rooms = deferred<Room[]>();
    d.api.rooms.mockImplementationOnce(() => rooms.promise);
    const reload = sync.resync();
    sync.onEvent(message(7, 11));
    d.lifetime.end();
    rooms.resolve([room('r1')]);
    await reload;
    expect(d.rooms.get().byId).toEqual({});
    expect(log).toEqual([]);
  });
});

describe('Sync.resync', () => {
  it('knows every member’s presence (offline until told otherwise) without overriding what it knows', async () => {
    const { d, sync } = setup();
    d.presence.update('bo', true, null);
    await sync.resync();
    expect(d.presence.get()).toEqual({
      ana: { online: false, last_seen: null },
      bo: { online: true, last_seen: null },
    });
  });

  it('reloads the open room’s newest page, or closes it if we are no longer in it', async () => {
    const { d, log, sync } = setup();
    d.ui.setActiveRoom('r1');
    await sync.resync();
    expect(log).toEqual(['rooms', 'latest r1']);
    d.ui.setActiveRoom('gone');
    await sync.resync();
    expect(d.ui.get().activeRoom).toBeNull();
    expect(d.loader.loadLatest).toHaveBeenCalledTimes(1);
  });

  it('a 401 ends the session instead of showing a notice', async () => {
    const { d, sync } = setup();
    d.api.rooms.mockRejectedValueOnce(new ApiError(401, 'UNAUTHENTICATED', 'no'));
    await sync.resync();
    expect(d.sessionExpired).toHaveBeenCalledTimes(1);
    expect(d.ui.get().notice).toBeNull();
  });
});

describe('Sync: REST fallback', () => {
  it('loads rooms over REST when no snapshot came within the fallback time', async () => {
    const { d, sync } = setup();
    sync.start();
    vi.advanceTimersByTime(REST_FALLBACK_MS - 1);
    expect(d.api.rooms).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(d.api.rooms).toHaveBeenCalledTimes(1);
  });

  it('does nothing when a snapshot is already in or a reload is running', async () => {
    const a = setup();
    a.sync.start();
    await a.sync.resync();
    vi.advanceTimersByTime(REST_FALLBACK_MS);
    expect(a.d.api.rooms).toHaveBeenCalledTimes(1);
    const b = setup();
    const rooms = deferred<Room[]>();
    b.d.api.rooms.mockImplementationOnce(() => rooms.promise);
    b.sync.start();
    void b.sync.resync();
    vi.advanceTimersByTime(REST_FALLBACK_MS);
    expect(b.d.api.rooms).toHaveBeenCalledTimes(1);
  });

  it('reset cancels it and forgets the snapshot', async () => {
    const { d, log, sync } = setup();
    await sync.onReady(readyEv(), false);
    sync.start();
    sync.reset();
    vi.advanceTimersByTime(REST_FALLBACK_MS);
    expect(d.api.rooms).toHaveBeenCalledTimes(1);
    log.length = 0;
    await sync.onReady(readyEv(2), true); // resumed, but the snapshot was forgotten
    expect(log).toContain('rooms');
  });
});
