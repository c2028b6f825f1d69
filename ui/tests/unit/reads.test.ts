import { describe, expect, it, vi } from 'vitest';
import type { Api } from '../../src/api/http';
import { Reads, unreadAfter } from '../../src/app/reads';
import { MessagesStore } from '../../src/store/messages';
import { RoomsStore } from '../../src/store/rooms';
import { deferred, FakeSender, msg, room } from './fakes';

function setup(me: string | null = 'ana') {
  const link = new FakeSender();
  const rooms = new RoomsStore();
  const messages = new MessagesStore();
  const markRead = vi.fn<Api['markRead']>(async () => {});
  const reads = new Reads({ api: { markRead }, link, rooms, messages, me: () => me });
  rooms.upsert(room('r1'));
  messages.setLatestPage(
    'r1',
    [msg(3, 3, 'r1', 'bo', 'a'), msg(4, 4, 'r1', 'ana', 'b'), msg(5, 5, 'r1', 'bo', 'c')],
    false,
  );
  rooms.onMessage(msg(3, 3, 'r1', 'bo', 'a'), 'ana');
  rooms.onMessage(msg(5, 5, 'r1', 'bo', 'c'), 'ana');
  return { link, rooms, messages, markRead, reads };
}

describe('unreadAfter', () => {
  it('counts loaded messages from others after the cursor', () => {
    const { messages } = setup();
    expect(unreadAfter(messages, 'r1', 0, 'ana')).toBe(2);
    expect(unreadAfter(messages, 'r1', 3, 'ana')).toBe(1);
    expect(unreadAfter(messages, 'r1', 5, 'ana')).toBe(0);
    expect(unreadAfter(messages, 'nowhere', 0, 'ana')).toBe(0);
  });
});

describe('Reads (our read cursor)', () => {
  it('moves forward only, updates unread at once, and sends read over the socket', () => {
    const { link, rooms, reads, markRead } = setup();
    expect(rooms.room('r1')!.unread).toBe(2);
    reads.markRead('r1', 3);
    expect(rooms.room('r1')!.unread).toBe(1);
    reads.markRead('r1', 3);
    reads.markRead('r1', 2);
    reads.markRead('r1', 5);
    expect(link.ofType('read')).toEqual([
      { type: 'read', room: 'r1', up_to: 3 },
      { type: 'read', room: 'r1', up_to: 5 },
    ]);
    expect(rooms.room('r1')!.unread).toBe(0);
    expect(markRead).not.toHaveBeenCalled();
  });

  it('ignores unknown rooms, non-positive ids and a signed-out user', () => {
    const a = setup();
    a.reads.markRead('nowhere', 3);
    a.reads.markRead('r1', 0);
    const b = setup(null);
    b.reads.markRead('r1', 3);
    expect([...a.link.frames, ...b.link.frames]).toEqual([]);
  });

  it('falls back to REST when the socket is down, and forgets a failed REST mark so it is tried again', async () => {
    const { link, rooms, reads, markRead } = setup();
    link.open = false;
    const first = deferred<void>();
    markRead.mockImplementationOnce(() => first.promise);
    reads.markRead('r1', 3);
    expect(markRead).toHaveBeenLastCalledWith('r1', 3);
    first.reject(new Error('offline'));
    await first.promise.catch(() => {});
    await Promise.resolve();
    // The next snapshot brings the server's cursor (still 0) back.
    rooms.replaceAll([room('r1')]);
    reads.markRead('r1', 3);
    expect(markRead).toHaveBeenCalledTimes(2);
  });

  it('a mark that went out is not repeated when a snapshot brings back an older cursor', () => {
    const { link, rooms, reads } = setup();
    reads.markRead('r1', 3);
    rooms.replaceAll([room('r1')]);
    reads.markRead('r1', 3);
    expect(link.ofType('read')).toHaveLength(1);
  });

  it('an already-covered mark still clears a stale unread count when our cursor covers the last message', () => {
    const { rooms, reads, link } = setup();
    rooms.onRead('r1', 'ana', 5, 'ana'); // cursor moved (e.g. from another tab)
    rooms.upsert({ ...rooms.room('r1')!, unread: 1 });
    reads.markRead('r1', 5);
    expect(rooms.room('r1')!.unread).toBe(0);
    expect(link.frames).toEqual([]);
  });

  it('reset forgets what was sent, so the same mark goes out again', () => {
    const { link, rooms, reads } = setup();
    reads.markRead('r1', 3);
    reads.reset();
    rooms.replaceAll([room('r1')]); // the resync after a reset
    reads.markRead('r1', 3);
    expect(link.ofType('read')).toHaveLength(2);
  });
});
