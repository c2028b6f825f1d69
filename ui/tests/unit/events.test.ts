import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { applyEvent, eventHandlers, type EventContext } from '../../src/app/events';
import { MessagesStore } from '../../src/store/messages';
import { PresenceStore } from '../../src/store/presence';
import { RoomsStore } from '../../src/store/rooms';
import { TypingStore } from '../../src/store/typing';
import { UiStore } from '../../src/store/ui';
import type { Message, ServerEvent } from '../../src/wire/types';
import { msg, room } from './fakes';

function setup() {
  const rooms = new RoomsStore();
  const messages = new MessagesStore();
  const sending = {
    acked: vi.fn<EventContext['sending']['acked']>(() => null),
    delivered: vi.fn(),
    rejected: vi.fn<EventContext['sending']['rejected']>(() => false),
  };
  const loader = { fetchRoom: vi.fn(async () => null), leftRoom: vi.fn() };
  const sessionExpired = vi.fn();
  const c: EventContext = {
    me: () => 'ana',
    rooms,
    messages,
    typing: new TypingStore(),
    presence: new PresenceStore(),
    ui: new UiStore(),
    loader,
    sending,
    reads: { markRead: vi.fn() },
    sessionExpired,
  };
  rooms.upsert(room('r1'));
  messages.setLatestPage('r1', [], false);
  const apply = (ev: ServerEvent) => applyEvent(eventHandlers, ev, c);
  return { c, rooms, messages, sending, loader, sessionExpired, apply };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => vi.useRealTimers());

describe('event table', () => {
  it('has a handler for every server event type', () => {
    expect(Object.keys(eventHandlers).sort()).toEqual(
      [
        'ack',
        'error',
        'member_added',
        'member_removed',
        'member_updated',
        'message',
        'message_deleted',
        'message_updated',
        'pong',
        'presence',
        'reaction',
        'read',
        'ready',
        'reset',
        'room_deleted',
        'room_updated',
        'typing',
      ].sort(),
    );
  });

  it('ready, reset and pong change nothing here (the socket client and Sync own them)', () => {
    const { c, apply } = setup();
    const before = [c.rooms.get(), c.messages.get(), c.presence.get(), c.ui.get()];
    apply({
      type: 'ready',
      epoch: 'E',
      seq: 1,
      user: { username: 'ana', name: 'A', online: true, last_seen: null },
      online: ['bo'],
    });
    apply({ type: 'reset', epoch: 'E', seq: 1 });
    apply({ type: 'pong' });
    expect([c.rooms.get(), c.messages.get(), c.presence.get(), c.ui.get()]).toEqual(before);
  });
});

describe('ack', () => {
  const ack = {
    type: 'ack',
    client_msg_id: 'c1',
    id: 7,
    seq: 9,
    room: 'r1',
    created_at: '2026-11-25T10:00:00.000Z',
  } as const;

  it('puts the confirmed message in the timeline and the room preview', () => {
    const { sending, apply, messages, rooms } = setup();
    const confirmed: Message = {
      id: 7,
      seq: 9,
      room: 'r1',
      sender: 'ana',
      body: 'hi',
      client_msg_id: 'c1',
      created_at: ack.created_at,
      edited_at: null,
      deleted: false,
      reply_to: null,
      mentions: [],
      reactions: [],
      attachments: [],
    };
    sending.acked.mockReturnValueOnce(confirmed);
    apply(ack);
    expect(sending.acked).toHaveBeenCalledWith(ack);
    expect(messages.timeline('r1').messages).toEqual([confirmed]);
    expect(rooms.room('r1')!.last_message).toEqual(confirmed);
  });

  it('an ack for nothing pending here changes no store', () => {
    const { apply, messages, rooms } = setup();
    const before = [messages.get(), rooms.get()];
    apply(ack);
    expect([messages.get(), rooms.get()]).toEqual(before);
  });
});

