import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mergeMessages, MessagesStore } from '../../src/store/messages';
import { can, readersOf, RoomsStore, sortRooms } from '../../src/store/rooms';
import { TYPING_TTL_MS, TypingStore, typingText } from '../../src/store/typing';
import { PresenceStore } from '../../src/store/presence';
import type { Message, Room } from '../../src/wire/types';
import { msg } from './fakes';

const m = (id: number, sender = 'bo', cid?: string): Message => msg(id, id + 100, 'r1', sender, `m${id}`, cid);

function room(id: string, over: Partial<Room> = {}): Room {
  return {
    id,
    kind: 'group',
    name: id,
    unread: 0,
    mentions: 0,
    created_at: '2026-11-20T00:00:00.000Z',
    last_message: null,
    members: [
      { username: 'ana', name: 'Ana', role: 'owner', read_up_to: 0 },
      { username: 'bo', name: 'Bo', role: 'admin', read_up_to: 0 },
      { username: 'cy', name: 'Cy', role: 'member', read_up_to: 0 },
    ],
    ...over,
  };
}

describe('mergeMessages', () => {
  it('sorts by id and drops duplicate ids', () => {
    const out = mergeMessages([m(1), m(3)], [m(2), m(3), m(1)]);
    expect(out.map((x) => x.id)).toEqual([1, 2, 3]);
  });
  it('drops a second message with the same sender and client_msg_id', () => {
    const out = mergeMessages([m(1, 'ana', 'c1')], [m(7, 'ana', 'c1'), m(8, 'bo', 'c1')]);
    expect(out.map((x) => x.id)).toEqual([1, 8]);
  });
  it('returns the same array when nothing is new (no re-render)', () => {
    const a = [m(1)];
    expect(mergeMessages(a, [m(1)])).toBe(a);
  });
});

describe('MessagesStore', () => {
  it('shows a pending message once, whichever of ack / message event / page comes first', () => {
    for (const order of [
      ['ack', 'event', 'page'],
      ['event', 'ack', 'page'],
      ['page', 'event', 'ack'],
    ]) {
      const s = new MessagesStore();
      s.setLatestPage('r1', [m(1)], false);
      s.addPending({
        client_msg_id: 'c9',
        room: 'r1',
        sender: 'ana',
        body: 'hello',
        created_at: 'x',
        state: 'pending',
      });
      expect(s.pendingFor('r1')).toHaveLength(1);
      const confirmed = { ...m(2, 'ana', 'c9'), body: 'hello' };
      for (const step of order) {
        if (step === 'page') s.setLatestPage('r1', [m(1), confirmed], false);
        else s.addLive(confirmed);
      }
      expect(s.pendingFor('r1')).toEqual([]);
      expect(s.timeline('r1').messages.map((x) => x.id)).toEqual([1, 2]);
    }
  });

  it('does not re-add a pending message that is already confirmed', () => {
    const s = new MessagesStore();
    s.setLatestPage('r1', [m(5, 'ana', 'c5')], false);
    s.addPending({ client_msg_id: 'c5', room: 'r1', sender: 'ana', body: 'm5', created_at: 'x', state: 'pending' });
    expect(s.pendingFor('r1')).toEqual([]);
  });

  it('ignores live messages for a room whose newest page is not loaded', () => {
    const s = new MessagesStore();
    s.addLive(m(3));
    expect(s.timeline('r1').loaded).toBe(false);
    expect(s.timeline('r1').messages).toEqual([]);
  });

  it('prepends older pages and keeps live messages received while the first page was in flight', () => {
    const s = new MessagesStore();
    s.setLatestPage('r1', [m(10), m(11)], true);
    s.addLive(m(12));
    s.setLatestPage('r1', [m(10), m(11)], true); // a refetch must not drop 12
    s.prependPage('r1', [m(8), m(9)], false);
    const t = s.timeline('r1');
    expect(t.messages.map((x) => x.id)).toEqual([8, 9, 10, 11, 12]);
    expect(t.hasMore).toBe(false);
  });

  it('marks failures and retries', () => {
    const s = new MessagesStore();
    s.addPending({ client_msg_id: 'c1', room: 'r1', sender: 'ana', body: 'x', created_at: 'x', state: 'pending' });
    s.failPending('c1', 'nope');
    expect(s.pendingFor('r1')[0]).toMatchObject({ state: 'failed', error: 'nope' });
    s.retryPending('c1');
    expect(s.pendingFor('r1')[0]!.state).toBe('pending');
    expect(s.pendingFor('r1')[0]!.error).toBeUndefined();
  });

  it('clearTimelines (reset) keeps pending messages', () => {
    const s = new MessagesStore();
    s.setLatestPage('r1', [m(1)], false);
    s.addPending({ client_msg_id: 'c1', room: 'r1', sender: 'ana', body: 'x', created_at: 'x', state: 'pending' });
    s.clearTimelines();
    expect(s.timeline('r1').loaded).toBe(false);
    expect(s.pendingFor('r1')).toHaveLength(1);
  });
});

