import { describe, expect, it } from 'vitest';
import { parse, parseServerEvent, parseServerFrame } from '../../src/wire/schema';
import { msg, ready } from './fakes';

describe('parseServerFrame', () => {
  it('accepts a single event object', () => {
    const { events, errors } = parseServerFrame(JSON.stringify({ type: 'pong' }));
    expect(errors).toEqual([]);
    expect(events).toEqual([{ type: 'pong' }]);
  });

  it('accepts a JSON array of events, preserving order', () => {
    const frame = [
      ready(5),
      { type: 'message', ...msg(1, 6, 'r1', 'bo', 'hi') },
      { type: 'typing', room: 'r1', user: 'bo', active: true },
    ];
    const { events, errors } = parseServerFrame(JSON.stringify(frame));
    expect(errors).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['ready', 'message', 'typing']);
  });

  it('skips unknown event types (the server may add some) but keeps the rest', () => {
    const { events, errors } = parseServerFrame(JSON.stringify([{ type: 'future_thing', x: 1 }, { type: 'pong' }]));
    expect(errors).toEqual([]);
    expect(events).toEqual([{ type: 'pong' }]);
  });

  it('reports malformed known events instead of passing them on', () => {
    const bad = { type: 'message', id: 'seven', seq: 1, room: 'r', sender: 'a', body: 'x', created_at: 't' };
    const { events, errors } = parseServerFrame(JSON.stringify([bad, { type: 'pong' }]));
    expect(events).toEqual([{ type: 'pong' }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/id/);
  });

  it('reports invalid JSON', () => {
    expect(parseServerFrame('{nope').errors).toEqual(['frame: invalid JSON']);
  });

  it('rejects non-integer or non-positive seq on durable events', () => {
    expect(() => parseServerEvent({ type: 'read', seq: 0, room: 'r', user: 'a', up_to: 3 })).toThrow();
    expect(() => parseServerEvent({ type: 'read', seq: 1.5, room: 'r', user: 'a', up_to: 3 })).toThrow();
    expect(parseServerEvent({ type: 'read', seq: 2, room: 'r', user: 'a', up_to: 3 })).toEqual({
      type: 'read',
      seq: 2,
      room: 'r',
      user: 'a',
      up_to: 3,
    });
  });

  it('drops extra fields the server adds', () => {
    const ev = parseServerEvent({
      type: 'presence',
      user: 'bo',
      online: false,
      last_seen: '2026-11-25T10:00:00.000Z',
      extra: 1,
    });
    expect(ev).toEqual({ type: 'presence', user: 'bo', online: false, last_seen: '2026-11-25T10:00:00.000Z' });
  });

  it('parses every server event type of the contract', () => {
    const samples = [
      ready(1),
      { type: 'ack', client_msg_id: 'c1', id: 3, seq: 9, room: 'r', created_at: 't' },
      { type: 'message', ...msg(3, 9, 'r', 'ana', 'x', 'c1') },
      { type: 'read', seq: 10, room: 'r', user: 'bo', up_to: 3 },
      {
        type: 'member_added',
        seq: 11,
        room: 'r',
        username: 'cy',
        role: 'admin',
        name: 'Cy',
        room_name: 'R',
        kind: 'group',
      },
      { type: 'member_removed', seq: 12, room: 'r', username: 'cy' },
      { type: 'member_updated', seq: 12, room: 'r', username: 'bo', role: 'owner' }, // server extension
      { type: 'room_updated', seq: 13, room: 'r', id: 'r', kind: 'group', name: 'New', created_at: 't', members: [] }, // members: an extra, dropped
      { type: 'room_deleted', seq: 14, room: 'r' },
      { type: 'typing', room: 'r', user: 'bo', active: false },
      { type: 'presence', user: 'bo', online: true, last_seen: null },
      { type: 'reset', epoch: 'E2', seq: 40 },
      { type: 'error', code: 'RATE_LIMITED', message: 'slow down', ref: 'c2' },
      { type: 'pong' },
    ];
    const { events, errors } = parseServerFrame(JSON.stringify(samples));
    expect(errors).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(samples.map((s) => s.type));
    const added = events[4];
    expect(added).toMatchObject({ role: 'admin' });
  });
});

describe("parse('Room')", () => {
  it('validates members and last message', () => {
    const r = parse('Room', {
      id: 'r1',
      kind: 'dm',
      name: '',
      created_at: 't',
      unread: 2,
      mentions: 1,
      members: [{ username: 'ana', name: 'Ana', role: 'member', read_up_to: 4 }],
      last_message: msg(4, 8, 'r1', 'ana', 'yo'),
    });
    expect(r.members[0]!.read_up_to).toBe(4);
    expect(r.last_message?.id).toBe(4);
    const ok = {
      id: 'r1',
      kind: 'group',
      name: 'R',
      unread: 0,
      mentions: 0,
      last_message: null,
      members: [],
      created_at: 't',
    };
    expect(() => parse('Room', { ...ok, kind: 'channel' })).toThrow(/kind/);
    const member = { username: 'a', name: 'A', role: 'king', read_up_to: 0 };
    expect(() => parse('Room', { ...ok, members: [member] })).toThrow(/role/);
  });
});