describe('message', () => {
  it('adds the message, counts it unread, clears the sender’s typing and announces it', () => {
    const { c, apply, messages, rooms } = setup();
    c.typing.set_('r1', 'bo', true);
    apply({ type: 'message', ...msg(4, 4, 'r1', 'bo', 'hello there') });
    expect(messages.timeline('r1').messages.map((m) => m.id)).toEqual([4]);
    expect(rooms.room('r1')!.unread).toBe(1);
    expect(c.typing.get().r1).toEqual([]);
    expect(c.ui.get().announcement).toBe('Bo in Room r1: hello there');
  });

  it('our own echo settles the outbox entry and is not announced', () => {
    const { c, apply, sending } = setup();
    apply({ type: 'message', ...msg(4, 4, 'r1', 'ana', 'mine', 'c1') });
    expect(sending.delivered).toHaveBeenCalledWith('c1');
    expect(c.ui.get().announcement).toBe('');
  });

  it('a message in a room we do not know yet fetches the room; DMs are announced without a room name', () => {
    const { c, apply, loader, rooms } = setup();
    apply({ type: 'message', ...msg(1, 5, 'r2', 'bo', 'psst') });
    expect(loader.fetchRoom).toHaveBeenCalledWith('r2');
    expect(c.ui.get().announcement).toBe('bo: psst');
    rooms.upsert(room('d1', { kind: 'dm', name: '' }));
    apply({ type: 'message', ...msg(2, 6, 'd1', 'bo', 'x'.repeat(300)) });
    expect(c.ui.get().announcement).toBe(`Bo: ${'x'.repeat(200)}`);
  });
});

describe('read', () => {
  it('moves the reader’s cursor; our own cursor recomputes unread from the timeline', () => {
    const { apply, rooms, messages } = setup();
    for (const m of [msg(1, 1, 'r1', 'bo', 'a'), msg(2, 2, 'r1', 'bo', 'b'), msg(3, 3, 'r1', 'bo', 'c')]) {
      messages.addLive(m);
      rooms.onMessage(m, 'ana');
    }
    expect(rooms.room('r1')!.unread).toBe(3);
    apply({ type: 'read', seq: 4, room: 'r1', user: 'bo', up_to: 3 });
    expect(rooms.room('r1')!.members.find((m) => m.username === 'bo')!.read_up_to).toBe(3);
    apply({ type: 'read', seq: 5, room: 'r1', user: 'ana', up_to: 1 });
    expect(rooms.room('r1')!.unread).toBe(2);
  });
});

/** A member_added event as the server sends it. */
const added = (seq: number, room: string, username: string, role: 'admin' | 'member') =>
  ({
    type: 'member_added',
    seq,
    room,
    username,
    role,
    name: username.toUpperCase(),
    room_name: room,
    kind: 'group',
  }) as const;

describe('member_added', () => {
  it('someone else in a room we know: shown at once, then fetched for the display name', () => {
    const { apply, rooms, loader } = setup();
    apply(added(2, 'r1', 'cy', 'admin'));
    expect(rooms.room('r1')!.members.find((m) => m.username === 'cy')).toEqual({
      username: 'cy',
      name: 'cy',
      role: 'admin',
      read_up_to: 0,
    });
    expect(loader.fetchRoom).toHaveBeenCalledWith('r1');
  });

  it('us, or a room we do not know: only fetched', () => {
    const { apply, rooms, loader } = setup();
    const before = rooms.get();
    apply(added(2, 'r1', 'ana', 'admin'));
    apply(added(3, 'r8', 'cy', 'member'));
    expect(rooms.get()).toBe(before);
    expect(loader.fetchRoom.mock.calls).toEqual([['r1'], ['r8']]);
  });
});

describe('member_removed', () => {
  it('someone else is removed from the member list; we leave the room', () => {
    const { apply, rooms, loader } = setup();
    apply({ type: 'member_removed', seq: 2, room: 'r1', username: 'bo' });
    expect(rooms.room('r1')!.members.map((m) => m.username)).toEqual(['ana']);
    expect(loader.leftRoom).not.toHaveBeenCalled();
    apply({ type: 'member_removed', seq: 3, room: 'r1', username: 'ana' });
    expect(loader.leftRoom).toHaveBeenCalledWith('r1', 'removed');
  });
});