describe('RoomsStore', () => {
  it('orders rooms by latest activity', () => {
    const a = room('a', { last_message: { ...m(1), created_at: '2026-11-25T09:00:00.000Z' } });
    const b = room('b', { created_at: '2026-11-25T10:00:00.000Z' });
    const c = room('c', { last_message: { ...m(2), created_at: '2026-11-24T09:00:00.000Z' } });
    expect(sortRooms([a, b, c]).map((r) => r.id)).toEqual(['b', 'a', 'c']);
  });

  it('counts unread messages from others; own messages clear it and move our cursor', () => {
    const s = new RoomsStore();
    s.replaceAll([room('r1')]);
    s.onMessage(m(1, 'bo'), 'ana');
    s.onMessage(m(2, 'cy'), 'ana');
    s.onMessage(m(2, 'cy'), 'ana'); // duplicate
    expect(s.room('r1')!.unread).toBe(2);
    expect(s.room('r1')!.last_message!.id).toBe(2);
    s.onMessage(m(3, 'ana'), 'ana');
    expect(s.room('r1')!.unread).toBe(0);
    expect(s.room('r1')!.members.find((x) => x.username === 'ana')!.read_up_to).toBe(3);
  });

  it('moves read cursors forward only and derives readers', () => {
    const s = new RoomsStore();
    s.replaceAll([room('r1', { last_message: m(5), unread: 3 })]);
    s.onRead('r1', 'bo', 4, 'ana');
    s.onRead('r1', 'bo', 2, 'ana');
    expect(s.room('r1')!.members.find((x) => x.username === 'bo')!.read_up_to).toBe(4);
    expect(readersOf(s.room('r1'), { id: 4, sender: 'ana' }).map((x) => x.username)).toEqual(['bo']);
    expect(readersOf(s.room('r1'), { id: 5, sender: 'ana' })).toEqual([]);
    s.onRead('r1', 'ana', 5, 'ana');
    expect(s.room('r1')!.unread).toBe(0);
  });

  it('upsert does not move cursors back', () => {
    const s = new RoomsStore();
    s.replaceAll([room('r1')]);
    s.onRead('r1', 'bo', 9, 'ana');
    s.upsert(room('r1'));
    expect(s.room('r1')!.members.find((x) => x.username === 'bo')!.read_up_to).toBe(9);
  });

  it('permission rules follow the protocol', () => {
    const r = room('r1');
    const [owner, admin, member] = r.members as [Room['members'][0], Room['members'][0], Room['members'][0]];
    expect(can.rename(r, 'admin')).toBe(true);
    expect(can.rename(r, 'member')).toBe(false);
    expect(can.delete(r, 'owner')).toBe(true);
    expect(can.delete(r, 'admin')).toBe(false);
    expect(can.addMember(r, 'admin')).toBe(true);
    expect(can.addMember(r, 'member')).toBe(false);
    expect(can.removeMember(r, 'admin', member)).toBe(true);
    expect(can.removeMember(r, 'admin', owner)).toBe(false);
    expect(can.changeRole(r, 'owner', admin)).toBe(true);
    expect(can.changeRole(r, 'admin', member)).toBe(false);
    expect(can.leave(r, 'member')).toBe(true);
    expect(can.leave(r, 'owner')).toBe(false);
    const dm = room('d', { kind: 'dm' });
    expect(can.rename(dm, 'owner')).toBe(false);
  });
});

describe('TypingStore', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('expires a typing user after 6 s without news, and refreshes on repeat', () => {
    const s = new TypingStore();
    s.set_('r1', 'bo', true);
    expect(s.get().r1).toEqual(['bo']);
    vi.advanceTimersByTime(TYPING_TTL_MS - 1000);
    s.set_('r1', 'bo', true); // still typing
    vi.advanceTimersByTime(TYPING_TTL_MS - 1);
    expect(s.get().r1).toEqual(['bo']);
    vi.advanceTimersByTime(1);
    expect(s.get().r1).toEqual([]);
  });

  it('clears on active:false and handles several people', () => {
    const s = new TypingStore();
    s.set_('r1', 'bo', true);
    s.set_('r1', 'cy', true);
    expect(s.get().r1).toEqual(['bo', 'cy']);
    s.set_('r1', 'bo', false);
    expect(s.get().r1).toEqual(['cy']);
  });

  it('phrases the indicator', () => {
    expect(typingText(['Ana'])).toBe('Ana is typing…');
    expect(typingText(['Ana', 'Bo'])).toBe('Ana and Bo are typing…');
    expect(typingText(['Ana', 'Bo', 'Cy', 'Di', 'Ed'])).toBe('Ana, Bo and 3 others are typing…');
  });
});

describe('PresenceStore', () => {
  it('ready.online replaces online flags; presence events update last_seen', () => {
    const s = new PresenceStore();
    s.update('bo', true, null);
    s.setOnlineList(['cy']);
    expect(s.get().bo!.online).toBe(false);
    expect(s.get().cy!.online).toBe(true);
    s.update('cy', false, '2026-11-25T10:00:00.000Z');
    expect(s.get().cy).toEqual({ online: false, last_seen: '2026-11-25T10:00:00.000Z' });
  });
});