describe('member_updated', () => {
  it('a known member gets the new role; an unknown one makes us fetch the room', () => {
    const { apply, rooms, loader } = setup();
    apply({ type: 'member_updated', seq: 2, room: 'r1', username: 'bo', role: 'owner' });
    expect(rooms.room('r1')!.members.find((m) => m.username === 'bo')!.role).toBe('owner');
    expect(loader.fetchRoom).not.toHaveBeenCalled();
    apply({ type: 'member_updated', seq: 3, room: 'r1', username: 'cy', role: 'admin' });
    expect(loader.fetchRoom).toHaveBeenCalledWith('r1');
  });
});

describe('room_updated', () => {
  /** A room_updated event as the server sends it (a rename: id, kind, name, created_at; no members). */
  const updated = (seq: number, id: string, name: string) =>
    ({ type: 'room_updated', seq, room: id, id, kind: 'group', name, created_at: '2026-11-20T00:00:00.000Z' }) as const;

  it('renames a known room and keeps its members (they change by member events)', () => {
    const { apply, rooms, loader } = setup();
    apply(updated(2, 'r1', 'Renamed'));
    expect(rooms.room('r1')).toMatchObject({ name: 'Renamed', members: room('r1').members });
    expect(loader.fetchRoom).not.toHaveBeenCalled();
  });

  it('an update for an unknown room fetches it', () => {
    const { apply, loader } = setup();
    apply(updated(2, 'r7', 'N'));
    expect(loader.fetchRoom).toHaveBeenCalledWith('r7');
  });
});

describe('room_deleted', () => {
  it('forgets the room as deleted', () => {
    const { apply, loader } = setup();
    apply({ type: 'room_deleted', seq: 2, room: 'r1' });
    expect(loader.leftRoom).toHaveBeenCalledWith('r1', 'deleted');
  });
});

describe('typing', () => {
  it('shows others typing and ignores our own', () => {
    const { c, apply } = setup();
    apply({ type: 'typing', room: 'r1', user: 'bo', active: true });
    apply({ type: 'typing', room: 'r1', user: 'ana', active: true });
    expect(c.typing.get().r1).toEqual(['bo']);
    apply({ type: 'typing', room: 'r1', user: 'bo', active: false });
    expect(c.typing.get().r1).toEqual([]);
  });
});

describe('presence', () => {
  it('updates online state and last seen', () => {
    const { c, apply } = setup();
    apply({ type: 'presence', user: 'bo', online: false, last_seen: '2026-11-25T10:00:00.000Z' });
    expect(c.presence.get().bo).toEqual({ online: false, last_seen: '2026-11-25T10:00:00.000Z' });
  });
});

describe('error', () => {
  it('an error about one of our pending messages is the sending module’s', () => {
    const { c, apply, sending, sessionExpired } = setup();
    sending.rejected.mockReturnValueOnce(true);
    const ev = { type: 'error', code: 'UNAUTHENTICATED', message: 'x', ref: 'c1' } as const;
    apply(ev);
    expect(sending.rejected).toHaveBeenCalledWith(ev);
    expect(sessionExpired).not.toHaveBeenCalled();
    expect(c.ui.get().notice).toBeNull();
  });

  it('UNAUTHENTICATED ends the session', () => {
    const { apply, sessionExpired } = setup();
    apply({ type: 'error', code: 'UNAUTHENTICATED', message: 'expired', ref: null });
    expect(sessionExpired).toHaveBeenCalledTimes(1);
  });

  it('a refused read or typing frame is dropped quietly; anything else becomes an error notice', () => {
    const { c, apply } = setup();
    apply({ type: 'error', code: 'RATE_LIMITED', message: 'slow', ref: 'read' });
    apply({ type: 'error', code: 'RATE_LIMITED', message: 'slow', ref: 'typing' });
    expect(c.ui.get().notice).toBeNull();
    apply({ type: 'error', code: 'INVALID_INPUT', message: '', ref: null });
    expect(c.ui.get().notice).toMatchObject({ text: 'INVALID_INPUT', kind: 'error' });
    apply({ type: 'error', code: 'INVALID_INPUT', message: 'bad frame', ref: null });
    expect(c.ui.get().notice!.text).toBe('bad frame');
  });
});
